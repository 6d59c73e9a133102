/**
 * One retry policy for every destination call: a retryable `DestinationRequestError` (429, 5xx, network) is sent
 * again after the destination's `Retry-After`, or an exponential backoff with jitter, up to `maxAttempts` calls, and
 * as long as the run's retry budget lasts. A spent budget ends the run cleanly (the rest is not sent, resumes next
 * run) rather than failing rows: a destination that needs that many retries is not healthy enough to write to.
 *
 * A throttled request (429) was not processed: throttles are counted apart from failures (`maxThrottledAttempts`), so
 * a batch that met a few 429s and a few 5xx is not given up after six answers of either kind, and they do not open
 * the circuit (pacing.ts). Rows of a batch that stayed throttled end as transient dead letters, retried on a later run.
 */
import { setTimeout as delay } from "node:timers/promises";
import { DestinationRequestError } from "../destinations/types.ts";

export interface RetryPolicy {
  /** Calls per request when the destination fails (5xx, network); default 6. */
  maxAttempts?: number;
  /** Throttled answers (429) per request before it is given up; default 6, counted apart from failures. */
  maxThrottledAttempts?: number;
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

export async function retrying<T>(call: () => Promise<T>, policy: RetryPolicy, counters: RetryCounters): Promise<T> {
  const maxAttempts = policy.maxAttempts ?? 6;
  const maxThrottledAttempts = policy.maxThrottledAttempts ?? 6;
  const baseDelayMs = policy.baseDelayMs ?? 500;
  const maxDelayMs = policy.maxDelayMs ?? 60_000;
  const sleep = policy.sleep ?? ((ms: number) => delay(ms));
  let failures = 0;
  let throttles = 0;
  for (;;) {
    counters.requests += 1;
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof DestinationRequestError) || !error.retryable) throw error;
      if (error.throttled) throttles += 1;
      else failures += 1;
      if (failures >= maxAttempts || throttles >= maxThrottledAttempts) throw error;
      const attempt = failures + throttles;
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 30)) * (0.5 + Math.random() / 2);
      const wait = Math.min(maxDelayMs, error.retryAfterMs ?? backoff);
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
