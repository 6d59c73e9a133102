// Endpoint handlers of the Zendesk emulator: bodies are checked with zod at the boundary; bulk writes become jobs.
import { z } from "zod";
import type { FaultInjector } from "../hubspot/faults.ts";
import { customKey, fieldResponse, type ZendeskObject } from "./fields.ts";
import { jobStatusBody, type JobQueue } from "./jobs.ts";
import type { ZendeskStore } from "./store.ts";

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface ZendeskFaults {
  /** Share of bulk jobs that end `failed` (nothing applied). */
  jobFailRate?: number;
  /** Share of bulk jobs that end `killed` (nothing applied). */
  jobKillRate?: number;
}

export interface HandlerContext {
  store: ZendeskStore;
  jobs: JobQueue;
  faults: FaultInjector;
  jobFaults: ZendeskFaults;
  random: () => number;
  /** False: bulk imports answer 403 (Zendesk leaves them off until the account owner asks support). */
  dataImports: boolean;
  baseUrl: () => string;
  schemaStamp: string;
  /**
   * Zendesk answers create_or_update_many results in request order, each with its `index`; "reversed" lists them
   * backwards (still indexed), so tests prove a client maps results by index rather than by position.
   */
  resultsOrder: "request" | "reversed";
}

/** Objects per bulk request, ids per show_many / destroy_many / update_many (Zendesk documents 100 for each). */
export const MAX_BULK = 100;

export function errorReply(status: number, error: string, description: string, extra: Record<string, unknown> = {}): Reply {
  return { status, body: { error, description, ...extra } };
}

const objectSchema = z.record(z.string(), z.unknown());

function singular(kind: ZendeskObject): "user" | "organization" {
  return kind === "users" ? "user" : "organization";
}

function invalid(message: string): Reply {
  // Zendesk's RecordInvalid envelope; the exact wording of these messages is [unverified].
  return errorReply(400, "RecordInvalid", "Record validation errors", { details: { base: [{ description: message }] } });
}

function jobFault(ctx: HandlerContext): { failed: string } | { killed: string } | undefined {
  const { jobFailRate = 0, jobKillRate = 0 } = ctx.jobFaults;
  if (jobFailRate > 0 && ctx.random() < jobFailRate) return { failed: "Injected job failure: the worker raised an error" };
  if (jobKillRate > 0 && ctx.random() < jobKillRate) return { killed: "Injected job kill: the job exceeded its time limit" };
  return undefined;
}

/** A bulk write accepted as a job, or refused before queueing (imports off, too many jobs). */
function startJob(ctx: HandlerContext, jobType: string, total: number, run: () => Record<string, unknown>[], imports: boolean): Reply {
  if (imports && !ctx.dataImports) {
    // 403 when bulk imports are off is documented; the body's wording is [unverified].
    return errorReply(403, "Forbidden", "Data imports are not enabled for this account. Contact Zendesk Customer Support to enable them.");
  }
  if (ctx.jobs.full()) {
    // The 429 for a full job queue is documented; its body and Retry-After are [unverified].
    return { ...errorReply(429, "TooManyJobs", `Number of allowed queued jobs (${ctx.jobs.options.maxQueued}) has been exceeded. Please try again later.`), headers: { "Retry-After": "1" } };
  }
  const fault = jobFault(ctx);
  const job = ctx.jobs.enqueue(jobType, total, () => fault ?? run());
  return { status: 200, body: jobStatusBody(job, ctx.baseUrl()) };
}

export function createOrUpdateMany(ctx: HandlerContext, kind: ZendeskObject, body: unknown): Reply {
  const parsed = z.object({ [kind]: z.array(objectSchema) }).safeParse(body);
  if (!parsed.success) return invalid(`${kind}: must be an array of objects`);
  const inputs = parsed.data[kind] as Record<string, unknown>[];
  if (inputs.length === 0) return invalid(`${kind}: cannot be empty`);
  if (inputs.length > MAX_BULK) return invalid(`${kind}: too many objects (${inputs.length}); the maximum is ${MAX_BULK}`);
  const run = (): Record<string, unknown>[] => {
    const results = inputs.map((input, index) => {
      if (ctx.faults.rejectRecord()) return { index, status: "Failed", success: false, error: "InjectedRejection", details: "Injected rejection" };
      const result = ctx.store.createOrUpdate(kind, input);
      const action = result.status === "Created" ? "create" : "update";
      return { index, action, success: result.status !== "Failed", ...result, ...(typeof input.external_id === "string" ? { external_id: input.external_id } : {}), ...(kind === "users" && typeof input.email === "string" ? { email: input.email } : {}) };
    });
    return ctx.resultsOrder === "reversed" ? results.reverse() : results;
  };
  return startJob(ctx, `bulk_create_or_update_${kind}`, inputs.length, run, true);
}

export function jobStatus(ctx: HandlerContext, id: string): Reply {
  const job = ctx.jobs.get(id);
  if (!job) return errorReply(404, "RecordNotFound", "Not found");
  return { status: 200, body: jobStatusBody(job, ctx.baseUrl()) };
}

/**
 * GET /api/v2/job_statuses/show_many?ids=a,b: the statuses of several jobs, `{job_statuses: [...]}`; ids Zendesk does
 * not know (expired after a day, or never issued) are left out. The per-request ceiling of 100 ids is the one of
 * Zendesk's other show_many endpoints [unverified for job statuses].
 */
