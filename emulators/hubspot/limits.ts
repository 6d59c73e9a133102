// Per-portal rate limits: a rolling window (HubSpot's TEN_SECONDLY_ROLLING) and a daily
// counter, plus the X-HubSpot-RateLimit-* headers HubSpot puts on every response.
//
// Rejected (429) calls are NOT counted: HubSpot documents that over-limit requests do not
// consume quota, so a client that keeps retrying is not locked out for longer.

export interface LimitConfig {
  perTenSeconds: number;
  daily: number;
  windowMs: number;
}

export type LimitPolicy = "TEN_SECONDLY_ROLLING" | "DAILY";

export type LimitVerdict = { ok: true } | { ok: false; policy: LimitPolicy; retryAfterSeconds: number };

const SECOND_MS = 1000;

function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

export class RateLimiter {
  private readonly config: LimitConfig;
  private stamps: number[] = []; // accepted calls, oldest first
  private dailyUsed = 0;
  private day = "";

  constructor(config: LimitConfig) {
    this.config = config;
  }

  reset(): void {
    this.stamps = [];
    this.dailyUsed = 0;
    this.day = "";
  }

  private prune(now: number): void {
    // Keep enough history for both the rolling window and the informational secondly count.
    const keep = Math.max(this.config.windowMs, SECOND_MS);
    while (this.stamps.length > 0 && (this.stamps[0] ?? 0) <= now - keep) this.stamps.shift();
    const today = utcDay(now);
    if (today !== this.day) {
      // HubSpot resets the daily quota at midnight (portal time zone); the emulator uses UTC.
      this.day = today;
      this.dailyUsed = 0;
    }
  }

  private inWindow(now: number, ms: number): number {
    let n = 0;
    for (let i = this.stamps.length - 1; i >= 0 && (this.stamps[i] ?? 0) > now - ms; i--) n++;
    return n;
  }

  check(now: number): LimitVerdict {
    this.prune(now);
    if (this.dailyUsed >= this.config.daily) {
      const midnight = Date.parse(`${utcDay(now)}T00:00:00.000Z`) + 24 * 3600 * SECOND_MS;
      return { ok: false, policy: "DAILY", retryAfterSeconds: Math.max(1, Math.ceil((midnight - now) / SECOND_MS)) };
    }
    const used = this.inWindow(now, this.config.windowMs);
    if (used >= this.config.perTenSeconds) {
      // The oldest call still inside the window decides when a slot frees up.
      const oldest = this.stamps[this.stamps.length - used] ?? now;
      const waitMs = oldest + this.config.windowMs - now;
      return { ok: false, policy: "TEN_SECONDLY_ROLLING", retryAfterSeconds: Math.max(1, Math.ceil(waitMs / SECOND_MS)) };
    }
    return { ok: true };
  }

  record(now: number): void {
    this.prune(now);
    this.stamps.push(now);
    this.dailyUsed++;
  }

  /** Headers describing the state after the current call was (or was not) counted. */
  headers(now: number): Record<string, string> {
    this.prune(now);
    const { perTenSeconds, daily, windowMs } = this.config;
    // Secondly values are informational only (not enforced): HubSpot reports them but the
    // documented limit is the rolling window.
    const secondly = Math.max(1, Math.floor(perTenSeconds / 10));
    return {
      "X-HubSpot-RateLimit-Daily": String(daily),
      "X-HubSpot-RateLimit-Daily-Remaining": String(Math.max(0, daily - this.dailyUsed)),
      "X-HubSpot-RateLimit-Interval-Milliseconds": String(windowMs),
      "X-HubSpot-RateLimit-Max": String(perTenSeconds),
      "X-HubSpot-RateLimit-Remaining": String(Math.max(0, perTenSeconds - this.inWindow(now, windowMs))),
      "X-HubSpot-RateLimit-Secondly": String(secondly),
      "X-HubSpot-RateLimit-Secondly-Remaining": String(Math.max(0, secondly - this.inWindow(now, SECOND_MS))),
    };
  }
}

export function rateLimitBody(policy: LimitPolicy, correlationId: string): Record<string, string> {
  const message = policy === "DAILY" ? "You have reached your daily limit." : "You have reached your ten_secondly_rolling limit.";
  return { status: "error", message, errorType: "RATE_LIMIT", correlationId, policyName: policy };
}
