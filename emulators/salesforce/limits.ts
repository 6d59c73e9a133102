// Org limits: the daily API request allowance, a per-window throttle and a cap on concurrent requests.
import type { SalesforceLimitOptions } from "./types.ts";

export type LimitVerdict = { ok: true } | { ok: false; status: 403 | 429; message: string };

export class Limits {
  readonly dailyMax: number;
  private readonly perWindow: number | undefined;
  private readonly windowMs: number;
  readonly throttleStatus: 403 | 429;
  private readonly maxConcurrent: number;
  used = 0;
  inFlight = 0;
  private recent: number[] = [];

  constructor(o: SalesforceLimitOptions | undefined) {
    this.dailyMax = o?.dailyApiRequests ?? 100_000;
    this.perWindow = o?.perWindow;
    this.windowMs = o?.windowMs ?? 1_000;
    // Salesforce usually throttles with 403 REQUEST_LIMIT_EXCEEDED, sometimes 429 (destinations.md).
    this.throttleStatus = o?.throttleStatus ?? 403;
    // Salesforce caps concurrent long-running requests at 25; every emulated request is "long" for this purpose.
    this.maxConcurrent = o?.maxConcurrent ?? 25;
  }

  header(): string {
    return `api-usage=${this.used}/${this.dailyMax}`;
  }

  /** Admits one request, counting it against the daily allowance and the window; refusals are not counted. */
  admit(now: number): LimitVerdict {
    if (this.used >= this.dailyMax) return { ok: false, status: 403, message: "TotalRequests Limit exceeded." };
    if (this.perWindow !== undefined) {
      this.recent = this.recent.filter((t) => now - t < this.windowMs);
      if (this.recent.length >= this.perWindow) return { ok: false, status: this.throttleStatus, message: "TotalRequests Limit exceeded." };
    }
    if (this.inFlight >= this.maxConcurrent) return { ok: false, status: 403, message: "ConcurrentPerOrgLongTxn Limit exceeded." };
    if (this.perWindow !== undefined) this.recent.push(now);
    this.used += 1;
    return { ok: true };
  }

  reset(): void {
    this.used = 0;
    this.recent = [];
  }
}
