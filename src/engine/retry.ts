/**
 * One retry policy for every destination call: a retryable `DestinationRequestError` (429, 5xx, network) is sent
 * again after the destination's `Retry-After`, or an exponential backoff with jitter, up to `maxAttempts` calls, and
 * as long as the run's retry budget lasts. A spent budget ends the run cleanly (the rest is not sent, resumes next
 * run) rather than failing rows: a destination that needs that many retries is not healthy enough to write to.
 *
 * A throttled request (429) was not processed: throttles do not count against `maxAttempts`, and they are bounded by
 * time, not by a count. A storm lasts as long as the destination needs (the pacer learns its rate from the 429s:
 * pacing.ts), and a count of throttles is spent faster the busier the machine and the more batches compete, so a
 * count-bounded batch loses its rows in a storm the run would have come through. A request is given up only when it
 * has been throttled for `maxThrottledMs` while the destination accepted no request at all (no progress: it is
 * refusing, not pacing), or when the run's retry budget (count and waiting time) is spent. Rows of a batch given up
 * end as transient dead letters, retried on a later run.
 */
import { setTimeout as delay } from "node:timers/promises";
import { DestinationRequestError } from "../destinations/types.ts";

export interface RetryPolicy {
  /** Calls per request when the destination fails (5xx, network); default 6. */
  maxAttempts?: number;
  /**
   * How long a request may stay throttled while the destination accepts no request at all (default 60 s,
   * `DBT_ACTIVATION_THROTTLE_TIMEOUT_MS`): while other requests still land, the storm is progress and nobody gives up.
   */
  maxThrottledMs?: number;
  /** When the destination last accepted a request (the pacer's `lastAcceptedAt`); without it, only this request counts. */
  lastAcceptedAt?: () => number | undefined;
  /** The clock (tests drive it with `sleep`). */
  now?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Shared by every call of one run (see `RetryBudget`). */
  budget?: RetryBudget;
}

export interface RetryCounters {
  requests: number;
  retries: number;
}

export interface RetryBudgetLimits {
  /** Retries allowed in the whole run; default 1,000. */
  maxRetries?: number;
  /** Time the run may spend waiting before retries; default unlimited. */
  maxDurationMs?: number;
}

/** The retries one run may spend, across all its batches (the contract's `monitoring.retry_budget`). */
export class RetryBudget {
  readonly maxRetries: number;
  readonly maxDurationMs: number;
  #retries = 0;
  #waitedMs = 0;

  constructor(limits: RetryBudgetLimits = {}) {
    this.maxRetries = limits.maxRetries ?? 1000;
    this.maxDurationMs = limits.maxDurationMs ?? Infinity;
  }

  /** Takes one retry that waits `delayMs` first; false when the budget cannot afford it. */
  take(delayMs: number): boolean {
    if (this.#retries >= this.maxRetries || this.#waitedMs + delayMs > this.maxDurationMs) return false;
    this.#retries += 1;
    this.#waitedMs += delayMs;
    return true;
  }

  get spent(): { retries: number; waitedMs: number } {
    return { retries: this.#retries, waitedMs: this.#waitedMs };
  }
}

/** The default of `maxThrottledMs`: a minute in which the destination accepted nothing at all. */
export const DEFAULT_MAX_THROTTLED_MS = 60_000;

export async function retrying<T>(call: () => Promise<T>, policy: RetryPolicy, counters: RetryCounters): Promise<T> {
  const maxAttempts = policy.maxAttempts ?? 6;
  const maxThrottledMs = policy.maxThrottledMs ?? DEFAULT_MAX_THROTTLED_MS;
  const now = policy.now ?? Date.now;
  const baseDelayMs = policy.baseDelayMs ?? 500;
  const maxDelayMs = policy.maxDelayMs ?? 60_000;
  const sleep = policy.sleep ?? ((ms: number) => delay(ms));
  let failures = 0;
  let throttles = 0;
  let throttledSince: number | undefined;
  for (;;) {
    counters.requests += 1;
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof DestinationRequestError) || !error.retryable) throw error;
      let wait: number;
      if (error.throttled) {
        throttles += 1;
        const at = now();
        throttledSince ??= at;
        // Throttled with no request accepted since (ours or another batch's) for the whole bound: given up.
        const since = Math.max(throttledSince, policy.lastAcceptedAt?.() ?? -Infinity);
        const left = since + maxThrottledMs - at;
        if (left <= 0) throw error;
        // The destination's own signal (Retry-After) first; without one, a backoff (the pacer also holds every request
        // until its pause after the 429 ends and its learned rate lets one go). Never past the bound: one last try there.
        wait = Math.min(left, maxDelayMs, error.retryAfterMs ?? backoff(throttles, baseDelayMs, maxDelayMs));
      } else {
        failures += 1;
        if (failures >= maxAttempts) throw error;
        wait = Math.min(maxDelayMs, error.retryAfterMs ?? backoff(failures + throttles, baseDelayMs, maxDelayMs));
      }
      if (policy.budget && !policy.budget.take(wait)) {
        const { retries } = policy.budget.spent;
        throw new DestinationRequestError(`the run's retry budget is spent (${retries} retries); last error: ${error.message}`, {
          code: "RETRY_BUDGET_SPENT",
          exhausted: true,
          cause: error,
        });
      }
      counters.retries += 1;
      await sleep(wait);
    }
  }
}

/** Exponential backoff with jitter (half to all of base × 2^(attempt-1), capped). */
function backoff(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 30)) * (0.5 + Math.random() / 2);
}
