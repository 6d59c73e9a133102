/**
 * The one pacing engine every destination's requests go through (the destination calls `request` around each HTTP
 * request and reports each response's rate-limit headers through `observe`):
 *
 * - a token bucket sized from the destination's documented limits (`Destination.limits`) whose tokens come back
 *   one window after the request's *answer* arrived. HubSpot's limit is a *rolling* window counted when requests
 *   arrive: a classic bucket refilling continuously lets 2× the limit through the first window (full bucket +
 *   refill) and earns a burst of 429s. A token stamped when the request left comes back too early whenever that
 *   request reached the destination later than its successor did (a busy event loop, ten requests in flight): the
 *   throughput bench saw one 429 per run, and its pause cost about a tenth of the run. A request arrives before its
 *   answer leaves, so a token returned one window after the answer never lets more than the limit arrive in any
 *   window, whatever the latency; requests still in flight hold their token until they end.
 * - corrections from the response headers: the window size and maximum the destination reports replace the
 *   documented ones (the portal's tier is not known in advance), and a `Remaining` lower than our own count (another
 *   client shares the quota) takes the difference out of the bucket.
 * - a pause for everyone after a 429, as long as `Retry-After` (capped) says: the other requests in flight would
 *   only be refused too. Without a `Retry-After` (Salesforce sends none) the pause doubles with each 429 in a row,
 *   up to one window.
 * - a rate learned from the 429s when the destination reports no limit of its own (Salesforce documents none per
 *   second; an org throttles by its own load): a 429 cuts the requests allowed per window to at most what the
 *   destination accepted in the last window (and to half the previous ceiling), and each window without a 429 allows
 *   one more. A storm then converges to the rate the destination takes instead of resending into it at full speed.
 * - a circuit breaker (circuit.ts) and the daily quota: when the destination reports none left, no request is sent
 *   and the run ends cleanly (`exhausted`), to resume the next day.
 *
 * - a share (`share: n`): n workers of one destination account running side by side (`sync --shard i/n`) each pace
 *   at 1/n of the window's requests, documented or corrected from headers, so together they stay under the limit
 *   without talking to each other. The daily quota is the account's own figure in every answer: not divided.
 *
 * Retries are not here (retry.ts): the pacer decides *when* a request may go, the retry policy *whether* to resend.
 */
import { setTimeout as delay } from "node:timers/promises";
import { DestinationRequestError, type Destination, type DestinationLimits, type RateLimitInfo, type RequestPacer } from "../destinations/types.ts";
import { CircuitBreaker, type CircuitBreakerOptions } from "./circuit.ts";

export interface PacerOptions {
  limits: DestinationLimits;
  /** Kept on top of the window before a token returns (timer granularity); default 5 ms. */
  marginMs?: number;
  /** The longest pause after a 429 (a `Retry-After` longer than this is cut to it). Default 60 s. */
  maxPauseMs?: number;
  breaker?: CircuitBreakerOptions;
  /** This pacer's workers share the account's window with `share - 1` others (shards): it keeps to 1/share of it. */
  share?: number;
}

export interface PacerStats {
  requests: number;
  /** Requests refused with 429 (or a throttling 403). */
  throttled: number;
  failed: number;
  /** Time requests spent waiting for a token or a pause. */
  waitedMs: number;
}

export class Pacer implements RequestPacer {
  readonly breaker: CircuitBreaker;
  readonly stats: PacerStats = { requests: 0, throttled: 0, failed: 0, waitedMs: 0 };
  #capacity: number;
  #windowMs: number;
  readonly #marginMs: number;
  readonly #maxPauseMs: number;
  readonly #share: number;
  /** When each spent token's request ended (oldest first); phantom entries stand for other clients' requests. */
  #spent: number[] = [];
  /** Tokens of requests still in flight: they count against the window until their answer arrives. */
  #inFlight = 0;
  #pausedUntil = 0;
  /** 429s in a row, with no accepted request between: the pause without `Retry-After` doubles with each. */
  #throttleStreak = 0;
  /** Requests per window learned from 429s (see above); Infinity until the first one. */
  #learned = Infinity;
  /** When the learned ceiling last moved: it moves at most once per window. */
  #learnedAt = 0;
  #lastThrottleAt = 0;
  /** The destination reported its window's limit in its headers: that limit is authoritative, nothing to learn. */
  #reported = false;
  /** When each accepted request of the last window ended. */
  #accepted: number[] = [];
  #lastAcceptedAt: number | undefined;
  #dailyRemaining: number | undefined;
  /** Acquisitions queue in order, so a waiting request is not overtaken by a later one. */
  #queue: Promise<void> = Promise.resolve();

