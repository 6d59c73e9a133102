// Stateful loopback HubSpot CRM v3 emulator that the official @hubspot/api-client talks to
// through `basePath`. One emulator is one portal: one token, one set of limits.
import type { AddressInfo } from "node:net";
import { FaultInjector, type FaultOptions } from "./faults.ts";
import type { HandlerContext } from "./handlers.ts";
import { RateLimiter } from "./limits.ts";
import { Lists, type HubSpotListDefinition } from "./lists.ts";
import { OAuthIssuer, type OAuthOptions } from "./oauth.ts";
import { buildSchemas, resolveObjectType, type HubSpotPropertyDefinition } from "./properties.ts";
import { createEmulatorServer, type EmulatorCall } from "./server.ts";
import { normalizeUnique, RecordStore, type HubSpotRecord } from "./store.ts";

export type { EmulatorCall } from "./server.ts";
export type { FaultOptions } from "./faults.ts";
export type { HubSpotPropertyDefinition } from "./properties.ts";
export type { HubSpotRecord } from "./store.ts";
export type { HubSpotListDefinition } from "./lists.ts";
export type { OAuthOptions } from "./oauth.ts";

export interface HubSpotEmulatorOptions {
  /** Default 0: a random free port. The server binds 127.0.0.1 only. */
  port?: number;
  /** Bearer token every call must carry; default "emulator-token". */
  accessToken?: string;
  /** Defaults 190 / 1_000_000 / 10_000 (HubSpot Enterprise). */
  limits?: { perTenSeconds?: number; daily?: number; windowMs?: number };
  /** Extra or overriding property definitions per object type; new keys declare custom object types. */
  properties?: Record<string, HubSpotPropertyDefinition[]>;
  faults?: FaultOptions;
  /** Invalid property values answered per record in a 207 (default) or by a 400 for the whole batch. */
  invalidValues?: "per-record" | "whole-batch";
  /** Lists (audiences) the portal has; their memberships start empty. */
  lists?: HubSpotListDefinition[];
  /** Also accept OAuth: POST /oauth/v1/token exchanges this refresh token for access tokens. */
  oauth?: OAuthOptions;
  /**
   * Each answer leaves this long after its call was handled, as a real API's round trip does (HubSpot's batch
   * upserts take a few hundred ms); default 0. The rate limit counts a call when it arrives.
   */
  latencyMs?: number;
  /**
   * HubSpot's API spec makes a result's `objectWriteTraceId` optional and its own 207 example omits it, as it omits
   * `errors[].code`: "documented" answers that way (results and errors carry no trace id, errors no detail code),
   * "echo" (default) echoes what the caller sent, as the live API has been seen to. A client must work with both.
   */
  answers?: "echo" | "documented";
  /** Default true: a 429 carries Retry-After, which HubSpot does not document; false answers without it. */
  retryAfter?: boolean;
}

export interface HubSpotEmulator {
  url: string;
  port: number;
  calls(): EmulatorCall[];
  callCount(endpoint?: string): number;
  records(objectType: string): HubSpotRecord[];
  findByProperty(objectType: string, property: string, value: string): HubSpotRecord | undefined;
  setFaults(f: FaultOptions): void;
  /** Record ids in a list, in the order they were added. */
  listMembers(listId: string): string[];
  /** Every OAuth access token issued so far expires now (the next call with one gets 401). */
  expireOAuthTokens(): void;
  /** OAuth access tokens issued so far. */
  oauthGrants(): number;
  reset(): void;
  close(): Promise<void>;
}

function copy(r: HubSpotRecord): HubSpotRecord {
  return { ...r, properties: { ...r.properties } };
}

export async function startHubSpotEmulator(opts: HubSpotEmulatorOptions = {}): Promise<HubSpotEmulator> {
  const schemas = buildSchemas(opts.properties);
  const store = new RecordStore(schemas);
  const faults = new FaultInjector(opts.faults);
  const limiter = new RateLimiter({
    perTenSeconds: opts.limits?.perTenSeconds ?? 190,
    daily: opts.limits?.daily ?? 1_000_000,
    windowMs: opts.limits?.windowMs ?? 10_000,
  });
  const lists = new Lists(opts.lists ?? [], () => store);
  const oauth = opts.oauth ? new OAuthIssuer(opts.oauth) : undefined;
  const ctx: HandlerContext = { schemas, store, faults, schemaStamp: new Date().toISOString(), invalidValues: opts.invalidValues ?? "per-record", lists, answers: opts.answers ?? "echo" };
  const calls: EmulatorCall[] = [];
  const server = createEmulatorServer({ ctx, limiter, faults, accessToken: opts.accessToken ?? "emulator-token", calls, oauth, latencyMs: opts.latencyMs, retryAfter: opts.retryAfter !== false });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  // Test helpers fail loudly on a typo'd object type instead of returning nothing.
  const typeOf = (objectType: string): string => {
    const type = resolveObjectType(schemas, objectType);
    if (!type) throw new Error(`HubSpot emulator: unknown object type "${objectType}"`);
    return type;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls: () => calls.map((c) => ({ ...c })),
    callCount: (endpoint) => (endpoint === undefined ? calls.length : calls.filter((c) => c.endpoint === endpoint).length),
    records: (objectType) => store.all(typeOf(objectType)).map(copy),
    findByProperty(objectType, property, value) {
      const type = typeOf(objectType);
      if (property === "hs_object_id") {
        const r = store.get(type, value);
        return r && copy(r);
      }
      const wanted = normalizeUnique(property, value);
      const r = store.all(type).find((rec) => {
        const v = rec.properties[property];
        return v !== undefined && normalizeUnique(property, v) === wanted;
      });
      return r && copy(r);
    },
    setFaults: (f) => faults.set(f),
    listMembers: (listId) => lists.members(listId),
    expireOAuthTokens: () => oauth?.expireAll(),
    oauthGrants: () => oauth?.grants ?? 0,
    reset() {
      store.clear();
      lists.clear();
      calls.length = 0;
      limiter.reset();
      faults.reseed();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets from the SDK's fetch would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}
