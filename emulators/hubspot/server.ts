// node:http front door: routing, auth, rate limits, fault injection and the call log.
// Order per request: auth (401, not counted) -> limits (429, not counted) -> counted ->
// injected 5xx -> route handler. Unauthenticated calls have no portal, so they get no
// rate-limit headers; every authenticated response carries them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { errorBody, errorReply, type Reply } from "./errors.ts";
import type { FaultInjector } from "./faults.ts";
import { batchArchive, batchRead, batchUpsert, getObject, getProperties, getProperty, type HandlerContext } from "./handlers.ts";
import { rateLimitBody, type RateLimiter } from "./limits.ts";
import type { OAuthIssuer } from "./oauth.ts";

export interface EmulatorCall {
  method: string;
  path: string;
  endpoint: string;
  status: number;
  inputs?: number;
  /** An injected timeout: handled, never answered (status 0). */
  timedOut?: boolean;
  at: number;
}

type Params = Record<string, string>;

interface Route {
  endpoint: string;
  method: string;
  pattern: RegExp;
  keys: string[];
  hasBody: boolean;
  handle: (ctx: HandlerContext, params: Params, body: unknown, query: URLSearchParams) => Reply;
}

function route(endpoint: string, hasBody: boolean, handle: Route["handle"]): Route {
  const [method = "", template = ""] = endpoint.split(" ");
  const keys: string[] = [];
  const source = template.replace(/\{(\w+)\}/g, (_m, key: string) => {
    keys.push(key);
    return "([^/]+)";
  });
  return { endpoint, method, pattern: new RegExp(`^${source}/?$`), keys, hasBody, handle };
}

const p = (params: Params, key: string): string => params[key] ?? "";

const ROUTES: Route[] = [
  route("POST /crm/v3/objects/{objectType}/batch/upsert", true, (c, a, b, q) => batchUpsert(c, p(a, "objectType"), b, q)),
  route("POST /crm/objects/{version}/{objectType}/batch/upsert", true, (c, a, b, q) => batchUpsert(c, p(a, "objectType"), b, q)),
  route("POST /crm/v3/objects/{objectType}/batch/read", true, (c, a, b) => batchRead(c, p(a, "objectType"), b)),
  route("POST /crm/objects/{version}/{objectType}/batch/read", true, (c, a, b) => batchRead(c, p(a, "objectType"), b)),
  route("POST /crm/v3/objects/{objectType}/batch/archive", true, (c, a, b) => batchArchive(c, p(a, "objectType"), b)),
  route("GET /crm/v3/lists/{listId}", false, (c, a) => c.lists.get(p(a, "listId"))),
  route("GET /crm/v3/lists/{listId}/memberships", false, (c, a, _b, q) => c.lists.page(p(a, "listId"), q)),
  route("PUT /crm/v3/lists/{listId}/memberships/add", true, (c, a, b) => c.lists.change(p(a, "listId"), "add", b)),
  route("PUT /crm/v3/lists/{listId}/memberships/remove", true, (c, a, b) => c.lists.change(p(a, "listId"), "remove", b)),
  route("PUT /crm/v3/lists/{listId}/memberships/add-and-remove", true, (c, a, b) => c.lists.change(p(a, "listId"), "add-and-remove", b)),
  route("GET /crm/v3/objects/{objectType}/{objectId}", false, (c, a, _b, q) => getObject(c, p(a, "objectType"), p(a, "objectId"), q)),
  route("GET /crm/v3/properties/{objectType}", false, (c, a) => getProperties(c, p(a, "objectType"))),
  route("GET /crm/v3/properties/{objectType}/{propertyName}", false, (c, a) => getProperty(c, p(a, "objectType"), p(a, "propertyName"))),
];

function match(method: string, path: string): { route: Route; params: Params } | undefined {
  for (const r of ROUTES) {
    if (r.method !== method) continue;
    const m = r.pattern.exec(path);
    if (!m) continue;
    const params: Params = {};
    r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? "")));
    return { route: r, params };
  }
  return undefined;
}

export interface ServerDeps {
  ctx: HandlerContext;
  limiter: RateLimiter;
  faults: FaultInjector;
  accessToken: string;
  calls: EmulatorCall[];
  /** Present when the portal also takes OAuth access tokens (POST /oauth/v1/token). */
  oauth?: OAuthIssuer | undefined;
  /** Each answer leaves this long after its call was handled (a real API's round trip); default 0. */
  latencyMs?: number | undefined;
  /** Send Retry-After with a 429 ([unverified] upstream: HubSpot documents only the X-HubSpot-RateLimit-* headers). */
  retryAfter: boolean;
}

const MAX_BODY = 32 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new Error("body too large"));
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.body === undefined) {
    res.writeHead(reply.status, { ...reply.headers });
    res.end();
    return;
  }
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    "Content-Type": "application/json;charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}

function unauthorized(): Reply {
  // HubSpot's answer for a missing or unknown private-app token.
  return errorReply(
    401,
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    "INVALID_AUTHENTICATION",
  );
}

