/**
 * What kind of failure a failed row is, and when it may be tried again: the one rule the engine (which records
 * outcomes) and the ledger (which keeps dead letters and decides what the next run sends) share.
 *
 * - permanent: the destination refused this row's content (an invalid value, an unknown record, a duplicate match).
 *   Sending the same values again gets the same answer, so the row is not resent until its hash changes or someone
 *   runs `replay`.
 * - transient: the destination did not answer well enough to judge the row (retries or time exhausted, 5xx, 429, a
 *   timeout, a lock). The row is tried again on a later run, once its backoff has passed: the backoff doubles with
 *   each failed attempt, so a destination that stays broken is asked less and less often.
 */
import type { FailedOutcome } from "../destinations/types.ts";
import { envValue } from "../config/env.ts";

export type FailureKind = "permanent" | "transient";

/** Codes that say nothing about the row's content: the same row may land later. */
const TRANSIENT_CODES = new Set([
  // Whole requests that failed after their retries (src/destinations/*/errors.ts, src/engine/retry.ts, circuit.ts).
  "SERVER_ERROR",
  "RATE_LIMIT",
  "NETWORK",
  "TIMEOUT",
  "RETRY_BUDGET_SPENT",
  "CIRCUIT_OPEN",
  "DAILY_LIMIT",
  "UNEXPECTED_RESPONSE",
  "NO_RESULT",
  "BULK_TIMEOUT",
  "BULK_JOB_FAILED",
  "BULK_UNPROCESSED",
  // A Zendesk bulk job (write or removal) that ended failed or killed: nothing in it was applied or judged.
  "JOB_FAILED",
  "JOB_KILLED",
  // Salesforce per-record codes that clear on their own.
  "UNABLE_TO_LOCK_ROW",
  "REQUEST_RUNNING_TOO_LONG",
  "SERVER_UNAVAILABLE",
]);

/** A failed row's kind: transient when the engine says the request could be retried, or its code says so. */
export function failureKind(outcome: Pick<FailedOutcome, "code" | "transient">): FailureKind {
  return outcome.transient === true || TRANSIENT_CODES.has(outcome.code) ? "transient" : "permanent";
}

/** The longest wait between two attempts of one row: a day (a daily sync still tries every run). */
const MAX_BACKOFF_MS = 24 * 60 * 60_000;

/** Backoff across runs of a transient dead letter: the first retry waits this long (DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS). */
export function backoffBaseMs(env: NodeJS.ProcessEnv): number {
  return envValue(env, "DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS");
}

/**
 * When a row that has now failed `attempts` times may be sent again. Transient: base × 2^(attempts-1), capped at a
 * day. Permanent: never by itself (null): only a changed row or `replay` sends it.
 */
export function nextAttemptAt(kind: FailureKind, attempts: number, now: Date, baseMs: number): Date | null {
  if (kind === "permanent") return null;
  const wait = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return new Date(now.getTime() + wait);
}
