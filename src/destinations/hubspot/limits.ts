/** HubSpot's documented limits and the `X-HubSpot-RateLimit-*` headers that correct them at run time. */
import type { DestinationLimits, RateLimitInfo } from "../types.ts";

/**
 * The lowest documented tier (Free/Starter private apps, and OAuth apps: 100 requests per 10 s, 250,000 a day):
 * the portal's tier is not known before the first answer, whose headers then give the real figures.
 * Ten requests in flight: the pacer, not the concurrency, holds the rate; at HubSpot's usual 300 ms or more per
 * batch upsert, reaching 190 (or 250) requests per 10 s takes 6 to 8 requests in flight. With 4, the throughput
 * bench reached only 0.62 of the limit once answers took a (time-scaled) 300 ms.
 */
export const HUBSPOT_DOCUMENTED_LIMITS: DestinationLimits = { requestsPerWindow: 100, windowMs: 10_000, daily: 250_000, concurrency: 10 };

function header(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== "object") return undefined;
  // Node hands header names lower-cased (`name` is): one lookup, the scan only for headers from elsewhere.
  const direct = (headers as Record<string, unknown>)[name];
  if (typeof direct === "string") return direct;
  const entry = Object.entries(headers as Record<string, unknown>).find(([k]) => k.toLowerCase() === name);
  return typeof entry?.[1] === "string" ? entry[1] : undefined;
}

export function hubspotHeader(headers: unknown, name: string): string | undefined {
  return header(headers, name);
}

/** Parses HubSpot's rate-limit headers (present on every authenticated answer; OAuth calls omit the daily pair). */
export function hubspotRateLimitInfo(headers: unknown): RateLimitInfo {
  const num = (name: string): number | undefined => {
    const value = header(headers, name);
    if (value === undefined || value.trim() === "") return undefined;
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  };
  const info: RateLimitInfo = {};
  const set = (key: keyof RateLimitInfo, name: string): void => {
    const n = num(name);
    if (n !== undefined) info[key] = n;
  };
  set("windowMax", "x-hubspot-ratelimit-max");
  set("windowRemaining", "x-hubspot-ratelimit-remaining");
  set("windowMs", "x-hubspot-ratelimit-interval-milliseconds");
  set("daily", "x-hubspot-ratelimit-daily");
  set("dailyRemaining", "x-hubspot-ratelimit-daily-remaining");
  return info;
}
