/**
 * Salesforce sObjects by an external id, through jsforce: sObject Collections upsert (≤ 200 records a request,
 * `allOrNone: false`, per-record errors as failed outcomes) and, for large runs, Bulk API 2.0 (bulk.ts).
 *
 * Every request goes through `conn.request` with jsforce's own retry off (it would resend GETs 5× on 429/5xx
 * behind the pacer's back, and it never resends PATCH/POST anyway): the engine paces and retries. A per-request
 * transport wrapper captures the HTTP status and headers, so `Sforce-Limit-Info` reaches the pacer and a 403 can
 * be told from a 429.
 *
 * A key that matches several records (DUPLICATE_EXTERNAL_ID) is never resolved by guessing: it fails, with the
 * matching record ids in the message.
 */
import { PassThrough, type Duplex, type Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import type { HttpRequest, HttpResponse } from "jsforce";
import { StreamPromise } from "jsforce/lib/util/promise.js";
import { checkMapping, describeForCheck, type MappedField } from "../mapping.ts";
import {
  canonicalKey,
  DestinationRequestError,
  UNPACED,
  type KeyRule,
  type BulkWriter,
  type CurrentRecord,
  type Destination,
  type DestinationLimits,
  type DestinationRecord,
  type DestinationSchema,
  type MembershipOutcome,
  type RecordOutcome,
  type RemoveOutcome,
  type RequestPacer,
  type ValueKind,
} from "../types.ts";
import { SalesforceBulk } from "./bulk.ts";
import { SALESFORCE_ENV, type SalesforceSession } from "./client.ts";
import { toRequestError, type HttpAnswer } from "./errors.ts";
import { SALESFORCE_DOCUMENTED_LIMITS, salesforceRateLimitInfo } from "./limits.ts";
import { describeSchema, queryResultSchema, saveResultsSchema } from "./responses.ts";
import { toSalesforceValue } from "./values.ts";

export const SALESFORCE_MAX_BATCH = 200;
/** Raw CSV per Bulk API 2.0 job: Salesforce's 150 MB upload limit is of the base64-encoded body. */
export const SALESFORCE_BULK_MAX_BYTES = 100_000_000;
/**
 * Records per bulk job by default. The engine keeps four batches, so four jobs, in flight: 25,000 a job holds at most
 * 100,000 records in memory however large the run (issue 19 item 5). Salesforce cuts every job into batches of
 * 10,000 records for its daily allowance whatever the job's size, so smaller jobs cost only a few more API calls.
 */
export const SALESFORCE_BULK_MAX_RECORDS = 25_000;
/** Keys per SOQL `IN (…)`: keeps the query URL far below Salesforce's length limits. */
const QUERY_CHUNK = 100;
/** Per-record errors worth one more try inside the same write: another transaction held the row. */
const TRANSIENT_RECORD_ERRORS = new Set(["UNABLE_TO_LOCK_ROW"]);

export interface SalesforceTarget {
  object: string;
  externalIdField: string;
  fields: MappedField[];
  /** Runs with at least this many records use Bulk API 2.0 (default 10,000). */
  bulkThreshold?: number;
  /** Records per bulk job (default SALESFORCE_BULK_MAX_RECORDS, 25,000). */
  bulkMaxRecords?: number;
  /**
   * Bytes (UTF-8) of CSV per bulk job, header included (default 100,000,000): Salesforce takes at most 150 MB per
   * upload once base64-encoded, so it advises 100 MB of raw CSV.
   */
  bulkMaxBytes?: number;
  /** Where `bulkMaxBytes` was set, for messages (createDestination: the variable it read); default the target's field. */
  bulkMaxBytesFrom?: string;
  bulkPollIntervalMs?: number;
  bulkPollTimeoutMs?: number;
  /** A request with no answer after this long fails as a network error (default 120 s). */
  requestTimeoutMs?: number;
}

const STRING_TYPES = new Set(["string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox", "id", "reference", "encryptedstring"]);
const NUMERIC_TYPES = new Set(["double", "int", "long", "percent", "currency"]);

function accepts(type: string, kind: ValueKind): boolean | undefined {
  if (STRING_TYPES.has(type)) return true;
  if (NUMERIC_TYPES.has(type)) return kind === "number";
  if (type === "boolean") return kind === "boolean";
  if (type === "date" || type === "datetime") return kind === "date" || kind === "datetime";
  return undefined;
}

function soqlString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** A request whose body goes up, or whose answer comes down, as a stream (SalesforceDestination.stream). */
export interface StreamedRequest {
  headers?: Record<string, string>;
  upload?: () => Readable;
  download?: (body: Readable) => Promise<void>;
}

/** Until a streamed request's answer starts: an upload of up to 100 MB may take minutes on a slow link. */
const STREAM_TIMEOUT_MS = 15 * 60_000;

async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

export interface SalesforceAnswer<T> {
  status: number;
  headers: Record<string, string>;
  body: T;
}

export class SalesforceDestination implements Destination {
  readonly maxBatchSize = SALESFORCE_MAX_BATCH;
  readonly limits: DestinationLimits = { ...SALESFORCE_DOCUMENTED_LIMITS };
  readonly description: string;
  readonly bulk: BulkWriter;
  readonly #session: SalesforceSession;
  readonly #target: SalesforceTarget;
  #pacer: RequestPacer = UNPACED;
  #described: { lastModified: string | undefined; schema: DestinationSchema } | undefined;
  #keyRule: KeyRule | undefined;

  constructor(session: SalesforceSession, target: SalesforceTarget) {
    this.#session = session;
    this.#target = target;
    this.description = `salesforce ${target.object} by ${target.externalIdField}`;
    this.bulk = new SalesforceBulk({
      threshold: target.bulkThreshold ?? 10_000,
      maxRecords: target.bulkMaxRecords ?? SALESFORCE_BULK_MAX_RECORDS,
      maxBytes: target.bulkMaxBytes ?? SALESFORCE_BULK_MAX_BYTES,
      maxBytesFrom: target.bulkMaxBytes === undefined ? `the default; ${SALESFORCE_ENV.bulkMaxBytes} sets another` : (target.bulkMaxBytesFrom ?? "the target's bulkMaxBytes"),
      pollIntervalMs: target.bulkPollIntervalMs ?? 5000,
      pollTimeoutMs: target.bulkPollTimeoutMs ?? 30 * 60_000,
      object: target.object,
      externalIdField: target.externalIdField,
      normalizeKey: (key) => this.normalizeKey(key),
      fieldType: (name) => this.#described?.schema.get(name)?.type,
      request: (method, url, body) => this.request(method, url, body),
      stream: (method, url, streamed) => this.stream(method, url, streamed),
    });
  }

  /** OAuth grants run so far (tests; never the token). */
  get tokenGrants(): number {
    return this.#session.grants;
  }

  /**
   * Salesforce matches an external id case-insensitively only when the field is unique and not case-sensitive (its
   * describe's `unique` and `caseSensitive`); every other match field, and Id, exactly. Read from the describe.
   */
  async keyRule(): Promise<KeyRule> {
    let schema: DestinationSchema;
    try {
      schema = this.#described?.schema ?? (await this.describe());
    } catch (error) {
      // Refused credentials and the like reach the caller as request errors, as they do from checkMapping.
      throw toRequestError(error, undefined);
    }
    this.#keyRule = schema.get(this.#target.externalIdField)?.keyRule ?? "exact";
    return this.#keyRule;
  }

  normalizeKey(key: string): string {
    // Before the describe is read, keys are compared as Salesforce does at the least: exactly.
    return canonicalKey(key, this.#keyRule ?? "exact");
  }

  usePacer(pacer: RequestPacer): void {
    this.#pacer = pacer;
  }

  /** One paced REST request with jsforce's retry off, answering the status and headers with the body. */
  async request<T = unknown>(method: "GET" | "PATCH" | "POST" | "DELETE", url: string, body?: unknown, headers: Record<string, string> = {}): Promise<SalesforceAnswer<T>> {
    const conn = await this.#session.connection();
    return this.#pacer.request(async () => {
      let answer: HttpAnswer | undefined;
      const base = conn._transport;
      const transport = {
        httpRequest(req: unknown, options: unknown) {
          const pending = base.httpRequest(req as Parameters<typeof base.httpRequest>[0], options as Parameters<typeof base.httpRequest>[1]);
          pending.then(
            (res) => (answer = { statusCode: res.statusCode, headers: res.headers }),
            () => undefined,
          );
          return pending;
        },
      };
      const request = {
        method,
        url,
        headers: { ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      };
      try {
        const result = await conn.request<T>(request, { transport, retry: { maxRetries: 0 }, timeout: this.#target.requestTimeoutMs ?? 120_000 });
        this.#pacer.observe(salesforceRateLimitInfo(answer?.headers["sforce-limit-info"]));
        return { status: answer?.statusCode ?? 200, headers: answer?.headers ?? {}, body: result };
      } catch (error) {
        this.#pacer.observe(salesforceRateLimitInfo(answer?.headers["sforce-limit-info"]));
        throw toRequestError(error, answer);
      }
    });
  }

  /**
   * One paced request whose body is streamed up (`upload`, called again if jsforce resends the request after a
   * token refresh) and whose successful answer is read as it arrives (`download`): a Bulk API 2.0 job's CSV, either
   * way, is never held whole. Error answers are read whole, so jsforce's refresh on 401 and error parsing apply.
   */
  async stream(method: "GET" | "PUT", url: string, streamed: StreamedRequest): Promise<SalesforceAnswer<unknown>> {
    const conn = await this.#session.connection();
    // jsforce's own transport reads every answer whole; its request function underneath streams both ways.
    const create = (conn._transport as unknown as { getRequestStreamCreator(): (req: HttpRequest, options: unknown) => Duplex }).getRequestStreamCreator();
    return this.#pacer.request(async () => {
      let answer: HttpAnswer | undefined;
      const transport = {
        httpRequest: (req: HttpRequest, options: unknown) =>
          StreamPromise.create<HttpResponse>(() => {
            const http = create(req, options);
            const promise = new Promise<HttpResponse>((resolve, reject) => {
              http.on("error", reject);
              http.once("response", (res: HttpAnswer) => {
                answer = res;
                const body = res.statusCode < 300 && streamed.download ? streamed.download(http).then(() => "") : readText(http);
                body.then(
                  (text) => resolve({ ...res, body: text }),
                  (error: unknown) => {
                    http.destroy(); // an answer left half read would hold its connection
                    reject(error instanceof Error ? error : new Error(String(error)));
                  },
                );
              });
              if (streamed.upload) {
                const upload = streamed.upload();
                upload.on("error", reject);
                upload.pipe(http);
              }
            });
            // HttpApi pipes this stream onward: a detached one, so the answer has one reader only.
            return { stream: new PassThrough().end() as PassThrough, promise };
          }),
      };
      const request = { method, url, headers: { ...streamed.headers } };
      try {
        await conn.request(request, { transport, responseType: "text/plain", retry: { maxRetries: 0 }, timeout: Math.max(this.#target.requestTimeoutMs ?? 120_000, STREAM_TIMEOUT_MS) });
        this.#pacer.observe(salesforceRateLimitInfo(answer?.headers["sforce-limit-info"]));
        return { status: answer?.statusCode ?? 200, headers: answer?.headers ?? {}, body: undefined };
      } catch (error) {
        this.#pacer.observe(salesforceRateLimitInfo(answer?.headers["sforce-limit-info"]));
        throw toRequestError(error, answer);
      }
    });
  }

  async describe(): Promise<DestinationSchema> {
    const cached = this.#described;
    // Describes are large and rarely change: Salesforce answers 304 to If-Modified-Since when nothing did.
    const conditional: Record<string, string> = cached?.lastModified ? { "If-Modified-Since": cached.lastModified } : {};
    const answer = await this.request("GET", `/sobjects/${encodeURIComponent(this.#target.object)}/describe`, undefined, conditional);
    if (answer.status === 304 && cached) return cached.schema;
    const parsed = describeSchema.safeParse(answer.body);
    if (!parsed.success) throw new DestinationRequestError(`Salesforce answered the describe of ${this.#target.object} in an unexpected shape`, { code: "UNEXPECTED_RESPONSE" });
    const schema: DestinationSchema = new Map();
    for (const f of parsed.data.fields) {
      schema.set(f.name, {
        type: f.type,
        // An upsert both creates and updates: a field must allow both.
        writable: f.createable && f.updateable,
        matchable: f.externalId === true || f.name === "Id",
        // A checkbox is never null (an empty one is false); any other field that is not nillable cannot be emptied.
        ...(f.nillable === false && f.type !== "boolean" ? { clearable: false } : {}),
        ...(f.externalId === true || f.name === "Id" ? { keyRule: f.name !== "Id" && f.unique === true && f.caseSensitive === false ? "case_insensitive" : "exact" } : {}),
        ...(f.restrictedPicklist ? { allowed: (f.picklistValues ?? []).filter((v) => v.active !== false).map((v) => v.value) } : {}),
      });
    }
    this.#described = { lastModified: answer.headers["last-modified"], schema };
    return schema;
  }

  async checkMapping(kinds?: Record<string, ValueKind>, clearing?: string): Promise<string[]> {
    const described = await describeForCheck(() => this.describe(), `describe Salesforce object ${this.#target.object}`, (error) => toRequestError(error, undefined));
    if ("problem" in described) return [described.problem];
    return checkMapping(described.schema, { label: `Salesforce ${this.#target.object}`, matchField: this.#target.externalIdField, fields: this.#target.fields, accepts, clearing }, kinds);
  }


  #fieldType(name: string): string | undefined {
    return this.#described?.schema.get(name)?.type;
  }

  #toSObject(record: DestinationRecord): Record<string, unknown> {
    const out: Record<string, unknown> = { attributes: { type: this.#target.object }, [this.#target.externalIdField]: record.key };
    for (const [name, value] of Object.entries(record.fields)) out[name] = toSalesforceValue(value, this.#fieldType(name));
    return out;
  }

  async write(records: DestinationRecord[]): Promise<RecordOutcome[]> {
    const { object, externalIdField } = this.#target;
    const url = `/composite/sobjects/${encodeURIComponent(object)}/${encodeURIComponent(externalIdField)}`;
    const outcomes = new Array<RecordOutcome | undefined>(records.length);
    let pending = records.map((_, i) => i);
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      const answer = await this.request("PATCH", url, { allOrNone: false, records: pending.map((i) => this.#toSObject(records[i]!)) });
      const parsed = saveResultsSchema.safeParse(answer.body);
      if (!parsed.success || parsed.data.length !== pending.length) {
        for (const i of pending) outcomes[i] = { key: records[i]!.key, status: "failed", code: "UNEXPECTED_RESPONSE", message: "Salesforce's answer did not have one save result per record" };
        break;
      }
      const again: number[] = [];
      parsed.data.forEach((result, position) => {
        const index = pending[position]!;
        const key = records[index]!.key;
        if (result.success && result.id) {
          outcomes[index] = { key, status: result.created ? "created" : "updated", recordId: result.id };
          return;
        }
        const first = result.errors[0];
        if (first && TRANSIENT_RECORD_ERRORS.has(first.statusCode) && attempt < 3) {
          again.push(index);
          return;
        }
        const message = result.errors.map((e) => `${e.message}${e.fields?.length ? ` (${e.fields.join(", ")})` : ""}`).join("; ") || "rejected by Salesforce";
        outcomes[index] = { key, status: "failed", code: first?.statusCode ?? "REJECTED", message };
      });
      pending = again;
      if (pending.length > 0) await delay(100 * attempt);
    }
    return records.map((r, i) => outcomes[i] ?? { key: r.key, status: "failed", code: "NO_RESULT", message: "Salesforce returned no result for this record" });
  }

  async readBack(keys: string[], fields: string[]): Promise<Map<string, CurrentRecord>> {
    const { object, externalIdField } = this.#target;
    const byNormalized = new Map<string, string[]>();
    for (const key of keys) byNormalized.set(this.normalizeKey(key), [...(byNormalized.get(this.normalizeKey(key)) ?? []), key]);
    const wanted = [...byNormalized.keys()];
    const select = [...new Set(["Id", "SystemModstamp", externalIdField, ...fields])];
    const rows = new Map<string, Record<string, unknown>[]>();
    for (let start = 0; start < wanted.length; start += QUERY_CHUNK) {
      const chunk = wanted.slice(start, start + QUERY_CHUNK);
      const soql = `SELECT ${select.join(", ")} FROM ${object} WHERE ${externalIdField} IN (${chunk.map(soqlString).join(", ")})`;
      let url: string | undefined = `/query?q=${encodeURIComponent(soql)}`;
      while (url) {
        const answer: SalesforceAnswer<unknown> = await this.request("GET", url);
        const parsed = queryResultSchema.safeParse(answer.body);
        if (!parsed.success) throw new DestinationRequestError("Salesforce answered a query in an unexpected shape", { code: "UNEXPECTED_RESPONSE" });
        for (const row of parsed.data.records) {
          const value = row[externalIdField];
          if (typeof value !== "string") continue;
          const normalized = this.normalizeKey(value);
          rows.set(normalized, [...(rows.get(normalized) ?? []), row]);
        }
        url = parsed.data.done ? undefined : parsed.data.nextRecordsUrl;
      }
    }
    const found = new Map<string, CurrentRecord>();
    for (const [normalized, matches] of rows) {
      const first = matches[0]!;
      const values = Object.fromEntries(fields.map((f) => [f, (first[f] ?? null) as string | number | boolean | null]));
      const current: CurrentRecord = { key: "", recordId: String(first.Id), modifiedAt: String(first.SystemModstamp ?? ""), values };
      if (matches.length > 1) current.duplicates = matches.map((m) => String(m.Id));
      for (const key of byNormalized.get(normalized) ?? []) found.set(key, { ...current, key });
    }
    return found;
  }

  async remove(keys: string[], how: "clear" | "delete", fields: string[]): Promise<RemoveOutcome[]> {
    const current = await this.readBack(keys, []);
    const outcomes = new Map<string, RemoveOutcome>();
    const targets: { key: string; id: string }[] = [];
    for (const key of keys) {
      const record = current.get(key);
      if (!record) outcomes.set(key, { key, status: "absent" });
      else if (record.duplicates) {
        outcomes.set(key, {
          key,
          status: "failed",
          code: "DUPLICATE_EXTERNAL_ID",
          message: `${this.#target.externalIdField} ${key} matches several ${this.#target.object} records: [${record.duplicates.join(", ")}]; none was touched`,
        });
      } else targets.push({ key, id: record.recordId });
    }
    for (let start = 0; start < targets.length; start += SALESFORCE_MAX_BATCH) {
      const chunk = targets.slice(start, start + SALESFORCE_MAX_BATCH);
      const answer =
        how === "delete"
          ? await this.request("DELETE", `/composite/sobjects?ids=${chunk.map((t) => t.id).join(",")}&allOrNone=false`)
          : await this.request("PATCH", "/composite/sobjects", {
              allOrNone: false,
              // JSON null empties a field (Collections update by Id: never creates a record).
              records: chunk.map((t) => ({ attributes: { type: this.#target.object }, Id: t.id, ...Object.fromEntries(fields.map((f) => [f, null])) })),
            });
      const parsed = saveResultsSchema.safeParse(answer.body);
      chunk.forEach(({ key, id }, i) => {
        const result = parsed.success ? parsed.data[i] : undefined;
        if (result?.success) outcomes.set(key, { key, status: how === "delete" ? "deleted" : "cleared", recordId: id });
        else {
          const first = result?.errors[0];
          outcomes.set(key, { key, status: "failed", code: first?.statusCode ?? "NO_RESULT", message: first?.message ?? "Salesforce returned no result for this record" });
        }
      });
    }
    return keys.map((key) => outcomes.get(key)!);
  }

  audience(add: string[], remove: string[]): Promise<MembershipOutcome[]> {
    // Salesforce audiences are Campaign members, a different object model: not supported yet (checked by the planner).
    return Promise.resolve(
      [...add, ...remove].map((key) => ({ key, status: "failed" as const, code: "UNSUPPORTED", message: "audience mode is not supported for Salesforce yet" })),
    );
  }
}
