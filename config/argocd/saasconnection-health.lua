-- Argo CD health check for access.elevator.dev/SaaSConnection.
-- Health is the Ready condition the operator's health check of the provider
-- writes (docs/gitops.md). Argo CD runs argocd-cm scripts without the standard
-- libraries: only base functions (type, tonumber, tostring, ipairs) are used
-- here. Any field of obj may be absent or of another type than the CRD says.

local function field(value, key)
  if type(value) ~= "table" then
    return nil
  end
  return value[key]
end

-- text returns value if it is a non-empty string, else fallback.
local function text(value, fallback)
  if type(value) == "string" and value ~= "" then
    return value
  end
  return fallback
end

local function condition(status, conditionType)
  local conditions = field(status, "conditions")
  if type(conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(conditions) do
    if field(c, "type") == conditionType then
      return c
    end
  end
  return nil
end

local function health(status, message)
  return { status = status, message = message }
end

local status = field(obj, "status")
if type(status) ~= "table" then
  return health("Progressing", "waiting for the operator")
end
local generation = tonumber(field(field(obj, "metadata"), "generation"))
local observedGeneration = tonumber(field(status, "observedGeneration")) or 0
if generation ~= nil and observedGeneration < generation then
  return health("Progressing", "waiting for the operator to observe generation " .. tostring(generation))
end
local ready = condition(status, "Ready")
if ready == nil then
  return health("Progressing", "waiting for the first health check")
end
local reason = text(field(ready, "reason"), nil)
local message = text(field(ready, "message"), nil)
if field(ready, "status") == "True" then
  -- Insecure works, with a transport the connection's author allowed
  -- explicitly: healthy, but said first.
  if reason == "Insecure" then
    return health("Healthy", "insecure: " .. (message or "the connection runs with an insecure transport"))
  end
  return health("Healthy", message or "connection ready")
end
if field(ready, "status") == "False" then
  if reason ~= nil and message ~= nil then
    return health("Degraded", reason .. ": " .. message)
  end
  return health("Degraded", reason or message or "Ready is False")
end
return health("Progressing", "health check in progress: Ready is " .. tostring(field(ready, "status")))
