// An audit log of the SCIM writes the server serves, in the shape of the Okta
// System Log (developer.okta.com, System Log API): LogEvent objects, served by
// GET /api/v1/logs with "Authorization: SSWS <token>", the since, until,
// filter, limit, sortOrder and after parameters, and Link headers with
// rel="self" and, while more events match, rel="next".
//
// What it implements of the API, as a bounded request does:
//   since      inclusive lower bound on published (default: 7 days before until)
//   until      exclusive upper bound on published (default: now)
//   filter     actor.alternateId eq "<login>" (a JSON string literal), compared
//              without case; any other filter is a 400, as Okta answers a filter
//              it can't apply
//   limit      0..1000, default 100
//   sortOrder  ASCENDING (default) or DESCENDING
//   after      the opaque token of a next link
import crypto from "node:crypto";

const maxLimit = 1000;
const filterPattern = /^\s*actor\.alternateId\s+eq\s+("(?:[^"\\]|\\.)*")\s*$/i;

export class SystemLog {
    constructor({token, pageMax, tokenMatches}) {
        this.token = token;
        this.pageMax = Number.isInteger(pageMax) && pageMax > 0 ? pageMax : maxLimit;
        this.tokenMatches = tokenMatches;
        this.events = [];
        this.seq = 0;
    }

    // append stores one event, numbered in the order it was recorded.
    append(event) {
        this.seq += 1;
        this.events.push({seq: this.seq, at: Date.parse(event.published), event});
    }

    serve(req, res) {
        if (!this.token || !this.tokenMatches(req.header("Authorization"), `SSWS ${this.token}`)) {
            return oktaError(res, 401, "E0000011", "Invalid token provided");
        }
        const query = parseQuery(req.query);
        if (query.error) return oktaError(res, 400, query.code, query.error);
        const matching = this.events
            .filter((e) => e.at >= query.since && e.at < query.until && query.matches(e.event))
            .sort((a, b) => (a.at - b.at || a.seq - b.seq) * query.direction);
        const start = query.after ? matching.findIndex((e) => e.seq === query.after) + 1 : 0;
        if (query.after && start === 0) return oktaError(res, 400, "E0000001", "Api validation failed: after");
        const page = matching.slice(start, start + Math.min(query.limit, this.pageMax));
        const links = [`<${selfURL(req, req.query)}>; rel="self"`];
        if (page.length > 0 && start + page.length < matching.length) {
            const next = {...req.query, after: encodeAfter(page[page.length - 1].seq)};
            links.push(`<${selfURL(req, next)}>; rel="next"`);
        }
        res.setHeader("Link", links);
        res.type("application/json").send(JSON.stringify(page.map((e) => e.event)));
    }
}

function oktaError(res, status, code, summary) {
    res.status(status).type("application/json").send(JSON.stringify({
        errorCode: code, errorSummary: summary, errorId: crypto.randomUUID(),
    }));
}

// parseQuery reads the request's parameters, or says which one is wrong.
function parseQuery(q) {
    const until = q.until ? Date.parse(q.until) : Date.now();
    const since = q.since ? Date.parse(q.since) : until - 7 * 24 * 3600 * 1000;
    if (Number.isNaN(until) || Number.isNaN(since)) {
        return {code: "E0000001", error: "Api validation failed: since/until: The date format in your query is not recognized."};
    }
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 0 || limit > maxLimit) {
        return {code: "E0000001", error: "Api validation failed: limit"};
    }
    const sortOrder = q.sortOrder ?? "ASCENDING";
    if (sortOrder !== "ASCENDING" && sortOrder !== "DESCENDING") {
        return {code: "E0000001", error: "Api validation failed: sortOrder"};
    }
    const matches = parseFilter(q.filter);
    if (!matches) return {code: "E0000053", error: `Invalid filter '${q.filter}'`};
    const after = q.after === undefined ? 0 : decodeAfter(q.after);
    if (Number.isNaN(after)) return {code: "E0000001", error: "Api validation failed: after"};
    return {since, until, limit, direction: sortOrder === "ASCENDING" ? 1 : -1, matches, after};
}

// parseFilter returns the predicate of the filter, or undefined when the
// filter is not one this log can apply.
function parseFilter(filter) {
    if (filter === undefined || filter === "") return () => true;
    const m = filterPattern.exec(String(filter));
    if (!m) return undefined;
    let login;
    try {
        login = JSON.parse(m[1]);
    } catch {
        return undefined;
    }
    const want = login.toLowerCase();
    return (event) => String(event.actor?.alternateId ?? "").toLowerCase() === want;
}

