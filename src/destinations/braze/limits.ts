/** Braze's documented limits and the `X-RateLimit-*` headers that correct them at run time. */
import type { DestinationLimits, RateLimitInfo } from "../types.ts";

/**
 * `/users/track`: 3,000 requests per 3 seconds per workspace (docs.braze.com, API rate limits). The other endpoints a
 * run uses have their own, smaller buckets (`/users/export/ids` 250 a minute for workspaces onboarded since August
 * 2024, `/users/delete` 20,000 a minute, `/custom_attributes` 1,000 an hour): they are few per run and their 429s
 * pause the pacer until `X-RateLimit-Reset`. Sixteen in flight: the limit is far above what one syncer sends, so
 * concurrency, not the pacer, bounds a run; more would only queue behind the warehouse checkpoint.
 */
export const BRAZE_DOCUMENTED_LIMITS: DestinationLimits = { requestsPerWindow: 3000, windowMs: 3000, concurrency: 16 };

function number(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  if (value === null || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The limit and what is left of it, from an answer of `/users/track` (other endpoints count against other buckets, so
 * their headers would mislead the pacer). Braze reports when the window resets, not its length: the documented 3 s
 * window stays.
 */
export function brazeRateLimitInfo(headers: Headers): RateLimitInfo {
  const info: RateLimitInfo = {};
  const max = number(headers, "x-ratelimit-limit");
  const remaining = number(headers, "x-ratelimit-remaining");
  if (max !== undefined) info.windowMax = max;
  if (remaining !== undefined) info.windowRemaining = remaining;
  return info;
}

/** How long to wait after a 429: `Retry-After` seconds when sent, else until `X-RateLimit-Reset` (UTC epoch seconds). */
export function brazeRetryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = number(headers, "retry-after") ?? number(headers, "x-ratelimit-retry-after");
  if (retryAfter !== undefined && retryAfter >= 0) return retryAfter * 1000;
  const reset = number(headers, "x-ratelimit-reset");
  if (reset === undefined) return undefined;
  return Math.max(0, reset * 1000 - now);
}
