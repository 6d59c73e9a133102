/**
 * A circuit breaker over one destination's requests: after `threshold` consecutive failed requests (server errors,
 * network failures, rate-limit refusals) it opens, and every later request is refused without being sent.
 *
 * No half-open probing: a sync is a batch job, and a destination that failed this many times in a row is better
 * left alone until the next run (rows not yet sent are counted not-sent and resume then) than probed while it burns
 * the daily quota and the retry budget.
 */
import { DestinationRequestError } from "../destinations/types.ts";

export interface CircuitBreakerOptions {
  /** Consecutive failed requests that open the circuit; default 10. */
  threshold?: number;
}

export class CircuitBreaker {
  readonly threshold: number;
  #consecutive = 0;
  #lastFailure = "";
  #open = false;

  constructor(options: CircuitBreakerOptions = {}) {
    this.threshold = Math.max(1, options.threshold ?? 10);
  }

  get open(): boolean {
    return this.#open;
  }

  /** Throws (as a run-ending error) when the circuit is open. */
  check(): void {
    if (!this.#open) return;
    throw new DestinationRequestError(`stopped after ${this.threshold} consecutive failed requests (last: ${this.#lastFailure})`, {
      code: "CIRCUIT_OPEN",
      exhausted: true,
    });
  }

  /** Any answer that shows the destination is up (even a 400) closes the streak. */
  success(): void {
    this.#consecutive = 0;
  }

  failure(reason: string): void {
    this.#consecutive += 1;
    this.#lastFailure = reason;
    if (this.#consecutive >= this.threshold) this.#open = true;
  }
}
