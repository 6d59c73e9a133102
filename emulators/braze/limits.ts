// Per-workspace rate limits, one rolling window per endpoint bucket (Braze's documented defaults), with the
// X-RateLimit-Limit / -Remaining / -Reset headers (Reset: UTC epoch seconds when the oldest counted call leaves the
// window). Refused (429) calls are not counted [unverified for Braze; as HubSpot documents].

export interface BucketLimit {
  max: number;
  windowMs: number;
}

export type Bucket = "users/track" | "users/export/ids" | "users/delete" | "custom_attributes";

export const DEFAULT_BUCKETS: Record<Bucket, BucketLimit> = {
  "users/track": { max: 3000, windowMs: 3000 },
  // Workspaces onboarded since August 22, 2024; older ones have 2,500.
  "users/export/ids": { max: 250, windowMs: 60_000 },
  "users/delete": { max: 20_000, windowMs: 60_000 },
  "custom_attributes": { max: 1000, windowMs: 3_600_000 },
};

export class RateLimits {
  private readonly limits: Record<Bucket, BucketLimit>;
  private stamps = new Map<Bucket, number[]>();

  constructor(limits: Partial<Record<Bucket, Partial<BucketLimit>>> = {}) {
    this.limits = Object.fromEntries(
      (Object.keys(DEFAULT_BUCKETS) as Bucket[]).map((b) => [b, { ...DEFAULT_BUCKETS[b], ...limits[b] }]),
    ) as Record<Bucket, BucketLimit>;
  }

  reset(): void {
    this.stamps.clear();
  }

  private inWindow(bucket: Bucket, now: number): number[] {
    const { windowMs } = this.limits[bucket];
    const kept = (this.stamps.get(bucket) ?? []).filter((t) => t > now - windowMs);
    this.stamps.set(bucket, kept);
    return kept;
  }

  /** Counts the call when there is room; false when the bucket is full (answer 429). */
  take(bucket: Bucket, now: number): boolean {
    const used = this.inWindow(bucket, now);
    if (used.length >= this.limits[bucket].max) return false;
    used.push(now);
    return true;
  }

  headers(bucket: Bucket, now: number): Record<string, string> {
    const used = this.inWindow(bucket, now);
    const { max, windowMs } = this.limits[bucket];
    const oldest = used[0] ?? now;
    return {
      "X-RateLimit-Limit": String(max),
      "X-RateLimit-Remaining": String(Math.max(0, max - used.length)),
      "X-RateLimit-Reset": String(Math.ceil((oldest + windowMs) / 1000)),
    };
  }
}
