// Fault injection driven by a seeded PRNG, so a failing run can be replayed exactly.
import { mulberry32 } from "../random.ts";

export interface FaultOptions {
  serverErrorRate?: number;
  rateLimitRate?: number;
  recordRejectRate?: number;
  /**
   * Share of authenticated calls that time out: the request is handled (its writes land) but the answer never comes;
   * after `timeoutMs` the connection is dropped, as a gateway would. The harshest kind of timeout for idempotence.
   */
  timeoutRate?: number;
  /** How long a timed-out call is held open before its connection is dropped; default 30,000. */
  timeoutMs?: number;
  seed?: number;
  /**
   * When set, faults (server errors, spurious 429s, timeouts) hit only calls whose URL path matches this regular
   * expression, e.g. `/batch/upsert$` (the writes, not the preflight) or `/contacts` (one object of several).
   */
  pathPattern?: string;
}

export const INJECTED_REJECTION = "Injected rejection";


export class FaultInjector {
  private options: FaultOptions = {};
  private random: () => number = mulberry32(1);

  constructor(options: FaultOptions = {}) {
    this.set(options);
  }

  set(options: FaultOptions): void {
    this.options = { ...options };
    this.reseed();
  }

  /** Whether faults may hit a call to this path (see `pathPattern`). */
  appliesTo(path: string): boolean {
    return this.options.pathPattern === undefined || new RegExp(this.options.pathPattern).test(path);
  }

  reseed(): void {
    this.random = mulberry32(this.options.seed ?? 1);
  }

  // A rate of 0 never draws, so enabling one fault does not shift the others' sequence.
  private roll(rate: number | undefined): boolean {
    if (!rate || rate <= 0) return false;
    return this.random() < rate;
  }

  /** 502 or 503 when a server error is injected for this call. */
  serverError(): 502 | 503 | undefined {
    if (!this.roll(this.options.serverErrorRate)) return undefined;
    return this.random() < 0.5 ? 502 : 503;
  }

  spuriousRateLimit(): boolean {
    return this.roll(this.options.rateLimitRate);
  }

  rejectRecord(): boolean {
    return this.roll(this.options.recordRejectRate);
  }

  /** Milliseconds to hold the call before dropping its connection, when a timeout is injected for it. */
  timeout(): number | undefined {
    return this.roll(this.options.timeoutRate) ? (this.options.timeoutMs ?? 30_000) : undefined;
  }
}
