/** One interface for every destination; each destination is a folder behind it. */
import type { WarehouseValue } from "../warehouse/types.ts";

/** One row as the destination will receive it: its sync key and its mapped fields (destination names). */
export interface DestinationRecord {
  key: string;
  fields: Record<string, WarehouseValue>;
}

export type RecordOutcome =
  | { key: string; status: "created" | "updated"; recordId: string }
  | { key: string; status: "failed"; code: string; message: string };

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

  constructor(
    message: string,
    options: { status?: number; code: string; retryable?: boolean; splittable?: boolean; exhausted?: boolean; retryAfterMs?: number },
  ) {
    super(message);
    this.name = "DestinationRequestError";
    this.status = options.status;
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.splittable = options.splittable ?? false;
    this.exhausted = options.exhausted ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export interface Destination {
  /** e.g. `hubspot contacts by email`, for messages. */
  readonly description: string;
  /** The most records one write request may carry. */
  readonly maxBatchSize: number;
  /** Keys equal under this function address one destination record (HubSpot emails are case-insensitive). */
  normalizeKey(key: string): string;
  /** Checks the mapping against the destination before anything is written; returns the problems found. */
  preflight(): Promise<string[]>;
  /** Writes one batch (≤ maxBatchSize, no two keys equal under normalizeKey); one outcome per record. */
  write(records: DestinationRecord[]): Promise<RecordOutcome[]>;
}
