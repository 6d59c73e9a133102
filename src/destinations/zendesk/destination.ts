/**
 * Zendesk Support users or organizations, matched by `external_id` (or `email`, users only), written through the
 * bulk `create_or_update_many` endpoint (≤ 100 objects a request). Zendesk answers each bulk request with a
 * background job: the jobs in flight are polled together (jobs.ts: one show_many request for all of them, through
 * the pacer, within a small share of what it allows) and each result is mapped back to its record by `index`
 * (results come in request order, which is the fallback). Deletes (`destroy_many`), clears and tags
 * (`update_many`) are jobs too, addressed by record id so they never create a record.
 *
 * Field names in a contract: Zendesk's standard attributes as they are (`name`, `email`, `phone`, `notes`,
 * `details`, …) and custom fields as `user_fields.<key>` / `organization_fields.<key>` (the JSON key their values
 * travel under, then the field's key).
 *
 * Audience mode: a tag. The contract's `list_id` names it; members get the tag (`additional_tags`) and lose it when
 * their row leaves (`remove_tags`); Zendesk's views, triggers and business rules select users and organizations by tag.
 */
import { checkMapping, describeForCheck, type MappedField } from "../mapping.ts";
import {
  canonicalKey,
  type KeyRule,
  DestinationRequestError,
  UNPACED,
  type CurrentRecord,
  type Destination,
  type DestinationLimits,
  type DestinationRecord,
  type DestinationSchema,
  type FieldDescription,
  type MembershipOutcome,
  type RecordOutcome,
  type RemoveOutcome,
  type RequestPacer,
  type ValueKind,
} from "../types.ts";
import type { ZendeskHttp } from "./client.ts";
import { networkError, toRequestError } from "./errors.ts";
import { ZENDESK_DOCUMENTED_LIMITS, zendeskRateLimitInfo } from "./limits.ts";
import { fieldsBodySchema, jobStatusBodySchema, recordsBodySchema, type JobResult, type JobStatus, type ZendeskRecordView } from "./responses.ts";
import { JobWatcher } from "./jobs.ts";
import { toZendeskValue } from "./values.ts";

export const ZENDESK_MAX_BATCH = 100;
export type ZendeskObjectType = "users" | "organizations";

export interface ZendeskTarget {
  object: ZendeskObjectType;
  /** `external_id`, or `email` for users. */
  matchField: string;
  fields: MappedField[];
  /** Audience mode: the tag whose holders are the audience. */
  tag?: string | undefined;
  /** First wait before polling a job (default 250 ms); each further wait doubles, up to `maxPollIntervalMs` (5 s). */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** A job not finished after this long fails the request as retryable (default 10 minutes). */
  pollTimeoutMs?: number;
  /** ZENDESK_REQUESTS_PER_MINUTE: this syncer's share of the account's limit. */
  requestsPerMinute?: number | undefined;
}

/** Standard attributes per object: type, and whether they can match records. Ids and timestamps are read-only. */
const STANDARD: Record<ZendeskObjectType, Record<string, { type: string; matchable?: boolean; readOnly?: boolean; allowed?: string[] }>> = {
  users: {
    name: { type: "text" },
    email: { type: "text", matchable: true },
    external_id: { type: "text", matchable: true },
    phone: { type: "text" },
    notes: { type: "textarea" },
    details: { type: "textarea" },
    alias: { type: "text" },
    time_zone: { type: "text" },
    locale: { type: "text" },
    role: { type: "dropdown", allowed: ["end-user", "agent", "admin"] },
    organization_id: { type: "integer" },
    verified: { type: "checkbox" },
    id: { type: "integer", readOnly: true },
    created_at: { type: "datetime", readOnly: true },
    updated_at: { type: "datetime", readOnly: true },
  },
  organizations: {
    name: { type: "text" },
    external_id: { type: "text", matchable: true },
    details: { type: "textarea" },
    notes: { type: "textarea" },
    domain_names: { type: "multiselect" },
    group_id: { type: "integer" },
    shared_tickets: { type: "checkbox" },
    shared_comments: { type: "checkbox" },
    id: { type: "integer", readOnly: true },
    created_at: { type: "datetime", readOnly: true },
    updated_at: { type: "datetime", readOnly: true },
  },
};

