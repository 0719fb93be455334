-- Argo CD health check for access.elevator.dev/ElevationRequest.
-- What each phase means, and why it maps as it does: docs/gitops.md.
-- Argo CD runs argocd-cm scripts without the standard libraries: only base
-- functions (type, tonumber, tostring, ipairs) are used here. Any field of
-- obj may be absent or of another type than the CRD says.

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

-- Pending waits on an approver (Suspended), unless nobody can approve it into
-- access until its connection or role is fixed.
local function pending(status, message)
  local ready = condition(status, "Ready")
  local reason = field(ready, "reason")
  if field(ready, "status") == "False" and (reason == "ConnectionNotFound" or reason == "PolicyViolation") then
    return health("Degraded", text(field(ready, "message"), reason))
  end
  return health("Suspended", text(message, "waiting for approval"))
end

local function approved(status, message)
  if message ~= nil then
    return health("Progressing", "granting: " .. message)
  end
  return health("Progressing", "granting")
end

local function active(status, message)
  local expiresAt = text(field(status, "expiresAt"), nil)
  if expiresAt ~= nil then
    return health("Healthy", "access granted until " .. expiresAt)
  end
  return health("Healthy", text(message, "access granted"))
end

-- A failed attempt that no other request explains means the revocation is
-- failing and being retried: the access may remain. A request retained by
-- another holder has no failed attempt to blame; it waits for that one.
local function revoking(status, message)
  local revocation = field(status, "revocation")
  local attempts = tonumber(field(revocation, "attempts")) or 0
  local retainedBy = text(field(revocation, "retainedBy"), nil)
  if attempts > 0 and retainedBy == nil then
    return health("Degraded", text(message, "revocation failed " .. tostring(attempts) .. " times and is retried"))
  end
  return health("Progressing", text(message, "revoking"))
end

-- Elevator's grant is verified gone, but ResidualAccess=True says the subject
-- still holds the access by another path, possibly one made while elevated.
local function revoked(status, message)
  local residual = condition(status, "ResidualAccess")
  if field(residual, "status") == "True" then
    return health("Degraded", text(field(residual, "message"), "the subject still holds the access by another path"))
  end
  return health("Healthy", text(message, "access removed and verified gone"))
end

-- The access asked for was not granted: the object in Git asks for something
-- that did not happen.
local function notGranted(phase)
  return function(status, message)
    return health("Degraded", text(message, phase))
  end
end

local phases = {
  Pending = pending,
  Approved = approved,
  Active = active,
  Revoking = revoking,
  Revoked = revoked,
  Denied = notGranted("Denied"),
  Expired = notGranted("Expired"),
  Failed = notGranted("Failed"),
}

local status = field(obj, "status")
local phase = field(status, "phase")
if phase == nil or phase == "" then
  return health("Progressing", "waiting for the operator")
end
local generation = tonumber(field(field(obj, "metadata"), "generation"))
local observedGeneration = tonumber(field(status, "observedGeneration")) or 0
if generation ~= nil and observedGeneration < generation then
  return health("Progressing", "waiting for the operator to observe generation " .. tostring(generation))
end
local check = phases[phase]
if check == nil then
  return health("Unknown", "unknown phase " .. tostring(phase))
end
return check(status, text(field(status, "message"), nil))
