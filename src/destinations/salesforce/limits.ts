/** Salesforce's documented limits and the `Sforce-Limit-Info` header that reports the daily allowance. */
import type { DestinationLimits, RateLimitInfo } from "../types.ts";

/**
 * Salesforce documents no per-second request rate, only the org's daily allowance (reported on every answer) and
 * at most 25 concurrent long-running requests (5 in developer orgs): four in flight stays well inside both.
 */
export const SALESFORCE_DOCUMENTED_LIMITS: DestinationLimits = { windowMs: 1000, concurrency: 4 };

/** Parses `Sforce-Limit-Info: api-usage=18/5000`. */
export function salesforceRateLimitInfo(header: string | undefined): RateLimitInfo {
  const m = /api-usage=(\d+)\/(\d+)/.exec(header ?? "");
  if (!m) return {};
  const used = Number(m[1]);
  const limit = Number(m[2]);
  return { daily: limit, dailyRemaining: Math.max(0, limit - used) };
}
