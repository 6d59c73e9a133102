/** One interface for every destination; each destination is a folder behind it. */
import type { KeyRule } from "../contract/rules.ts";
import type { WarehouseValue } from "../warehouse/types.ts";

/** One row as the destination will receive it: its sync key and its mapped fields (destination names). */
export interface DestinationRecord {
  key: string;
  fields: Record<string, WarehouseValue>;
}

/**
 * A row the destination did not write. `transient`: the whole request failed for a reason that says nothing about
 * the row (its retries ran out on 5xx, 429 or the network), so a later run may try it again (src/engine/failures.ts).
 */
export type FailedOutcome = { key: string; status: "failed"; code: string; message: string; transient?: boolean };

export type RecordOutcome = { key: string; status: "created" | "updated"; recordId: string } | FailedOutcome;

/** What `remove` did to the destination record a key addresses; `absent`: there was none (nothing to do). */
export type RemoveOutcome = { key: string; status: "cleared" | "deleted" | "absent"; recordId?: string } | FailedOutcome;

/** What `audience` did to a key's list membership; `unchanged`: it already was (or was not) a member. */
export type MembershipOutcome = { key: string; status: "added" | "removed" | "unchanged"; recordId: string } | FailedOutcome;

/** A whole request failed (nothing in it was written). The engine decides to retry, split or give up. */
export class DestinationRequestError extends Error {
  readonly status: number | undefined;
  readonly code: string;
  /** Worth sending again unchanged (rate limit, server error, network). */
  readonly retryable: boolean;
  /** Worth splitting: the request was refused for something one of its records carries (a validation error). */
  readonly splittable: boolean;
  /** The destination says no request will succeed until later (daily quota): end the run, resume next time. */
  readonly exhausted: boolean;
  readonly retryAfterMs: number | undefined;

  /**
   * The destination refused the request for its rate limit (429, Salesforce's throttling 403): nothing was processed,
   * so resending is always safe, and waiting, not giving up, is the answer. Not a sign the destination is down.
   */
  get throttled(): boolean {
    return this.retryable && (this.status === 429 || this.code === "RATE_LIMIT" || this.code === "THROTTLED");
  }

