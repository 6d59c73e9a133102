/**
 * Per-key concurrency: up to `concurrency` batches in flight at once, except that a batch holding a key an in-flight
 * batch also holds waits for it, so the order in which two writes of one destination record land is the order of
 * the rows. A task that throws is kept as the pool's failure (the caller stops feeding it and rethrows).
 */
export class KeyOrderedPool {
  readonly #concurrency: number;
  readonly #inFlight = new Set<Promise<void>>();
  /** Normalized key → the in-flight task holding it. */
  readonly #holders = new Map<string, Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(concurrency: number) {
    this.#concurrency = Math.max(1, concurrency);
  }

  get failure(): { error: unknown } | undefined {
    return this.#failure;
  }

  /** Waits until no in-flight task holds any of `keys`, then until a slot is free. */
  async ready(keys: string[]): Promise<void> {
    const blockers = new Set<Promise<void>>();
    for (const key of keys) {
      const holder = this.#holders.get(key);
      if (holder) blockers.add(holder);
    }
    if (blockers.size > 0) await Promise.all(blockers);
    while (this.#inFlight.size >= this.#concurrency) await Promise.race(this.#inFlight);
  }

  /** Starts `task` holding `keys` (call after `ready`); `settled` runs when it ends, whether it failed or not. */
  start(keys: string[], task: () => Promise<void>, settled?: () => void): void {
    const running: Promise<void> = task()
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => {
        this.#inFlight.delete(running);
        for (const key of keys) if (this.#holders.get(key) === running) this.#holders.delete(key);
        settled?.();
      });
    this.#inFlight.add(running);
    for (const key of keys) this.#holders.set(key, running);
  }

  /** Waits for every task started. */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
  }
}