export function jobStatuses(ctx: HandlerContext, query: URLSearchParams): Reply {
  const ids = idList(query.get("ids"));
  if (ids.length === 0) return invalid("ids is required");
  if (ids.length > MAX_BULK) return invalid(`at most ${MAX_BULK} ids per request`);
  const statuses = ids.map((id) => ctx.jobs.get(id)).filter((job) => job !== undefined);
  return { status: 200, body: { job_statuses: statuses.map((job) => jobStatusBody(job, ctx.baseUrl()).job_status) } };
}

function idList(raw: string | null): string[] {
  return (raw ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

export function showMany(ctx: HandlerContext, kind: ZendeskObject, query: URLSearchParams): Reply {
  const ids = idList(query.get("ids"));
  const externalIds = idList(query.get("external_ids"));
  if (ids.length === 0 && externalIds.length === 0) return invalid("ids or external_ids is required");
  if (ids.length > MAX_BULK || externalIds.length > MAX_BULK) return invalid(`at most ${MAX_BULK} ids per request`);
  const found = ids.length > 0 ? ids.map((id) => ctx.store.get(kind, Number(id))).filter((r) => r !== undefined) : externalIds.flatMap((e) => ctx.store.findBy(kind, "external_id", e));
  const unique = [...new Map(found.map((r) => [r.id, r])).values()];
  return { status: 200, body: { [kind]: unique.map((r) => ctx.store.view(kind, r)), next_page: null, previous_page: null, count: unique.length } };
}

/**
 * GET /api/v2/users/search (and organizations/search by external_id): `external_id=` (exact), or `query=` in Zendesk's search syntax; the emulator understands
 * `email:<address>` and `external_id:<id>` (exact, case-insensitive) and otherwise matches name or email containing
 * the text. Zendesk's search index lags writes by up to minutes; the emulator's does not [not emulated].
 */
export function search(ctx: HandlerContext, kind: ZendeskObject, query: URLSearchParams): Reply {
  const externalId = query.get("external_id");
  if (kind === "organizations") {
    // Organizations: only the exact `external_id=` lookup (GET /api/v2/organizations/search).
    if (!externalId) return invalid("external_id or name is required");
    const found = ctx.store.findBy(kind, "external_id", externalId);
    return { status: 200, body: { organizations: found.map((r) => ctx.store.view(kind, r)), next_page: null, previous_page: null, count: found.length } };
  }
  const q = (query.get("query") ?? "").trim().replace(/^"|"$/g, "");
  let found;
  if (externalId) found = ctx.store.findBy("users", "external_id", externalId);
  else if (/^email:/i.test(q)) found = ctx.store.findBy("users", "email", q.slice(6).replace(/^"|"$/g, ""));
  else if (/^external_id:/i.test(q)) found = ctx.store.findBy("users", "external_id", q.slice(12).replace(/^"|"$/g, ""));
  else if (q) found = ctx.store.all("users").filter((u) => [u.attributes.name, u.attributes.email].some((v) => typeof v === "string" && v.toLowerCase().includes(q.toLowerCase())));
  else return invalid("query or external_id is required");
  return { status: 200, body: { users: found.map((r) => ctx.store.view("users", r)), next_page: null, previous_page: null, count: found.length } };
}

export function destroyMany(ctx: HandlerContext, kind: ZendeskObject, query: URLSearchParams): Reply {
  const ids = idList(query.get("ids")).map(Number);
  if (ids.length === 0 || ids.some((id) => !Number.isInteger(id))) return invalid("ids must be a comma-separated list of ids");
  if (ids.length > MAX_BULK) return invalid(`at most ${MAX_BULK} ids per request`);
  return startJob(ctx, `bulk_delete_${kind}`, ids.length, () => ids.map((id, index) => ({ index, ...ctx.store.destroy(kind, id) })), false);
}

/**
 * PUT /api/v2/{kind}/update_many: `?ids=1,2` with `{user: {...}}` applies one change to each (tags through
 * `additional_tags` / `remove_tags`), or `{users: [{id, ...}]}` updates each object individually. Never creates.
 */
export function updateMany(ctx: HandlerContext, kind: ZendeskObject, query: URLSearchParams, body: unknown): Reply {
  const ids = idList(query.get("ids")).map(Number);
  let changes: { id: number; input: Record<string, unknown> }[];
  if (ids.length > 0) {
    const parsed = z.object({ [singular(kind)]: objectSchema }).safeParse(body);
    if (!parsed.success || ids.some((id) => !Number.isInteger(id))) return invalid(`${singular(kind)}: must be an object, with ids a comma-separated list of ids`);
    const input = parsed.data[singular(kind)] as Record<string, unknown>;
    changes = ids.map((id) => ({ id, input }));
  } else {
    const parsed = z.object({ [kind]: z.array(z.object({ id: z.number().int() }).catchall(z.unknown())) }).safeParse(body);
    if (!parsed.success) return invalid(`${kind}: must be an array of objects, each with its id`);
    changes = (parsed.data[kind] as ({ id: number } & Record<string, unknown>)[]).map(({ id, ...input }) => ({ id, input }));
  }
  if (changes.length === 0) return invalid("nothing to update");
  if (changes.length > MAX_BULK) return invalid(`at most ${MAX_BULK} objects per request`);
  return startJob(ctx, `bulk_update_${kind}`, changes.length, () => changes.map(({ id, input }, index) => ({ index, ...ctx.store.updateById(kind, id, input) })), false);
}

export function listFields(ctx: HandlerContext, kind: ZendeskObject): Reply {
  const key = customKey(kind);
  const fields = ctx.store.fields(kind).map((f, i) => fieldResponse(f, (kind === "users" ? 1_000 : 2_000) + i, i, ctx.schemaStamp));
  return { status: 200, body: { [key]: fields, next_page: null, previous_page: null, count: fields.length } };
}
