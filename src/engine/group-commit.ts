/**
 * Group commit of acknowledged batches: one checkpoint call at a time, each covering every batch acknowledged while
 * the previous call ran. A slow checkpoint (a warehouse commit per call) then takes several batches at once instead
 * of throttling the run, and a batch counts as done only once a call covering it has returned.
 */
import type { DestinationRecord, RecordOutcome } from "../destinations/types.ts";

export type Checkpoint = (records: DestinationRecord[], outcomes: RecordOutcome[]) => Promise<void>;

export class GroupCommit {
  readonly #checkpoint: Checkpoint | undefined;
  #pending: { records: DestinationRecord[]; outcomes: RecordOutcome[]; done: PromiseWithResolvers<void> }[] = [];
  #draining = false;

  /** Without a checkpoint every batch is done when acknowledged. */
  constructor(checkpoint: Checkpoint | undefined) {
    this.#checkpoint = checkpoint;
  }

  /** Resolves once a checkpoint call covering this batch returned; rejects with that call's error. */
  add(records: DestinationRecord[], outcomes: RecordOutcome[]): Promise<void> {
    if (!this.#checkpoint) return Promise.resolve();
    const done = Promise.withResolvers<void>();
    this.#pending.push({ records, outcomes, done });
    if (!this.#draining) void this.#drain(this.#checkpoint);
    return done.promise;
  }

  async #drain(checkpoint: Checkpoint): Promise<void> {
    this.#draining = true;
    while (this.#pending.length > 0) {
      const group = this.#pending;
      this.#pending = [];
      try {
        await checkpoint(
          group.flatMap((g) => g.records),
          group.flatMap((g) => g.outcomes),
        );
        for (const g of group) g.done.resolve();
      } catch (error) {
        for (const g of group) g.done.reject(error);
      }
    }
    this.#draining = false;
  }
}
