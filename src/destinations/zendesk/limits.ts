/** Zendesk's documented limits and the `X-Rate-Limit` / `X-Rate-Limit-Remaining` headers that correct them. */
import type { DestinationLimits, RateLimitInfo } from "../types.ts";

/**
 * Limits are per account per minute and depend on the plan (Team 200, Growth / Professional 400, Enterprise 700,
 * Enterprise Plus or the High Volume add-on 2,500). The pacer starts from the lowest current plan, 200, and every
 * answer's `X-Rate-Limit` then gives the account's real figure. 24 batches in flight: each holds one bulk job until it
 * ends, and under load the jobs are polled together once per 1/20 of the window's requests (jobs.ts: polls take 5 %),
 * so the batches in flight can finish at most concurrency × 5 % of the limit per poll: 24 gives 1.2x the limit, room
 * above it, and stays under the account's cap on queued jobs (30 [unverified]) with room for other clients' jobs.
 */
export const ZENDESK_DOCUMENTED_LIMITS = { requestsPerWindow: 200, windowMs: 60_000, concurrency: 24 } satisfies DestinationLimits;

function num(headers: Headers | undefined, name: string): number | undefined {
  const raw = headers?.get(name);
  if (raw === null || raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * What an answer's headers say, with `cap` (ZENDESK_REQUESTS_PER_MINUTE) taken out of the account's limit: a syncer
 * allowed 300 of an account's 700 sees a window of 300 and 400 fewer requests remaining.
 */
export function zendeskRateLimitInfo(headers: Headers | undefined, cap?: number): RateLimitInfo {
  const max = num(headers, "x-rate-limit") ?? num(headers, "ratelimit-limit");
  const remaining = num(headers, "x-rate-limit-remaining") ?? num(headers, "ratelimit-remaining");
  const info: RateLimitInfo = {};
  if (max === undefined && remaining === undefined) return info;
  info.windowMs = 60_000;
  const windowMax = max === undefined ? cap : cap === undefined ? max : Math.min(cap, max);
  if (windowMax !== undefined) info.windowMax = windowMax;
  if (remaining !== undefined) info.windowRemaining = Math.max(0, remaining - (max !== undefined && windowMax !== undefined ? max - windowMax : 0));
  return info;
}

export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const seconds = num(headers, "retry-after");
  return seconds !== undefined && seconds >= 0 ? seconds * 1000 : undefined;
}
