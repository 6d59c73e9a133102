// node:http front door of the Zendesk emulator: routing (with or without `.json`), auth (API token as
// `email/token:TOKEN` basic auth, or an OAuth bearer token), the per-minute account rate limit, fault injection and
// the call log. Order per request: auth (401, not counted) -> rate limit (429) -> counted -> injected 5xx/429 ->
// handler. Every authenticated answer carries X-Rate-Limit / X-Rate-Limit-Remaining (documented).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { FaultInjector } from "../hubspot/faults.ts";
import type { ZendeskObject } from "./fields.ts";
import { createOrUpdateMany, destroyMany, errorReply, jobStatus, jobStatuses, listFields, search, showMany, updateMany, type HandlerContext, type Reply } from "./handlers.ts";

export interface EmulatorCall {
  method: string;
  path: string;
  /** The query string, with its `?` ("" when none). */
  query: string;
  endpoint: string;
  status: number;
  /** Objects in a bulk write body. */
  objects?: number;
  timedOut?: boolean;
  at: number;
}

type Handle = (ctx: HandlerContext, params: Record<string, string>, body: unknown, query: URLSearchParams) => Reply;

interface Route {
  endpoint: string;
  method: string;
  pattern: RegExp;
  keys: string[];
  handle: Handle;
}

function route(endpoint: string, handle: Handle): Route {
  const [method = "", template = ""] = endpoint.split(" ");
  const keys: string[] = [];
  const source = template.replace(/\{(\w+)\}/g, (_m, key: string) => {
    keys.push(key);
    return "([^/]+)";
  });
  return { endpoint, method, pattern: new RegExp(`^${source}$`), keys, handle };
}

const KINDS: ZendeskObject[] = ["users", "organizations"];

const ROUTES: Route[] = [
  ...KINDS.flatMap((kind) => [
    route(`POST /api/v2/${kind}/create_or_update_many`, (c, _p, b) => createOrUpdateMany(c, kind, b)),
    route(`GET /api/v2/${kind}/show_many`, (c, _p, _b, q) => showMany(c, kind, q)),
    route(`DELETE /api/v2/${kind}/destroy_many`, (c, _p, _b, q) => destroyMany(c, kind, q)),
    route(`PUT /api/v2/${kind}/update_many`, (c, _p, b, q) => updateMany(c, kind, q, b)),
    route(`GET /api/v2/${kind}/search`, (c, _p, _b, q) => search(c, kind, q)),
  ]),
  // Before the {id} route, which would take "show_many" for an id.
  route("GET /api/v2/job_statuses/show_many", (c, _p, _b, q) => jobStatuses(c, q)),
  route("GET /api/v2/job_statuses/{id}", (c, p) => jobStatus(c, p.id ?? "")),
  route("GET /api/v2/user_fields", (c) => listFields(c, "users")),
  route("GET /api/v2/organization_fields", (c) => listFields(c, "organizations")),
];

function match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  const bare = path.replace(/\.json$/, "").replace(/\/+$/, "");
  for (const r of ROUTES) {
    if (r.method !== method) continue;
    const m = r.pattern.exec(bare);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? "")));
    return { route: r, params };
  }
  return undefined;
}

/** Accepted calls in the last minute (Zendesk's limits are per minute per account). */
export class MinuteLimiter {
  perMinute: number;
  #stamps: number[] = [];

  constructor(perMinute: number) {
    this.perMinute = perMinute;
  }

  #prune(now: number): void {
    while (this.#stamps.length > 0 && this.#stamps[0]! <= now - 60_000) this.#stamps.shift();
  }