/** Column kinds each Zendesk field type takes. */
function accepts(type: string, kind: ValueKind): boolean | undefined {
  switch (type) {
    case "text":
    case "textarea":
    case "regexp":
    case "dropdown":
    case "multiselect":
      return kind === "string" || kind === "number" || kind === "boolean" ? true : kind === "date" || kind === "datetime";
    case "checkbox":
      return kind === "boolean";
    case "integer":
    case "decimal":
    case "lookup":
      return kind === "number";
    case "date":
    case "datetime":
      return kind === "date" || kind === "datetime";
    default:
      return undefined;
  }
}

/**
 * How Zendesk compares a match field's values: emails case-insensitively, and external ids too (its developer docs
 * call them "not case sensitive": `ian1` and `IAN1` are one user): keys that differ only in case address one record.
 */
export function zendeskKeyRule(matchField: string): KeyRule {
  return matchField === "email" || matchField === "external_id" ? "case_insensitive" : "exact";
}

export class ZendeskDestination implements Destination {
  readonly maxBatchSize = ZENDESK_MAX_BATCH;
  readonly limits: DestinationLimits;
  readonly description: string;
  readonly #http: ZendeskHttp;
  readonly #target: ZendeskTarget;
  readonly #customKey: "user_fields" | "organization_fields";
  #pacer: RequestPacer = UNPACED;
  #schema: DestinationSchema | undefined;
  /** Requests per minute the account allows this syncer (its latest `X-Rate-Limit`): job polls' share before a pacer. */
  #windowMax: number;
  readonly #jobs: JobWatcher;

