// Stateful loopback Braze REST emulator: one emulator is one workspace (one REST API key, one set of limits). The
// syncer talks to it with plain fetch through BRAZE_REST_ENDPOINT. Order per request: auth (401, not counted) ->
// the endpoint's rate-limit bucket (429, not counted) -> injected 429 / 5xx -> handler; every authenticated answer
// carries its bucket's X-RateLimit-* headers.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { FaultInjector, type FaultOptions } from "../hubspot/faults.ts";
import { customAttributes, deleteUsers, exportIds, track, type HandlerContext, type Reply } from "./handlers.ts";
import { RateLimits, type Bucket, type BucketLimit } from "./limits.ts";
import { UserStore, type BrazeAttributeDefinition, type BrazeUser } from "./store.ts";

export type { FaultOptions } from "../hubspot/faults.ts";
export type { BrazeAttributeDefinition, BrazeAttributeType, BrazeUser } from "./store.ts";
export { ATTRIBUTE_TYPES } from "./store.ts";

export interface BrazeEmulatorOptions {
  /** Default 0: a random free port. The server binds 127.0.0.1 only. */
  port?: number;
  /** The REST API key every call must carry as a Bearer token; default "emulator-key". */
  apiKey?: string;
  /** The workspace's custom attributes before any write. */
  attributes?: BrazeAttributeDefinition[];
  /** A write naming a custom attribute not listed: created (Braze's default) or refused for that object. */
  unknownAttributes?: "create" | "refuse";
  /** Subscription groups of the workspace; omitted: any id is accepted. */
  subscriptionGroups?: string[];
  /** Per bucket: requests per window (defaults: Braze's documented ones, see limits.ts). */
  limits?: Partial<Record<Bucket, Partial<BucketLimit>>>;
  /** Objects per /users/track request: 75 per array (default) or 75 in total across the three arrays. */
  batchLimit?: { max?: number; per?: "array" | "total" };
  faults?: FaultOptions;
  /** Each answer leaves this long after its call was handled; default 0. */
  latencyMs?: number;
  /** Custom attributes per GET /custom_attributes page; default 50 (Braze's). */
  pageSize?: number;
}

export interface BrazeCall {
  method: string;
  path: string;
  /** e.g. `POST /users/track`. */
  endpoint: string;
  status: number;
  /** Attribute objects in a /users/track request. */
  objects?: number;
  timedOut?: boolean;
  at: number;
}

export interface BrazeEmulator {
  url: string;
  port: number;
  apiKey: string;
  calls(): BrazeCall[];
  callCount(endpoint?: string): number;
  users(): BrazeUser[];
  findUser(by: { external_id?: string; email?: string; alias?: { alias_name: string; alias_label: string } }): BrazeUser | undefined;
  /** Identifiers (external_id, else email, else braze_id) of users subscribed to a group. */
  subscribed(groupId: string): string[];
  /** Custom attribute definitions as the workspace lists them now. */
  attributes(): BrazeAttributeDefinition[];
  /** Adds or changes a custom attribute definition (a workspace admin's edit). */
  defineAttribute(a: BrazeAttributeDefinition): void;
  setFaults(f: FaultOptions): void;
  reset(): void;
  close(): Promise<void>;
}

