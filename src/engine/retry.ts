/**
 * One retry policy for every destination call: a retryable `DestinationRequestError` (429, 5xx, network) is sent
 * again after the destination's `Retry-After`, or an exponential backoff with jitter, up to `maxAttempts` calls.
 */
import { setTimeout as delay } from "node:timers/promises";
import { DestinationRequestError } from "../destinations/types.ts";

export interface RetryPolicy {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RetryCounters {
  requests: number;
  retries: number;
}

export async function retrying<T>(call: () => Promise<T>, policy: RetryPolicy, counters: RetryCounters): Promise<T> {
  const maxAttempts = policy.maxAttempts ?? 6;
  const baseDelayMs = policy.baseDelayMs ?? 500;
  const maxDelayMs = policy.maxDelayMs ?? 60_000;
  const sleep = policy.sleep ?? ((ms: number) => delay(ms));
  for (let attempt = 1; ; attempt += 1) {
    counters.requests += 1;
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof DestinationRequestError) || !error.retryable || attempt >= maxAttempts) throw error;
      counters.retries += 1;
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      await sleep(Math.min(maxDelayMs, error.retryAfterMs ?? backoff));
    }
  }
}