function tooManyRequests(policy: "TEN_SECONDLY_ROLLING" | "DAILY", retryAfterSeconds: number | undefined): Reply {
  // Retry-After is [unverified] upstream; it is sent for clients that honour it (the SDK does not) unless switched off.
  return { status: 429, body: rateLimitBody(policy, randomUUID()), ...(retryAfterSeconds === undefined ? {} : { headers: { "Retry-After": String(retryAfterSeconds) } }) };
}

type Match = ReturnType<typeof match>;

function handle(deps: ServerDeps, found: Match, url: URL, raw: string, json: unknown, authorization: string | undefined): Reply {
  const token = /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim();
  const oauth = deps.oauth?.isIssued(token) ?? false;
  if (token !== deps.accessToken && !(oauth && deps.oauth?.valid(token))) return unauthorized();

  const now = Date.now();
  const verdict = deps.limiter.check(now);
  let reply: Reply;
  if (!verdict.ok) reply = tooManyRequests(verdict.policy, deps.retryAfter ? verdict.retryAfterSeconds : undefined);
  else if (deps.faults.appliesTo(url.pathname) && deps.faults.spuriousRateLimit()) reply = tooManyRequests("TEN_SECONDLY_ROLLING", deps.retryAfter ? 1 : undefined);
  else {
    deps.limiter.record(now);
    reply = dispatch(deps, found, url, raw, json);
  }
  const limits = deps.limiter.headers(now);
  if (oauth) {
    // HubSpot leaves the daily pair out of answers to OAuth calls.
    delete limits["X-HubSpot-RateLimit-Daily"];
    delete limits["X-HubSpot-RateLimit-Daily-Remaining"];
  }
  return { ...reply, headers: { ...limits, ...reply.headers } };
}

function dispatch(deps: ServerDeps, found: Match, url: URL, raw: string, json: unknown): Reply {
  const injected = deps.faults.appliesTo(url.pathname) ? deps.faults.serverError() : undefined;
  if (injected !== undefined) {
    const what = injected === 502 ? "Bad Gateway" : "Service Unavailable";
    return { status: injected, body: errorBody(`Injected server error: ${what}`, "INTERNAL_ERROR") };
  }
  if (!found) return errorReply(404, `No route for ${url.pathname}`, "OBJECT_NOT_FOUND");
  if (found.route.hasBody && json === undefined) {
    return errorReply(400, raw.trim() === "" ? "Invalid input JSON: request body is empty" : "Invalid input JSON: body is not valid JSON", "VALIDATION_ERROR");
  }
  try {
    return found.route.handle(deps.ctx, found.params, json, url.searchParams);
  } catch (e) {
    return errorReply(500, `Internal error: ${e instanceof Error ? e.message : String(e)}`, "INTERNAL_ERROR");
  }
}

export function createEmulatorServer(deps: ServerDeps): Server {
  return createServer((req, res) => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const found = match(method, url.pathname);
    const at = Date.now();
    const finish = (reply: Reply, json: unknown): void => {
      const inputs = (json as { inputs?: unknown } | null | undefined)?.inputs;
      deps.calls.push({
        method,
        path: url.pathname,
        endpoint: found?.route.endpoint ?? "UNKNOWN",
        status: reply.status,
        ...(Array.isArray(inputs) ? { inputs: inputs.length } : {}),
        at,
      });
      if (deps.latencyMs) setTimeout(() => send(res, reply), deps.latencyMs).unref();
      else send(res, reply);
    };
    if (method === "POST" && url.pathname === "/oauth/v1/token") {
      // The token endpoint needs no bearer token and does not count against the portal's limits.
      readBody(req).then(
        (raw) => {
          const reply = deps.oauth ? deps.oauth.grant(new URLSearchParams(raw)) : errorReply(404, "OAuth is not enabled on this emulator", "OBJECT_NOT_FOUND");
          deps.calls.push({ method, path: url.pathname, endpoint: "POST /oauth/v1/token", status: reply.status, at });
          send(res, reply);
        },
        () => send(res, errorReply(400, "unreadable body", "VALIDATION_ERROR")),
      );
      return;
    }
    readBody(req).then(
      (raw) => {
        let json: unknown;
        try {
          json = raw.trim() === "" ? undefined : JSON.parse(raw);
        } catch {
          json = undefined;
        }
        const reply = handle(deps, found, url, raw, json, req.headers.authorization);
        // An injected timeout: the call was handled, but its answer is lost and the connection dropped later.
        const holdMs = reply.status === 401 || !deps.faults.appliesTo(url.pathname) ? undefined : deps.faults.timeout();
        if (holdMs !== undefined) {
          deps.calls.push({ method, path: url.pathname, endpoint: found?.route.endpoint ?? "UNKNOWN", status: 0, timedOut: true, at });
          setTimeout(() => res.destroy(), holdMs).unref();
          return;
        }
        finish(reply, json);
      },
      (e: unknown) => finish(errorReply(413, `Request rejected: ${e instanceof Error ? e.message : String(e)}`, "VALIDATION_ERROR"), undefined),
    );
  });
}
