/**
 * Sends batches to a destination and accounts for every record: written (created / updated), failed (with the
 * destination's reason), or not sent (the run ended early: daily quota, revoked token, open circuit, spent retry
 * budget).
 *
 * The loop wires four units, each with its own tests: the bulk path or the ordinary writes (bulk-path.ts), batches
 * in flight by key (key-order.ts), each batch's retries (retry.ts) and splitting on 400/413 (split.ts), and the
 * group commit of acknowledged batches to the ledger (group-commit.ts). Pacing (pacing.ts) decides when each
 * request may leave.
 */
import type { Destination, DestinationRecord, FailedOutcome, RecordOutcome } from "../destinations/types.ts";
import { toBatches } from "./batches.ts";
import { choosePath } from "./bulk-path.ts";
import { GroupCommit } from "./group-commit.ts";
import { KeyOrderedPool } from "./key-order.ts";
import type { Writer } from "./modes.ts";
import { pacerFor, type Pacer } from "./pacing.ts";
import { RetryBudget, retrying, type RetryBudgetLimits, type RetryPolicy } from "./retry.ts";
import { writeSplitting } from "./split.ts";

export type { FailedOutcome } from "../destinations/types.ts";

export interface SendSummary {
  created: number;
  updated: number;
  failed: number;
  /** Records never sent because the destination refused every request (daily quota, revoked token). */
  notSent: number;
  /** The first failures, for the report (the count above is complete). */
  failures: FailedOutcome[];
  requests: number;
  retries: number;
  /** Requests the destination refused for its rate limit (429): pacing keeps these near zero. */
  throttled: number;
  /** Whether the records went through the destination's bulk path. */
  bulk: boolean;
  /** Why the run stopped before the end of the rows, if it did. */
  stopped?: string;
}

export interface SendOptions extends Omit<RetryPolicy, "budget"> {
  maxFailureSamples?: number;
  onProgress?: (summary: SendSummary) => void;
  /**
   * Called with acknowledged requests' records and outcomes; those batches count as done once it returned: the
   * ledger checkpoints here. Calls never overlap; each covers every batch acknowledged since the previous call began
   * (group commit). Sending goes on while they run, with at most `concurrency` batches awaiting theirs, so a run
   * killed at any point resends at most the batches in flight and those (≤ 2 × `concurrency`). `sendRecords`
   * returns once every call returned, and throws the first one's error.
   */
  onAcknowledged?: (records: DestinationRecord[], outcomes: RecordOutcome[]) => Promise<void>;
  /** Asked before each batch: a reason to stop (the kill switch was thrown) ends the run cleanly, the rest not sent. */
  shouldStop?: () => Promise<string | undefined>;
  /** Batches in flight at once; default `destination.limits.concurrency`. */
  concurrency?: number;
  /**
   * The run's retry budget (the contract's `monitoring.retry_budget`); default 1,000 retries. Pass a `RetryBudget`
   * to share it with the run's other calls (preflight, read-back, removals).
   */
  retryBudget?: RetryBudgetLimits | RetryBudget;
  /** Default: the destination's shared pacer (`pacerFor`). */
  pacer?: Pacer;
  /** How records are written; default the destination's own write and bulk path (audience mode: `writerFor`). */
  writer?: Writer;
}

export async function sendRecords(destination: Destination, records: AsyncIterable<DestinationRecord[]>, options: SendOptions = {}): Promise<SendSummary> {
  const maxSamples = options.maxFailureSamples ?? 100;
  const summary: SendSummary = { created: 0, updated: 0, failed: 0, notSent: 0, failures: [], requests: 0, retries: 0, throttled: 0, bulk: false };
  const pacer = options.pacer ?? pacerFor(destination, options.maxDelayMs === undefined ? {} : { maxPauseMs: options.maxDelayMs });
  const throttledBefore = pacer.stats.throttled;
  const budget = options.retryBudget instanceof RetryBudget ? options.retryBudget : new RetryBudget(options.retryBudget);
  // A throttled batch waits as long as the destination still accepts someone's requests (retry.ts).
  const policy: RetryPolicy = { lastAcceptedAt: () => pacer.lastAcceptedAt, ...options, budget };
  const writer = options.writer ?? destination;
  const normalize = (key: string): string => destination.normalizeKey(key);
  const commit = new GroupCommit(options.onAcknowledged);
  const concurrency = options.concurrency ?? destination.limits.concurrency;
  const pool = new KeyOrderedPool(concurrency);
  const failure = (): { error: unknown } | undefined => pool.failure ?? commit.failure;

  const stop = (reason: string): void => {
    summary.stopped ??= reason;
  };
  const acknowledge = (outcomes: RecordOutcome[]): void => {
    for (const outcome of outcomes) {
      if (outcome.status === "failed") {
        summary.failed += 1;
        if (summary.failures.length < maxSamples) summary.failures.push(outcome);
      } else summary[outcome.status] += 1;
    }
  };

  const path = await choosePath(records, { maxBatch: destination.maxBatchSize, write: (batch) => writer.write(batch) }, writer.bulk);
  summary.bulk = path.bulk;
  const writeBatch = (batch: DestinationRecord[]): Promise<void> =>
    writeSplitting(
      batch,
      (part) => path.write(part, (call) => retrying(call, policy, summary)),
      async (part, result) => {
        if ("notSent" in result) {
          if (result.reason !== undefined) stop(`${writer.description}: ${result.reason}`);
          summary.notSent += part.length;
          return;
        }
        acknowledge(result.outcomes);
        // Not awaited: the checkpoint runs beside the next requests (its error stops the run below).
        void commit.add(part, result.outcomes);
      },
      () => summary.stopped !== undefined,
    );

  for await (const batch of toBatches(path.records, path.maxBatch, normalize)) {
    if (failure()) break; // the ledger (or a bug) failed: stop reading, report the error
    if (summary.stopped !== undefined) {
      summary.notSent += batch.length;
      continue;
    }
    const keys = batch.map((r) => normalize(r.key));
    // At most `concurrency` batches acknowledged and not yet in the ledger: the bound on what a crash resends.
    await commit.room(concurrency);
    await pool.ready(keys);
    // Asked as the batch is about to leave (a slot and a request token are free): a pause thrown while earlier batches
    // waited on the rate limit sends no more.
    if (summary.stopped === undefined && !failure() && options.shouldStop) {
      await pacer.ready();
      const reason = await options.shouldStop();
      if (reason) stop(reason);
    }
    if (summary.stopped !== undefined || failure()) {
      summary.notSent += batch.length;
      continue;
    }
    pool.start(keys, () => writeBatch(batch), () => {
      // 429s so far, so progress (and the HTML report's chart over time) sees them as they come.
      summary.throttled = pacer.stats.throttled - throttledBefore;
      options.onProgress?.(summary);
    });
  }
  await pool.drain();
  await commit.flush();
  summary.throttled = pacer.stats.throttled - throttledBefore;
  const failed = failure();
  if (failed) throw failed.error;
  return summary;
}
