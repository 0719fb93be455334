// A SCIM 2.0 server for Elevator's SCIM provider tests: scimmy parses requests,
// applies filters and PATCH operations, and formats responses; scimmy-routers
// mounts the RFC 7644 endpoints on Express. This file only stores Users and
// Groups in memory and checks a bearer token.
//
// It also keeps an audit log of the SCIM writes it serves, in the shape of the
// Okta System Log, and serves it as Okta does (./systemlog.js): every POST,
// PUT, PATCH and DELETE on Users or Groups by a known caller, allowed or
// refused, appends one LogEvent per change (a PATCH adding two members makes
// two group.user_membership.add events), whose actor is the caller.
//
// Usage: SCIMMY_TOKEN=<token> node server.js [port]
// The port may also come from the PORT environment variable. The server listens
// on 127.0.0.1 only, serves SCIM under /scim/v2, and prints
// "listening on http://127.0.0.1:<port>/scim/v2" once it accepts connections.
//
// Optional environment:
//   SCIMMY_TOKEN_LOGIN    the login the SCIMMY_TOKEN caller acts as in the log
//                         (default elevator-test-client)
//   SCIMMY_CALLERS        a JSON object of further bearer tokens, each mapped
//                         to the login of the user who calls with it, so that a
//                         test's subject can call the SCIM API as itself
//   SCIMMY_LOG_TOKEN      the API token GET /api/v1/logs accepts, as
//                         "Authorization: SSWS <token>"; without it the log is
//                         not served
//   SCIMMY_LOG_PAGE_MAX   the most events one page of the log holds, below the
//                         limit asked for, to make clients follow next links
import crypto from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";
import {SystemLog, recordWrite} from "./systemlog.js";

const token = process.env.SCIMMY_TOKEN ?? "";
const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
if (!token) {
    console.error("scimmy-server: set SCIMMY_TOKEN to the bearer token clients must send");
    process.exit(2);
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`scimmy-server: invalid port ${process.argv[2] ?? process.env.PORT}`);
    process.exit(2);
}

/**
 * An in-memory store of one resource type, keyed by id. Values are plain
 * objects in the shape scimmy hands to ingress handlers.
 */
class Store {
    constructor(kind, uniqueAttr) {
        this.kind = kind;
        this.uniqueAttr = uniqueAttr;
        this.byId = new Map();
    }

    // egress: one resource by id, or every resource the request's filter matches.
    read(resource) {
        if (resource.id) {
            const found = this.byId.get(resource.id);
            if (!found) throw new SCIMMY.Types.Error(404, null, `${this.kind} ${resource.id} not found`);
            return found;
        }
        const all = [...this.byId.values()];
        return resource.filter ? resource.filter.match(all) : all;
    }

    // ingress: create (no id) or replace (id) a resource.
    write(resource, instance) {
        if (resource.id && !this.byId.has(resource.id)) {
            throw new SCIMMY.Types.Error(404, null, `${this.kind} ${resource.id} not found`);
        }
        const value = String(instance[this.uniqueAttr] ?? "");
        for (const [id, other] of this.byId) {
            if (id !== resource.id && String(other[this.uniqueAttr]).toLowerCase() === value.toLowerCase()) {
                throw new SCIMMY.Types.Error(409, "uniqueness", `${this.kind} with ${this.uniqueAttr} "${value}" already exists`);
            }
        }
        const id = resource.id ?? crypto.randomUUID();
        const now = new Date();
        const created = this.byId.get(id)?.meta?.created ?? now;
        const stored = {...plain(instance), id, meta: {created, lastModified: now}};
        this.byId.set(id, stored);
        return stored;
    }

    // degress: delete a resource by id.
    remove(resource) {
        if (!this.byId.delete(resource.id)) {
            throw new SCIMMY.Types.Error(404, null, `${this.kind} ${resource.id} not found`);
        }
    }
}

// plain copies a scimmy schema instance into a plain object, dropping schemas
// and meta, which scimmy writes itself on egress.
function plain(instance) {
    const {schemas, meta, ...rest} = JSON.parse(JSON.stringify(instance));
    return rest;
}

const users = new Store("User", "userName");
const groups = new Store("Group", "displayName");

SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .egress((resource) => users.read(resource))
    .ingress((resource, instance) => users.write(resource, instance))
    .degress((resource) => users.remove(resource));

SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .egress((resource) => groups.read(resource))
    .ingress((resource, instance) => groups.write(resource, instance))
    .degress((resource) => groups.remove(resource));

// callers maps each bearer token to the login of the user calling with it.
const callers = new Map([[token, process.env.SCIMMY_TOKEN_LOGIN || "elevator-test-client"]]);
for (const [callerToken, login] of Object.entries(JSON.parse(process.env.SCIMMY_CALLERS || "{}"))) {
    if (!callerToken || typeof login !== "string" || !login) {
        console.error("scimmy-server: SCIMMY_CALLERS must map non-empty tokens to non-empty logins");
        process.exit(2);
    }
    callers.set(callerToken, login);
}

// tokenMatches compares in constant time, so the token can't be guessed byte by byte.
function tokenMatches(header, want) {
    const given = Buffer.from(header ?? "");
    const wanted = Buffer.from(want);
    return given.length === wanted.length && crypto.timingSafeEqual(given, wanted);
}

// callerOf is the login of the caller whose bearer token the header carries,
// or undefined.
function callerOf(header) {
    let found;
    for (const [callerToken, login] of callers) {
        if (tokenMatches(header, `Bearer ${callerToken}`)) found = login;
    }
    return found;
}

const log = new SystemLog({
    token: process.env.SCIMMY_LOG_TOKEN ?? "",
    pageMax: Number(process.env.SCIMMY_LOG_PAGE_MAX ?? 0),
    tokenMatches,
});

const app = express();
// Record each write once its answer is sent, with the caller, the parsed body
// and the status: scimmy-routers parses the body into req.body on the way.
app.use("/scim/v2", (req, res, next) => {
    const caller = callerOf(req.header("Authorization"));
    if (caller && ["POST", "PUT", "PATCH", "DELETE"].includes(req.method)) {
        let answer;
        const send = res.send;
        res.send = function (body) {
            if (body && typeof body === "object") answer = body;
            return send.call(this, body);
        };
        // req.path changes as the request goes down scimmy-routers' routers.
        const path = req.path;
        res.on("finish", () => recordWrite(log, {req, path, status: res.statusCode, answer, caller, users, groups}));
    }
    next();
});
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
        const caller = callerOf(request.header("Authorization"));
        if (!caller) throw new Error("invalid or missing bearer token");
        return caller;
    },
}));
app.get("/api/v1/logs", (req, res) => log.serve(req, res));

const server = app.listen(port, "127.0.0.1", () => {
    const {port: bound} = server.address();
    console.log(`listening on http://127.0.0.1:${bound}/scim/v2`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => server.close(() => process.exit(0)));
}