  constructor(options: PacerOptions) {
    this.#share = Math.max(1, Math.trunc(options.share ?? 1));
    this.#capacity = this.#shareOf(options.limits.requestsPerWindow ?? Infinity);
    this.#windowMs = options.limits.windowMs;
    this.#marginMs = options.marginMs ?? 5;
    this.#maxPauseMs = options.maxPauseMs ?? 60_000;
    this.breaker = new CircuitBreaker(options.breaker);
  }

  /** This worker's part of a window's requests: at least one, so a tiny limit split n ways still moves. */
  #shareOf(requestsPerWindow: number): number {
    return Number.isFinite(requestsPerWindow) ? Math.max(1, Math.floor(requestsPerWindow / this.#share)) : requestsPerWindow;
  }

  /** The limits the pacer works to now (after header corrections). */
  get current(): { requestsPerWindow: number; windowMs: number; dailyRemaining: number | undefined } {
    return { requestsPerWindow: this.#allowed, windowMs: this.#windowMs, dailyRemaining: this.#dailyRemaining };
  }

  /** When the destination last accepted a request (any answer but a throttle or a failure). */
  get lastAcceptedAt(): number | undefined {
    return this.#lastAcceptedAt;
  }

  /** Requests allowed per window now: the documented or reported limit, or the rate learned from 429s if lower. */
  get #allowed(): number {
    return Math.min(this.#capacity, this.#learned);
  }

  async request<T>(call: () => Promise<T>): Promise<T> {
    await this.#acquire();
    this.stats.requests += 1;
    try {
      const result = await call();
      this.breaker.success();
      this.#acceptedNow(Date.now());
      return result;
    } catch (error) {
      this.#failed(error);
      throw error;
    } finally {
      this.#ended(Date.now());
    }
  }

  /** A request's answer (or failure) arrived: its token is stamped now and returns one window later. */
  #ended(now: number): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    // Kept whatever the limit, so a ceiling learned later counts the requests already in its window.
    // Answers end out of order, but `now` only grows: appending keeps the stamps sorted.
    this.#spent.push(now);
  }

  /** An accepted answer ends the 429 streak, and a whole window without a 429 lets the learned ceiling up by one. */
  #acceptedNow(now: number): void {
    this.#throttleStreak = 0;
    this.#lastAcceptedAt = now;
    this.#accepted.push(now);
    while ((this.#accepted[0] ?? now) <= now - this.#windowMs) this.#accepted.shift();
    if (Number.isFinite(this.#learned) && now - Math.max(this.#learnedAt, this.#lastThrottleAt) >= this.#windowMs) {
      this.#learned += 1;
      this.#learnedAt = now;
    }
  }

  /** A 429: cut the ceiling to what the destination took in the last window (once per window: one burst, one cut). */
  #learnFromThrottle(now: number): void {
    if (this.#reported || now - this.#learnedAt < this.#windowMs) return;
    while ((this.#accepted[0] ?? now) <= now - this.#windowMs) this.#accepted.shift();
    const halved = Number.isFinite(this.#learned) ? Math.floor(this.#learned / 2) : Infinity;
    this.#learned = Math.max(1, Math.min(this.#accepted.length, halved));
    this.#learnedAt = now;
  }

  observe(info: RateLimitInfo): void {
    const now = Date.now();
    if (info.windowMs !== undefined && info.windowMs > 0) this.#windowMs = info.windowMs;
    if (info.windowMax !== undefined && info.windowMax > 0) {
      this.#capacity = this.#shareOf(info.windowMax);
      this.#reported = true;
      this.#learned = Infinity;
    }
    if (info.windowRemaining !== undefined && Number.isFinite(this.#capacity)) {
      this.#prune(now);
      const ours = this.#capacity - this.#spent.length - this.#inFlight;
      // Only ever tighten: a higher Remaining is the destination not having seen our requests in flight yet.
      for (let i = info.windowRemaining; i < ours; i += 1) this.#spent.push(now);
    }
    if (info.dailyRemaining !== undefined) this.#dailyRemaining = info.dailyRemaining;
  }

  #failed(error: unknown): void {
    this.stats.failed += 1;
    if (!(error instanceof DestinationRequestError)) {
      this.breaker.failure(error instanceof Error ? error.message : String(error));
      return;
    }
    if (error.throttled) {
      this.stats.throttled += 1;
      const now = Date.now();
      this.#throttleStreak += 1;
      this.#learnFromThrottle(now);
      this.#lastThrottleAt = now;
      const doubling = Math.min(this.#windowMs, (this.#windowMs / Math.max(1, Math.min(this.#capacity, 10))) * 2 ** Math.min(this.#throttleStreak - 1, 20));
      const pause = Math.min(this.#maxPauseMs, error.retryAfterMs ?? doubling);
      this.#pausedUntil = Math.max(this.#pausedUntil, now + pause);
      // A throttle is an answer from a destination that is up: it neither opens nor closes the circuit.
      return;
    }
    if (error.retryable) this.breaker.failure(error.message);
    else if (!error.exhausted) this.breaker.success(); // a 400 is an answer: the destination is up
  }

  #prune(now: number): void {
    const horizon = now - this.#windowMs - this.#marginMs;
    let drop = 0;
    while (drop < this.#spent.length && (this.#spent[drop] ?? 0) <= horizon) drop += 1;
    if (drop > 0) this.#spent.splice(0, drop);
  }

  #acquire(): Promise<void> {
    const turn = this.#queue.then(() => this.#waitForToken());
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  async #waitForToken(): Promise<void> {
    const started = Date.now();
    for (;;) {
      this.breaker.check();
      if (this.#dailyRemaining !== undefined && this.#dailyRemaining <= 0) {
        throw new DestinationRequestError("the daily limit is reached (the destination reports no requests left today)", { code: "DAILY_LIMIT", exhausted: true });
      }
      const now = Date.now();
      const wait = this.#untilToken(now);
      if (wait === 0) {
        this.#inFlight += 1;
        if (this.#dailyRemaining !== undefined) this.#dailyRemaining -= 1;
        this.stats.waitedMs += now - started;
        return;
      }
      await delay(wait);
    }
  }

  /** How long until a token is free (0: one is free now). */
  #untilToken(now: number): number {
    if (now < this.#pausedUntil) return this.#pausedUntil - now;
    this.#prune(now);
    if (this.#spent.length + this.#inFlight < this.#allowed) return 0;
    // The token that frees first is the oldest spent one; with every token in flight, the next answer frees one
    // (a window later), so look again shortly.
    const free = this.#spent.length + this.#inFlight - this.#allowed;
    const oldest = this.#spent[free];
    return oldest === undefined ? 5 : Math.max(1, oldest + this.#windowMs + this.#marginMs - now + 1);
  }

  /**
   * Resolves once a request could leave now (after the requests already waiting), without taking the token: the
   * engine decides at that last moment whether to send the next batch at all (the kill switch), so batches do not
   * queue here past a pause.
   */
  async ready(): Promise<void> {
    await this.#queue;
    for (let wait = this.#untilToken(Date.now()); wait > 0; wait = this.#untilToken(Date.now())) await delay(wait);
  }
}

const pacers = new WeakMap<Destination, Pacer>();

/**
 * The destination's pacer, created (from its documented limits) and attached on first use: one per destination
 * object, so the preflight, read-backs, writes and removals of a run all share one budget of requests.
 */
export function pacerFor(destination: Destination, options: Omit<PacerOptions, "limits"> = {}): Pacer {
  return pacers.get(destination) ?? sharePacer(destination, new Pacer({ limits: destination.limits, ...options }));
}

/**
 * Attaches an existing pacer to another destination object of the same account (before its first request): both then
 * draw on one budget of requests, as the destination counts them.
 */
export function sharePacer(destination: Destination, pacer: Pacer): Pacer {
  pacers.set(destination, pacer);
  destination.usePacer(pacer);
  return pacer;
}
