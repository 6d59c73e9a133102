/**
 * Group commit of acknowledged batches: one checkpoint call at a time, each covering every batch acknowledged while
 * the previous call ran. A slow checkpoint (a warehouse commit per call) then takes several batches at once instead
 * of throttling the run, and a batch counts as done only once a call covering it has returned.
 *
 * The sender does not wait for a batch's checkpoint before its next request (that put every checkpoint on the
 * critical path): it waits for `room()` instead, a bound on the batches acknowledged but not yet committed, so a run
 * killed at any point still resends at most the batches in flight plus that bound.
 */
import type { DestinationRecord, RecordOutcome } from "../destinations/types.ts";

export type Checkpoint = (records: DestinationRecord[], outcomes: RecordOutcome[]) => Promise<void>;

export class GroupCommit {
  readonly #checkpoint: Checkpoint | undefined;
  #pending: { records: DestinationRecord[]; outcomes: RecordOutcome[]; done: PromiseWithResolvers<void> }[] = [];
  #draining = false;
  /** Batches added and not yet committed (waiting, or in the running call). */
  #backlog = 0;
  /** Resolved (and replaced) whenever a checkpoint call ends. */
  #settled = Promise.withResolvers<void>();
  #failure: { error: unknown } | undefined;

  /** Without a checkpoint every batch is done when acknowledged. */
  constructor(checkpoint: Checkpoint | undefined) {
    this.#checkpoint = checkpoint;
  }

  /** Resolves once a checkpoint call covering this batch returned; rejects with that call's error. */
  add(records: DestinationRecord[], outcomes: RecordOutcome[]): Promise<void> {
    if (!this.#checkpoint) return Promise.resolve();
    const done = Promise.withResolvers<void>();
    this.#pending.push({ records, outcomes, done });
    this.#backlog += 1;
    // A failure is kept here (`failure`) for the sender; callers that do not await a batch need not catch it.
    done.promise.catch(() => undefined);
    if (!this.#draining) void this.#drain(this.#checkpoint);
    return done.promise;
  }

  /** The first checkpoint error, if a call failed. */
  get failure(): { error: unknown } | undefined {
    return this.#failure;
  }

  /** Batches acknowledged and not yet committed. */
  get backlog(): number {
    return this.#backlog;
  }

  /** Waits until fewer than `limit` batches await their checkpoint. */
  async room(limit: number): Promise<void> {
    while (this.#backlog >= Math.max(1, limit)) await this.#settled.promise;
  }

  /** Waits until every batch added so far is committed (or its call failed). */
  async flush(): Promise<void> {
    while (this.#backlog > 0) await this.#settled.promise;
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
        this.#failure ??= { error };
        for (const g of group) g.done.reject(error);
      }
      this.#backlog -= group.length;
      const settled = this.#settled;
      this.#settled = Promise.withResolvers<void>();
      settled.resolve();
    }
    this.#draining = false;
  }
}
