// Stateful loopback Zendesk Support emulator (users, organizations, their custom fields, bulk jobs) for the Zendesk
// destination, which talks to it over plain HTTP exactly as to `https://<subdomain>.zendesk.com`.
//
// Verified against Zendesk's public developer docs and support answers: create_or_update_many (≤ 100 objects)
// answers a job_status; job statuses queued|working|completed|failed|killed with id, url, total, progress, message,
// results; results of bulk jobs carry `index`, and create_or_update_many results come in request order with status
// Created|Updated|Failed (+ error, details); show_many by ids / external_ids (≤ 100); users/search by `query` or
// `external_id`; destroy_many and update_many (`additional_tags` / `remove_tags`) are jobs; 403 when data imports
// are off; 429 with Retry-After seconds; X-Rate-Limit / X-Rate-Limit-Remaining on answers; limits per plan per
// minute; external ids and emails are not case sensitive.
// [unverified], kept configurable or marked where used: error body wordings, organizations/create_or_update_many
// matching by name, the job-queue cap (30) and its 429 body, a name required to create a user, unknown custom keys
// ignored, tags on organizations' update_many. Not emulated: the search index's lag behind writes.
import type { AddressInfo } from "node:net";
import { mulberry32 } from "../random.ts";
import { FaultInjector, type FaultOptions } from "../hubspot/faults.ts";
import type { ZendeskFieldDefinition, ZendeskObject } from "./fields.ts";
import type { HandlerContext, ZendeskFaults } from "./handlers.ts";
import { JobQueue } from "./jobs.ts";
import { createZendeskServer, MinuteLimiter, type EmulatorCall } from "./server.ts";
import { ZendeskStore, type ZendeskRecord } from "./store.ts";

export type { EmulatorCall } from "./server.ts";
export type { ZendeskFieldDefinition, ZendeskFieldType, ZendeskObject } from "./fields.ts";
export type { ZendeskRecord } from "./store.ts";

export type ZendeskFaultOptions = FaultOptions & ZendeskFaults;

export const ZENDESK_EMULATOR_DEFAULTS = { email: "agent@example.com", apiToken: "emulator-token", oauthToken: "emulator-oauth-token" } as const;

export interface ZendeskEmulatorOptions {
  /** Default 0: a random free port. Binds 127.0.0.1 only. */
  port?: number;
  /** API-token auth: `email/token:apiToken`. */
  email?: string;
  apiToken?: string;
  /** OAuth bearer token also accepted. */
  oauthToken?: string;
  /** Account-wide requests per minute (default 700, Enterprise). */
  requestsPerMinute?: number;
  /** Jobs queued or running at once before bulk requests get 429 (default 30). */
  maxQueuedJobs?: number;
  /** How long a job stays queued, then working (ms each; default 10). */
  jobDelayMs?: number;
  userFields?: ZendeskFieldDefinition[];
  organizationFields?: ZendeskFieldDefinition[];
  faults?: ZendeskFaultOptions;
  /** Default true; false answers bulk imports with 403. */
  dataImports?: boolean;
  /** Each answer leaves this long after the call was handled (ms). */
  latencyMs?: number;
  /** Order of create_or_update_many results (each carries its `index` either way); default "request". */
  resultsOrder?: "request" | "reversed";
}

export interface ZendeskEmulator {
  url: string;
  port: number;
  credentials: { email: string; apiToken: string; oauthToken: string };
  calls(): EmulatorCall[];
  callCount(endpoint?: string): number;
  records(kind: ZendeskObject): Record<string, unknown>[];
  /** The record (as the API shows it) whose email / external_id / name equals `value`, case-insensitively. */
  find(kind: ZendeskObject, attribute: "email" | "external_id" | "name", value: string): Record<string, unknown> | undefined;
  /** Writes a record directly (a person's edit in Zendesk); `updatedAt` sets its last-modified time. */
  seed(kind: ZendeskObject, attributes: Record<string, unknown>, updatedAt?: string): Record<string, unknown>;
  setFields(kind: ZendeskObject, fields: ZendeskFieldDefinition[]): void;
  setFaults(faults: ZendeskFaultOptions): void;
  setDataImports(enabled: boolean): void;
  /** Jobs accepted so far. */
  jobsAccepted(): number;
  /** Forgets every job, finished or not (Zendesk keeps a job's status for a day): polls then find none. */
  forgetJobs(): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startZendeskEmulator(opts: ZendeskEmulatorOptions = {}): Promise<ZendeskEmulator> {
  const credentials = {
    email: opts.email ?? ZENDESK_EMULATOR_DEFAULTS.email,
    apiToken: opts.apiToken ?? ZENDESK_EMULATOR_DEFAULTS.apiToken,
    oauthToken: opts.oauthToken ?? ZENDESK_EMULATOR_DEFAULTS.oauthToken,
  };
  const store = new ZendeskStore({ users: [...(opts.userFields ?? [])], organizations: [...(opts.organizationFields ?? [])] });
  const faults = new FaultInjector(opts.faults);
  const seed = opts.faults?.seed ?? 1;
  let url = "";
  const ctx: HandlerContext = {
    store,
    jobs: new JobQueue({ queuedMs: opts.jobDelayMs ?? 10, workingMs: opts.jobDelayMs ?? 10, maxQueued: opts.maxQueuedJobs ?? 30 }),
    faults,
    jobFaults: { jobFailRate: opts.faults?.jobFailRate, jobKillRate: opts.faults?.jobKillRate },
    random: mulberry32(seed + 7),
    dataImports: opts.dataImports ?? true,
    baseUrl: () => url,
    schemaStamp: new Date().toISOString(),
    resultsOrder: opts.resultsOrder ?? "request",
  };
  const limiter = new MinuteLimiter(opts.requestsPerMinute ?? 700);
  const calls: EmulatorCall[] = [];
  const server = createZendeskServer({ ctx, limiter, faults, credentials, calls, latencyMs: opts.latencyMs });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}`;
  const view = (kind: ZendeskObject, r: ZendeskRecord): Record<string, unknown> => store.view(kind, r);

  return {
    url,
    port,
    credentials,
    calls: () => calls.map((c) => ({ ...c })),
    callCount: (endpoint) => (endpoint === undefined ? calls.length : calls.filter((c) => c.endpoint === endpoint).length),
    records: (kind) => store.all(kind).map((r) => view(kind, r)),
    find(kind, attribute, value) {
      const r = store.findBy(kind, attribute, value)[0];
      return r && view(kind, r);
    },
    seed: (kind, attributes, updatedAt) => view(kind, store.seed(kind, attributes, updatedAt)),
    setFields: (kind, fields) => store.setFields(kind, fields),
    setFaults(f) {
      faults.set(f);
      ctx.jobFaults = { jobFailRate: f.jobFailRate, jobKillRate: f.jobKillRate };
      ctx.random = mulberry32((f.seed ?? 1) + 7);
    },
    setDataImports: (enabled) => (ctx.dataImports = enabled),
    jobsAccepted: () => ctx.jobs.accepted,
    forgetJobs: () => ctx.jobs.clear(),
    reset() {
      store.clear();
      ctx.jobs.clear();
      calls.length = 0;
      limiter.reset();
      faults.reseed();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        ctx.jobs.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