function encodeAfter(seq) {
    return Buffer.from(`seq:${seq}`).toString("base64url");
}

function decodeAfter(token) {
    const m = /^seq:(\d+)$/.exec(Buffer.from(String(token), "base64url").toString());
    return m ? Number(m[1]) : NaN;
}

function selfURL(req, query) {
    const url = new URL(`${req.protocol}://${req.get("host")}${req.baseUrl}${req.path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
    return url.toString();
}

// recordWrite appends the events of one SCIM write: req is the Express
// request (its body parsed by scimmy-routers), path its path below /scim/v2,
// status the answer's status,
// answer the resource the server answered with, caller the login of whoever
// sent it.
export function recordWrite(log, {req, path, status, answer, caller, users, groups}) {
    const [, endpoint, id] = path.split("/");
    const kind = {Users: "User", Groups: "UserGroup"}[endpoint];
    if (!kind) return;
    const resourceID = id ? decodeURIComponent(id) : answer?.id ?? "";
    const nameOf = (type, rid, fallback) => {
        const stored = (type === "User" ? users : groups).byId.get(rid);
        return (type === "User" ? stored?.userName : stored?.displayName) ?? fallback ?? "unknown";
    };
    const target = (type, rid, fallback) => ({
        id: rid, type, alternateId: type === "User" ? nameOf(type, rid, fallback) : "unknown",
        displayName: nameOf(type, rid, fallback), detailEntry: null,
    });
    const self = kind === "User"
        ? target("User", resourceID, req.body?.userName)
        : target("UserGroup", resourceID, req.body?.displayName);
    const changes = kind === "UserGroup" && req.method === "PATCH"
        ? groupPatchChanges(req.body, self, (uid) => target("User", uid))
        : [{eventType: eventTypeOf(kind, req.method), targets: [self]}];
    const actorUser = [...users.byId.values()].find((u) => String(u.userName).toLowerCase() === caller.toLowerCase());
    for (const change of changes) {
        log.append(logEvent({req, path, status, caller, actorID: actorUser?.id, ...change}));
    }
}

function eventTypeOf(kind, method) {
    const types = {
        User: {POST: "user.lifecycle.create", PUT: "user.account.update_profile", PATCH: "user.account.update_profile", DELETE: "user.lifecycle.delete.initiated"},
        UserGroup: {POST: "group.lifecycle.create", PUT: "group.profile.update", DELETE: "group.lifecycle.delete"},
    };
    return types[kind][method];
}

// groupPatchChanges splits a PatchOp on a group into membership adds and
// removes, one per member, and profile updates.
function groupPatchChanges(body, group, user) {
    const changes = [];
    for (const op of body?.Operations ?? []) {
        const verb = String(op.op ?? "").toLowerCase();
        const path = String(op.path ?? "");
        const filtered = /^members\[\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\]$/i.exec(path);
        let members = [];
        if (filtered) {
            members = [JSON.parse(`"${filtered[1]}"`)];
        } else if (/^members$/i.test(path)) {
            members = (Array.isArray(op.value) ? op.value : []).map((m) => m?.value);
        } else if (!path && Array.isArray(op.value?.members)) {
            members = op.value.members.map((m) => m?.value);
        }
        members = members.filter((m) => typeof m === "string" && m);
        if (members.length === 0) {
            changes.push({eventType: "group.profile.update", targets: [group]});
            continue;
        }
        const eventType = verb === "remove" ? "group.user_membership.remove" : "group.user_membership.add";
        for (const m of members) changes.push({eventType, targets: [user(m), group]});
    }
    return changes.length ? changes : [{eventType: "group.profile.update", targets: [group]}];
}

function logEvent({req, path, status, caller, actorID, eventType, targets}) {
    const ok = status >= 200 && status < 300;
    return {
        uuid: crypto.randomUUID(),
        published: new Date().toISOString(),
        eventType,
        version: "0",
        severity: ok ? "INFO" : "WARN",
        displayMessage: `${req.method} /scim/v2${path}`,
        actor: {id: actorID ?? `client:${caller}`, type: "User", alternateId: caller, displayName: caller, detailEntry: null},
        client: {
            userAgent: {rawUserAgent: req.header("User-Agent") ?? "", os: "Unknown", browser: "UNKNOWN"},
            zone: "null", device: "Unknown", id: null, ipAddress: req.ip,
        },
        outcome: {result: ok ? "SUCCESS" : "FAILURE", reason: ok ? null : `HTTP ${status}`},
        target: targets,
        transaction: {type: "WEB", id: crypto.randomUUID(), detail: {}},
        debugContext: {debugData: {requestUri: `/scim/v2${path}`}},
    };
}