const ROUTES: Record<string, { bucket: Bucket; handle: (ctx: HandlerContext, body: unknown, query: URLSearchParams) => Reply }> = {
  "POST /users/track": { bucket: "users/track", handle: (c, b) => track(c, b) },
  "POST /users/delete": { bucket: "users/delete", handle: (c, b) => deleteUsers(c, b) },
  "POST /users/export/ids": { bucket: "users/export/ids", handle: (c, b) => exportIds(c, b) },
  "GET /custom_attributes": { bucket: "custom_attributes", handle: (c, _b, q) => customAttributes(c, q) },
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startBrazeEmulator(opts: BrazeEmulatorOptions = {}): Promise<BrazeEmulator> {
  const apiKey = opts.apiKey ?? "emulator-key";
  const store = new UserStore(opts.attributes ?? []);
  const faults = new FaultInjector(opts.faults);
  const limits = new RateLimits(opts.limits);
  const ctx: HandlerContext = {
    store,
    faults,
    unknownAttributes: opts.unknownAttributes ?? "create",
    subscriptionGroups: opts.subscriptionGroups ? new Set(opts.subscriptionGroups) : undefined,
    batchLimit: { max: opts.batchLimit?.max ?? 75, per: opts.batchLimit?.per ?? "array" },
    pageSize: opts.pageSize ?? 50,
  };
  const calls: BrazeCall[] = [];

  const answer = (method: string, url: URL, raw: string, authorization: string | undefined): { reply: Reply; endpoint: string; json: unknown } => {
    // Braze's paths take an optional trailing slash (its own Link headers point at /custom_attributes/).
    const endpoint = `${method} ${url.pathname.replace(/\/+$/, "") || "/"}`;
    const route = ROUTES[endpoint];
    let json: unknown;
    try {
      json = raw.trim() === "" ? undefined : JSON.parse(raw);
    } catch {
      json = undefined;
    }
    const token = /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim();
    if (token !== apiKey) return { reply: { status: 401, body: { message: "Invalid API Key" } }, endpoint, json };
    if (!route) return { reply: { status: 404, body: { message: `No such endpoint: ${endpoint}` } }, endpoint, json };
    const now = Date.now();
    let reply: Reply;
    if (!limits.take(route.bucket, now) || faults.spuriousRateLimit()) reply = { status: 429, body: { message: "API rate limit reached" } };
    else {
      const injected = faults.serverError();
      if (injected !== undefined) reply = { status: injected, body: { message: injected === 502 ? "Bad Gateway" : "Service Unavailable" } };
      else if (method === "POST" && (json === undefined || typeof json !== "object" || json === null)) reply = { status: 400, body: { message: "Invalid JSON body" } };
      else reply = route.handle(ctx, json, url.searchParams);
    }
    return { reply: { ...reply, headers: { ...limits.headers(route.bucket, now), ...reply.headers } }, endpoint, json };
  };

  const server: Server = createServer((req, res) => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const at = Date.now();
    readBody(req).then(
      (raw) => {
        const { reply, endpoint, json } = answer(method, url, raw, req.headers.authorization);
        const attributes = (json as { attributes?: unknown } | undefined)?.attributes;
        const base = { method, path: url.pathname, endpoint, at, ...(Array.isArray(attributes) ? { objects: attributes.length } : {}) };
        // An injected timeout: the call was handled (its writes landed) but the answer never comes.
        const holdMs = reply.status === 401 ? undefined : faults.timeout();
        if (holdMs !== undefined) {
          calls.push({ ...base, status: 0, timedOut: true });
          setTimeout(() => res.destroy(), holdMs).unref();
          return;
        }
        calls.push({ ...base, status: reply.status });
        const text = JSON.stringify(reply.body);
        const send = (): void => {
          res.writeHead(reply.status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...reply.headers });
          res.end(text);
        };
        if (opts.latencyMs) setTimeout(send, opts.latencyMs).unref();
        else send();
      },
      () => res.destroy(),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const copy = (u: BrazeUser): BrazeUser => structuredClone(u);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    apiKey,
    calls: () => calls.map((c) => ({ ...c })),
    callCount: (endpoint) => (endpoint === undefined ? calls.length : calls.filter((c) => c.endpoint === endpoint).length),
    users: () => store.all().map(copy),
    findUser(by) {
      const user = by.external_id !== undefined ? store.byExternalId(by.external_id) : by.email !== undefined ? store.byEmail(by.email)[0] : by.alias ? store.byAlias(by.alias) : undefined;
      return user && copy(user);
    },
    subscribed: (groupId) => store.all().filter((u) => u.subscription_groups[groupId] === "subscribed").map((u) => u.external_id ?? u.email ?? u.braze_id),
    attributes: () => [...store.attributes.values()].map((a) => ({ ...a })),
    defineAttribute: (a) => void store.attributes.set(a.name, { status: "Active", ...a }),
    setFaults: (f) => faults.set(f),
    reset() {
      store.clear();
      calls.length = 0;
      limits.reset();
      faults.reseed();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