  constructor(http: ZendeskHttp, target: ZendeskTarget) {
    this.#http = http;
    this.#target = target;
    this.#customKey = target.object === "users" ? "user_fields" : "organization_fields";
    this.limits = { ...ZENDESK_DOCUMENTED_LIMITS, ...(target.requestsPerMinute === undefined ? {} : { requestsPerWindow: target.requestsPerMinute }) };
    this.description = `zendesk ${target.object} by ${target.matchField}`;
    this.#windowMax = target.requestsPerMinute ?? ZENDESK_DOCUMENTED_LIMITS.requestsPerWindow;
    // Polls take their share of what this worker's pacer allows (1/n of the account with `--shard i/n`), not of the
    // whole account: n workers together then poll within the share too.
    const pollLimit = (): { requestsPerWindow: number; windowMs: number } => {
      const paced = this.#pacer.current;
      return paced && Number.isFinite(paced.requestsPerWindow) ? paced : { requestsPerWindow: this.#windowMax, windowMs: this.limits.windowMs };
    };
    this.#jobs = new JobWatcher((path) => this.#call("GET", path), pollLimit, {
      firstWaitMs: target.pollIntervalMs ?? 250,
      maxWaitMs: target.maxPollIntervalMs ?? 5000,
      timeoutMs: target.pollTimeoutMs ?? 10 * 60_000,
    });
  }

  /** Requests this destination spent polling jobs (benchmarks, tests). */
  get jobPolls(): number {
    return this.#jobs.polls;
  }

  keyRule(): Promise<KeyRule> {
    return Promise.resolve(zendeskKeyRule(this.#target.matchField));
  }

  normalizeKey(key: string): string {
    return canonicalKey(key, zendeskKeyRule(this.#target.matchField));
  }

  usePacer(pacer: RequestPacer): void {
    this.#pacer = pacer;
  }

  /** One paced request: the rate-limit headers of every answer (errors included) go to the pacer. */
  async #call(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<unknown> {
    return this.#pacer.request(async () => {
      let answer;
      try {
        answer = await this.#http.send(method, path, body);
      } catch (error) {
        throw networkError(error);
      }
      const info = zendeskRateLimitInfo(answer.headers, this.#target.requestsPerMinute);
      if (info.windowMax !== undefined) this.#windowMax = info.windowMax;
      this.#pacer.observe(info);
      if (answer.status >= 400) throw toRequestError(answer, `${method} ${path.split("?")[0]}`);
      return answer.body;
    });
  }

  /** Starts a bulk job and waits for its end (the job's answer, whatever its status), polled with the jobs in flight. */
  async #job(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<JobStatus> {
    const started = jobStatusBodySchema.safeParse(await this.#call(method, path, body));
    if (!started.success) throw new DestinationRequestError(`Zendesk answered ${method} ${path.split("?")[0]} without a job status`, { code: "UNEXPECTED_RESPONSE" });
    return this.#jobs.wait(started.data.job_status);
  }

  /** Each job result by the position of the object it answers (`index`, else its place in the results). */
  #byIndex(job: JobStatus): Map<number, JobResult> {
    const results = new Map<number, JobResult>();
    (job.results ?? []).forEach((result, position) => results.set(result.index ?? position, result));
    return results;
  }

  #jobFailure(job: JobStatus): { code: string; message: string } {
    return { code: `JOB_${job.status.toUpperCase()}`, message: `Zendesk job ${job.id} ${job.status}${job.message ? `: ${job.message}` : ""}; nothing in it was applied` };
  }

  #resultFailure(result: JobResult | undefined): { code: string; message: string } {
    if (!result) return { code: "NO_RESULT", message: "Zendesk's job returned no result for this record" };
    const details = typeof result.details === "string" ? result.details : result.details === undefined || result.details === null ? "" : JSON.stringify(result.details);
    const code = result.error ?? result.errors ?? "FAILED";
    return { code, message: [result.error ?? result.errors ?? "rejected by Zendesk", details].filter(Boolean).join(": ") };
  }

  async describe(): Promise<DestinationSchema> {
    const schema: DestinationSchema = new Map();
    for (const [name, s] of Object.entries(STANDARD[this.#target.object])) {
      schema.set(name, { type: s.type, writable: !s.readOnly, matchable: s.matchable ?? false, ...(s.allowed ? { allowed: s.allowed } : {}) });
    }
    const key = this.#customKey;
    let path: string | undefined = `/api/v2/${key}`;
    while (path) {
      const parsed = fieldsBodySchema(key).safeParse(await this.#call("GET", path));
      if (!parsed.success) throw new DestinationRequestError(`Zendesk answered GET /api/v2/${key} in an unexpected shape`, { code: "UNEXPECTED_RESPONSE" });
      for (const f of parsed.data[key] as { key: string; type: string; active?: boolean; custom_field_options?: { value: string }[] | null }[]) {
        const description: FieldDescription = { type: f.type, writable: f.active !== false, matchable: false };
        if (f.type === "dropdown" || f.type === "tagger" || f.type === "multiselect") description.allowed = (f.custom_field_options ?? []).map((o) => o.value);
        schema.set(`${key}.${f.key}`, description);
      }
      // next_page is an absolute URL; only its path and query are followed (the base URL stays the configured one).
      const next = parsed.data.next_page;
      path = next ? `${new URL(next, this.#http.baseUrl).pathname}${new URL(next, this.#http.baseUrl).search}` : undefined;
    }
    this.#schema = schema;
    return schema;
  }

  async checkMapping(kinds?: Record<string, ValueKind>, clearing?: string): Promise<string[]> {
    const described = await describeForCheck(() => this.describe(), `read the fields of Zendesk ${this.#target.object}`);
    if ("problem" in described) return [described.problem];
    const label = `Zendesk ${this.#target.object}`;
    const problems = checkMapping(described.schema, { label, matchField: this.#target.matchField, fields: this.#target.fields, accepts, clearing }, kinds);
    const other = this.#target.object === "users" ? "organization_fields." : "user_fields.";
    for (const field of this.#target.fields) {
      if (field.to.startsWith(other)) problems.push(`fields: ${field.to} names a custom field of the other object; custom fields of ${label} are ${this.#customKey}.<key>`);
    }
    return problems;
  }


  /** The object as Zendesk takes it: the match field, standard attributes, custom values under user_fields / organization_fields. */
  #toObject(key: string, fields: Record<string, unknown>, typed: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = { [this.#target.matchField]: key };
    const custom: Record<string, unknown> = {};
    const prefix = `${this.#customKey}.`;
    for (const [name, value] of Object.entries(fields)) {
      const converted = typed ? toZendeskValue(value as never, this.#schema?.get(name)?.type) : value;
      if (name.startsWith(prefix)) custom[name.slice(prefix.length)] = converted;
      else out[name] = converted;
    }
    if (Object.keys(custom).length > 0) out[this.#customKey] = custom;
    return out;
  }

  async write(records: DestinationRecord[]): Promise<RecordOutcome[]> {
    const objects = records.map((r) => this.#toObject(r.key, r.fields, true));
    const job = await this.#job("POST", `/api/v2/${this.#target.object}/create_or_update_many`, { [this.#target.object]: objects });
    if (job.status !== "completed") {
      const failure = this.#jobFailure(job);
      return records.map((r) => ({ key: r.key, status: "failed", ...failure }));
    }
    const results = this.#byIndex(job);
    return records.map((record, index): RecordOutcome => {
      const result = results.get(index);
      const status = result?.status?.toLowerCase();
      if (result && result.success !== false && (status === "created" || status === "updated") && result.id) {
        return { key: record.key, status, recordId: result.id };
      }
      return { key: record.key, status: "failed", ...this.#resultFailure(result) };
    });
  }

  /** Current records of the keys, by normalized key (several when Zendesk holds more than one: never guessed). */
  async #lookup(keys: string[]): Promise<Map<string, ZendeskRecordView[]>> {
    const { object, matchField } = this.#target;
    const wanted = [...new Set(keys.map((k) => this.normalizeKey(k)))];
    const found = new Map<string, ZendeskRecordView[]>();
    const collect = (records: ZendeskRecordView[]): void => {
      for (const record of records) {
        const value = record[matchField];
        if (typeof value !== "string") continue;
        const normalized = this.normalizeKey(value);
        const list = found.get(normalized) ?? [];
        if (!list.some((r) => r.id === record.id)) list.push(record);
        found.set(normalized, list);
      }
    };
    const parse = (body: unknown, what: string): ZendeskRecordView[] => {
      const parsed = recordsBodySchema(object).safeParse(body);
      if (!parsed.success) throw new DestinationRequestError(`Zendesk answered ${what} in an unexpected shape`, { code: "UNEXPECTED_RESPONSE" });
      return parsed.data[object] as ZendeskRecordView[];
    };
    if (matchField === "external_id") {
      // show_many takes a comma-separated list: ids holding a comma are looked up one by one.
      const listable = wanted.filter((k) => !k.includes(","));
      for (let start = 0; start < listable.length; start += ZENDESK_MAX_BATCH) {
        const chunk = listable.slice(start, start + ZENDESK_MAX_BATCH);
        collect(parse(await this.#call("GET", `/api/v2/${object}/show_many?external_ids=${chunk.map(encodeURIComponent).join(",")}`), "show_many"));
      }
      for (const key of wanted.filter((k) => k.includes(","))) {
        collect(parse(await this.#call("GET", `/api/v2/${object}/search?external_id=${encodeURIComponent(key)}`), "a search by external_id"));
      }
    } else {
      // Users by email: Zendesk has no show_many by email, so one exact search per key. Zendesk's search index
      // can lag a write by a few minutes: a user created moments ago may not be found yet.
      for (const key of wanted) {
        collect(parse(await this.#call("GET", `/api/v2/users/search?query=${encodeURIComponent(`email:"${key}"`)}`), "a user search"));
      }
    }
    return found;
  }

  #value(record: ZendeskRecordView, field: string): string | number | boolean | null {
    const prefix = `${this.#customKey}.`;
    const raw = field.startsWith(prefix) ? (record[this.#customKey] as Record<string, unknown> | null | undefined)?.[field.slice(prefix.length)] : record[field];
    if (raw === null || raw === undefined) return null;
    if (Array.isArray(raw)) return raw.map(String).join(";");
    return typeof raw === "string" || typeof raw === "number" || typeof raw === "boolean" ? raw : JSON.stringify(raw);
  }

  async readBack(keys: string[], fields: string[]): Promise<Map<string, CurrentRecord>> {
    const found = await this.#lookup(keys);
    const current = new Map<string, CurrentRecord>();
    for (const key of keys) {
      const matches = found.get(this.normalizeKey(key));
      const first = matches?.[0];
      if (!first) continue;
      current.set(key, {
        key,
        recordId: first.id,
        modifiedAt: first.updated_at ?? "",
        values: Object.fromEntries(fields.map((f) => [f, this.#value(first, f)])),
        ...(matches.length > 1 ? { duplicates: matches.map((m) => m.id) } : {}),
      });
    }
    return current;
  }

  /** Runs one id-addressed bulk job per chunk of targets; each target's outcome from its result (or the job's failure). */
  async #perId<T>(
    targets: { key: string; id: string }[],
    start: (chunk: { key: string; id: string }[]) => Promise<JobStatus>,
    outcome: (target: { key: string; id: string }, result: JobResult | undefined, job: JobStatus) => T,
    failed: (key: string, code: string, message: string) => T,
  ): Promise<T[]> {
    const out: T[] = [];
    for (let at = 0; at < targets.length; at += ZENDESK_MAX_BATCH) {
      const chunk = targets.slice(at, at + ZENDESK_MAX_BATCH);
      let job: JobStatus;
      try {
        job = await start(chunk);
      } catch (error) {
        if (!(error instanceof DestinationRequestError) || error.retryable || error.exhausted) throw error;
        out.push(...chunk.map((t) => failed(t.key, error.code, error.message)));
        continue;
      }
      if (job.status !== "completed") {
        const failure = this.#jobFailure(job);
        out.push(...chunk.map((t) => failed(t.key, failure.code, failure.message)));
        continue;
      }
      const results = this.#byIndex(job);
      out.push(...chunk.map((t, i) => outcome(t, results.get(i), job)));
    }
    return out;
  }

  async remove(keys: string[], how: "clear" | "delete", fields: string[]): Promise<RemoveOutcome[]> {
    const current = await this.readBack(keys, []);
    const { object } = this.#target;
    const outcomes = new Map<string, RemoveOutcome>();
    const targets: { key: string; id: string }[] = [];
    for (const key of keys) {
      const record = current.get(key);
      if (!record) outcomes.set(key, { key, status: "absent" });
      else if (record.duplicates) {
        outcomes.set(key, { key, status: "failed", code: "DUPLICATE_MATCH", message: `${this.#target.matchField} ${key} matches several Zendesk ${object}: [${record.duplicates.join(", ")}]; none was touched` });
      } else targets.push({ key, id: record.recordId });
    }
    const fail = (key: string, code: string, message: string): RemoveOutcome => ({ key, status: "failed", code, message });
    const done = await this.#perId<RemoveOutcome>(
      targets,
      (chunk) =>
        how === "delete"
          ? this.#job("DELETE", `/api/v2/${object}/destroy_many?ids=${chunk.map((t) => t.id).join(",")}`)
          : // Addressed by id (update_many), never by key: a record deleted meanwhile fails instead of being re-created.
            this.#job("PUT", `/api/v2/${object}/update_many`, {
              [object]: chunk.map((t) => ({ id: Number(t.id), ...this.#toObjectWithoutKey(Object.fromEntries(fields.map((f) => [f, null]))) })),
            }),
      (t, result) =>
        result && result.success !== false && result.status?.toLowerCase() !== "failed"
          ? { key: t.key, status: how === "delete" ? "deleted" : "cleared", recordId: t.id }
          : fail(t.key, this.#resultFailure(result).code, this.#resultFailure(result).message),
      fail,
    );
    for (const outcome of done) outcomes.set(outcome.key, outcome);
    return keys.map((key) => outcomes.get(key)!);
  }

  #toObjectWithoutKey(fields: Record<string, unknown>): Record<string, unknown> {
    const { [this.#target.matchField]: _key, ...rest } = this.#toObject("", fields, false);
    void _key;
    return rest;
  }

  async audience(add: string[], remove: string[]): Promise<MembershipOutcome[]> {
    const tag = this.#target.tag;
    const fail = (key: string, code: string, message: string): MembershipOutcome => ({ key, status: "failed", code, message });
    if (tag === undefined) return [...add, ...remove].map((key) => fail(key, "NO_LIST", "the contract has no destination.list_id (the Zendesk tag of the audience)"));
    const { object } = this.#target;
    const found = await this.#lookup([...add, ...remove]);
    const outcomes: MembershipOutcome[] = [];
    const singular = object === "users" ? "user" : "organization";
    for (const [keys, adding] of [
      [add, true],
      [remove, false],
    ] as const) {
      const targets: { key: string; id: string }[] = [];
      for (const key of keys) {
        const matches = found.get(this.normalizeKey(key)) ?? [];
        const record = matches[0];
        if (!record) outcomes.push(fail(key, "NOT_FOUND", `no Zendesk ${singular} has ${this.#target.matchField} ${key}`));
        else if (matches.length > 1) outcomes.push(fail(key, "DUPLICATE_MATCH", `${this.#target.matchField} ${key} matches several Zendesk ${object}: [${matches.map((m) => m.id).join(", ")}]`));
        else if ((record.tags ?? []).includes(tag) === adding) outcomes.push({ key, status: "unchanged", recordId: record.id });
        else targets.push({ key, id: record.id });
      }
      const change = adding ? { additional_tags: [tag] } : { remove_tags: [tag] };
      outcomes.push(
        ...(await this.#perId<MembershipOutcome>(
          targets,
          (chunk) => this.#job("PUT", `/api/v2/${object}/update_many?ids=${chunk.map((t) => t.id).join(",")}`, { [singular]: change }),
          (t, result) =>
            result && result.success !== false && result.status?.toLowerCase() !== "failed"
              ? { key: t.key, status: adding ? "added" : "removed", recordId: t.id }
              : fail(t.key, this.#resultFailure(result).code, this.#resultFailure(result).message),
          fail,
        )),
      );
    }
    return outcomes;
  }
}