  /** Seconds to wait, or 0 when the call may go. */
  check(now: number): number {
    this.#prune(now);
    if (this.#stamps.length < this.perMinute) return 0;
    return Math.max(1, Math.ceil((this.#stamps[this.#stamps.length - this.perMinute]! + 60_000 - now) / 1000));
  }

  record(now: number): void {
    this.#stamps.push(now);
  }

  headers(now: number): Record<string, string> {
    this.#prune(now);
    return { "X-Rate-Limit": String(this.perMinute), "X-Rate-Limit-Remaining": String(Math.max(0, this.perMinute - this.#stamps.length)) };
  }

  reset(): void {
    this.#stamps = [];
  }
}

export interface Credentials {
  email: string;
  apiToken: string;
  oauthToken: string;
}

export interface ServerDeps {
  ctx: HandlerContext;
  limiter: MinuteLimiter;
  faults: FaultInjector;
  credentials: Credentials;
  calls: EmulatorCall[];
  latencyMs?: number | undefined;
}

function authorized(header: string | undefined, credentials: Credentials): boolean {
  const basic = /^Basic\s+(.+)$/i.exec(header ?? "")?.[1];
  if (basic) return Buffer.from(basic, "base64").toString("utf8") === `${credentials.email}/token:${credentials.apiToken}`;
  const bearer = /^Bearer\s+(.+)$/i.exec(header ?? "")?.[1]?.trim();
  return bearer !== undefined && bearer === credentials.oauthToken;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function handle(deps: ServerDeps, method: string, url: URL, raw: string, authorization: string | undefined): Reply {
  // Zendesk's answer to missing or wrong credentials.
  if (!authorized(authorization, deps.credentials)) return errorReply(401, "Couldn't authenticate you", "Couldn't authenticate you");
  const now = Date.now();
  const wait = deps.limiter.check(now);
  let reply: Reply;
  // 429 with Retry-After in seconds is documented; the body's wording is [unverified].
  const limited = (seconds: number): Reply => ({ ...errorReply(429, "APIRateLimitExceeded", "Number of allowed API requests per minute exceeded"), headers: { "Retry-After": String(seconds) } });
  if (wait > 0) reply = limited(wait);
  else if (deps.faults.spuriousRateLimit()) reply = limited(1);
  else {
    deps.limiter.record(now);
    reply = dispatch(deps, method, url, raw);
  }
  return { ...reply, headers: { ...deps.limiter.headers(now), ...reply.headers } };
}

function dispatch(deps: ServerDeps, method: string, url: URL, raw: string): Reply {
  const injected = deps.faults.serverError();
  if (injected !== undefined) return errorReply(injected, "ServiceUnavailable", "Injected server error");
  const found = match(method, url.pathname);
  if (!found) return errorReply(404, "InvalidEndpoint", `Not found: ${method} ${url.pathname}`);
  let json: unknown;
  if (raw.trim() !== "") {
    try {
      json = JSON.parse(raw);
    } catch {
      return errorReply(400, "Unprocessable Entity", "Server could not parse JSON");
    }
  }
  try {
    return found.route.handle(deps.ctx, found.params, json, url.searchParams);
  } catch (e) {
    return errorReply(500, "InternalError", e instanceof Error ? e.message : String(e));
  }
}

export function createZendeskServer(deps: ServerDeps): Server {
  return createServer((req, res) => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const endpoint = match(method, url.pathname)?.route.endpoint ?? "UNKNOWN";
    const at = Date.now();
    readBody(req).then(
      (raw) => {
        const reply = handle(deps, method, url, raw, req.headers.authorization);
        let objects: number | undefined;
        try {
          const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
          const list = body?.users ?? body?.organizations;
          if (Array.isArray(list)) objects = list.length;
        } catch {
          objects = undefined;
        }
        const holdMs = reply.status === 401 ? undefined : deps.faults.timeout();
        if (holdMs !== undefined) {
          deps.calls.push({ method, path: url.pathname, query: url.search, endpoint, status: 0, timedOut: true, at });
          setTimeout(() => res.destroy(), holdMs).unref();
          return;
        }
        deps.calls.push({ method, path: url.pathname, query: url.search, endpoint, status: reply.status, ...(objects === undefined ? {} : { objects }), at });
        const send = (): void => {
          const text = JSON.stringify(reply.body);
          res.writeHead(reply.status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), ...reply.headers });
          res.end(text);
        };
        if (deps.latencyMs) setTimeout(send, deps.latencyMs).unref();
        else send();
      },
      () => res.destroy(),
    );
  });
}