  constructor(
    message: string,
    options: { status?: number; code: string; retryable?: boolean; splittable?: boolean; exhausted?: boolean; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DestinationRequestError";
    this.status = options.status;
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.splittable = options.splittable ?? false;
    this.exhausted = options.exhausted ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * A record of a request that failed as a whole: failed with the request's code and message, transiently when the
 * request was worth sending again (its failure says nothing about the record).
 */
export function failedByRequest(key: string, error: DestinationRequestError): FailedOutcome {
  return { key, status: "failed", code: error.code, message: error.message, ...(error.retryable ? { transient: true } : {}) };
}

/** One destination field as the destination describes it (the drift check compares two of these). */
export interface FieldDescription {
  /** The destination's own type name: HubSpot `string|number|date|datetime|enumeration|bool`, Salesforce `string|picklist|double|…`. */
  type: string;
  /** The API may set it on both create and update (not calculated, not read-only). */
  writable: boolean;
  /** The only values accepted (HubSpot enumeration options, Salesforce restricted picklist values); absent: any. */
  allowed?: string[];
  /** Unique per record, so it can match records (HubSpot `hasUniqueValue`, Salesforce `externalId`). */
  matchable: boolean;
  /** For a field that can match: how the destination compares its values (absent: exactly). */
  keyRule?: KeyRule;
  /** False when the destination refuses an empty value (Salesforce `nillable: false`): a removal cannot clear it. */
  clearable?: boolean;
}

// How a destination compares its match field's values: a rule of the contract's sync key (src/contract/rules.ts).
export { canonicalKey, type KeyRule } from "../contract/rules.ts";

/** Field name → description, for every field of the destination object. */
export type DestinationSchema = Map<string, FieldDescription>;

/** The kind of values a mapped warehouse column holds, when the caller knows it (for the type check). */
export type ValueKind = "string" | "number" | "boolean" | "date" | "datetime";

/** The destination record a key addresses, as it is now: for late-arriving protection and reconcile. */
export interface CurrentRecord {
  key: string;
  recordId: string;
  /** ISO timestamp of the destination's last modification (HubSpot `updatedAt`, Salesforce `SystemModstamp`). */
  modifiedAt: string;
  /** The requested fields; null when unset. */
  values: Record<string, string | number | boolean | null>;
  /** Set when several destination records match the key: all their ids. Such a key is never written by guessing. */
  duplicates?: string[];
}

/** The documented limits the pacer starts from; response headers correct them as the run goes. */
export interface DestinationLimits {
  /** Requests allowed per rolling window (HubSpot: per 10 s); absent when the destination documents none. */
  requestsPerWindow?: number;
  windowMs: number;
  /** Requests per day, when documented. */
  daily?: number;
  /** Requests in flight at once. */
  concurrency: number;
}

/** What one response said about the rate limits (`X-HubSpot-RateLimit-*`, `Sforce-Limit-Info`). */
export interface RateLimitInfo {
  windowMax?: number;
  windowRemaining?: number;
  windowMs?: number;
  daily?: number;
  dailyRemaining?: number;
}

/**
 * The engine's pacer as a destination sees it: every HTTP request a destination makes goes through `request`, and
 * the destination reports what each response (success or error) said about the limits through `observe`.
 */
export interface RequestPacer {
  request<T>(call: () => Promise<T>): Promise<T>;
  observe(info: RateLimitInfo): void;
  /**
   * The requests per window this pacer keeps to now: its part of the account's limit (a shard's share), after the
   * headers' corrections and what 429s taught it. Absent when nothing paces.
   */
  readonly current?: { requestsPerWindow: number; windowMs: number };
}

/** Before the engine attaches its pacer, requests go straight out (one-off calls, tests). */
export const UNPACED: RequestPacer = {
  request: (call) => call(),
  observe: () => undefined,
};

/** Bulk loading: when a run has at least `threshold` records, they are written as jobs of up to `maxRecords`. */
export interface BulkWriter {
  readonly threshold: number;
  readonly maxRecords: number;
  /**
   * Writes a batch in one job or several; `retry` is the engine's retry policy, applied to each job on its own so a
   * transient failure of one job resends that job alone, in this run.
   */
  write(records: DestinationRecord[], retry: RetryJob): Promise<RecordOutcome[]>;
}

/** The engine's retry policy around one request (or one bulk job): resends it while its error is retryable. */
export type RetryJob = <T>(call: () => Promise<T>) => Promise<T>;

export interface Destination {
  /** e.g. `hubspot contacts by email`, for messages. */
  readonly description: string;
  /** The most records one write request may carry. */
  readonly maxBatchSize: number;
  /** Documented limits, the pacer's starting point. */
  readonly limits: DestinationLimits;
  /** Present when the destination has a bulk path for large runs (Salesforce Bulk API 2.0). */
  readonly bulk?: BulkWriter | undefined;
  /**
   * How the destination compares keys of the contract's match field (HubSpot: emails case-insensitively, other
   * unique properties exactly; Salesforce: as the field's describe says). May read the describe once per run.
   */
  keyRule(): Promise<KeyRule>;
  /** Keys equal under this function address one destination record: `canonicalKey` under `keyRule()`. */
  normalizeKey(key: string): string;
  /** Routes every later request through the engine's pacer. */
  usePacer(pacer: RequestPacer): void;
  /** The object's fields as the destination describes them now (drift: compare with an earlier describe). */
  describe(): Promise<DestinationSchema>;
  /**
   * Checks the contract's mapping against `describe()`: the match field exists and is unique, every mapped field
   * exists and is writable, its type fits the column (`kinds`, destination field → kind, when known), and the
   * contract's `allowed` values are a subset of the destination's. Returns the problems found.
   */
  checkMapping(kinds?: Record<string, ValueKind>, clearing?: string): Promise<string[]>;
  /** Writes one batch (≤ maxBatchSize, no two keys equal under normalizeKey); one outcome per record. */
  write(records: DestinationRecord[]): Promise<RecordOutcome[]>;
  /** The current destination records of these keys (keys with none are absent from the map, keyed as given). */
  readBack(keys: string[], fields: string[]): Promise<Map<string, CurrentRecord>>;
  /** For rows that left the eligible set: empty `fields` on their records, or delete the records. Never creates. */
  remove(keys: string[], how: "clear" | "delete", fields: string[]): Promise<RemoveOutcome[]>;
  /** Audience mode: adds and removes the keys' records to and from the contract's list. */
  audience(add: string[], remove: string[]): Promise<MembershipOutcome[]>;
}
