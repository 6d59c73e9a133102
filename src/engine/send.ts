/**
 * Sends batches to a destination and accounts for every record: written (created / updated), failed (with the
 * destination's reason), or not sent (the run ended early: daily quota, revoked token, open circuit, spent retry
 * budget).
 *
 * Recovery per batch: retryable failures (429, 5xx, network) are resent per the retry policy (retry.ts); a batch
 * refused for what one of its records carries (HTTP 400) is split in halves until the bad records are isolated, so
 * one bad row does not fail its 99 neighbours.
 *
 * Pacing (pacing.ts) decides when each request may leave; up to `concurrency` batches are in flight at once
 * (p-limit), except that a batch holding a key an in-flight batch also holds waits for it, so the order in which two
 * writes of one destination record land is the order of the rows.
 *
 * Runs of at least `destination.bulk.threshold` records go through the destination's bulk path (Salesforce Bulk
 * API 2.0) in jobs of up to `bulk.maxRecords`, with the same accounting; smaller runs never start a bulk job.
 */
import pLimit from "p-limit";
import { DestinationRequestError, type Destination, type DestinationRecord, type FailedOutcome, type RecordOutcome } from "../destinations/types.ts";
import { toBatches } from "./batches.ts";
import { pacerFor, type Pacer } from "./pacing.ts";
import { RetryBudget, retrying, type RetryBudgetLimits, type RetryPolicy } from "./retry.ts";

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
   * Called with acknowledged requests' records and outcomes, and awaited before those batches count as done: the
   * ledger checkpoints here, so a run killed at any point loses at most the batches in flight (≤ `concurrency`).
   * Calls never overlap; each covers every batch acknowledged since the previous call began (group commit).
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
}

export async function sendRecords(destination: Destination, records: AsyncIterable<DestinationRecord[]>, options: SendOptions = {}): Promise<SendSummary> {
  const maxSamples = options.maxFailureSamples ?? 100;
  const summary: SendSummary = { created: 0, updated: 0, failed: 0, notSent: 0, failures: [], requests: 0, retries: 0, throttled: 0, bulk: false };
  const pacer = options.pacer ?? pacerFor(destination, options.maxDelayMs === undefined ? {} : { maxPauseMs: options.maxDelayMs });
  const throttledBefore = pacer.stats.throttled;
  const budget = options.retryBudget instanceof RetryBudget ? options.retryBudget : new RetryBudget(options.retryBudget);
  // A throttled batch waits as long as the destination still accepts someone's requests (retry.ts).
  const policy: RetryPolicy = { lastAcceptedAt: () => pacer.lastAcceptedAt, ...options, budget };
  const concurrency = Math.max(1, options.concurrency ?? destination.limits.concurrency);
  const normalize = (key: string): string => destination.normalizeKey(key);

  const record = (outcome: RecordOutcome): void => {
    if (outcome.status === "failed") {
      summary.failed += 1;
      if (summary.failures.length < maxSamples) summary.failures.push(outcome);
    } else summary[outcome.status] += 1;
  };

  // Group commit: one onAcknowledged call at a time, each covering every batch acknowledged while the previous one ran.
  // A slow checkpoint (a warehouse commit per call) then takes several batches at once instead of throttling the run.
  let pending: { records: DestinationRecord[]; outcomes: RecordOutcome[]; done: PromiseWithResolvers<void> }[] = [];
  let draining = false;
  const drain = async (): Promise<void> => {
    draining = true;
    while (pending.length > 0) {
      const group = pending;
      pending = [];
      try {
        await options.onAcknowledged?.(group.flatMap((g) => g.records), group.flatMap((g) => g.outcomes));
        for (const g of group) g.done.resolve();
      } catch (error) {
        for (const g of group) g.done.reject(error);
      }
    }
    draining = false;
  };
  const acknowledge = (batch: DestinationRecord[], outcomes: RecordOutcome[]): Promise<void> => {
    for (const outcome of outcomes) record(outcome);
    if (!options.onAcknowledged) return Promise.resolve();
    const done = Promise.withResolvers<void>();
    pending.push({ records: batch, outcomes, done });
    if (!draining) void drain();
    return done.promise;
  };

  const stop = (reason: string): void => {
    summary.stopped ??= reason;
  };

  const writeBatch = async (batch: DestinationRecord[], write: (batch: DestinationRecord[]) => Promise<RecordOutcome[]>): Promise<void> => {
    if (summary.stopped !== undefined) {
      summary.notSent += batch.length;
      return;
    }
    let outcomes: RecordOutcome[];
    try {
      outcomes = await retrying(() => write(batch), policy, summary);
    } catch (error) {
      if (!(error instanceof DestinationRequestError)) throw error;
      if (error.exhausted) {
        stop(`${destination.description}: ${error.message}`);
        summary.notSent += batch.length;
        return;
      }
      if (error.splittable && batch.length > 1) {
        const middle = Math.ceil(batch.length / 2);
        await writeBatch(batch.slice(0, middle), write);
        await writeBatch(batch.slice(middle), write);
        return;
      }
      // A retryable error here ran out of attempts: it says nothing about the rows, a later run may try them again.
      outcomes = batch.map((r): RecordOutcome => ({ key: r.key, status: "failed", code: error.code, message: error.message, ...(error.retryable ? { transient: true } : {}) }));
    }
    await acknowledge(batch, outcomes);
  };

  // Bulk path: look ahead up to the threshold; only a run that reaches it starts bulk jobs.
  const bulk = destination.bulk;
  let stream: AsyncIterable<DestinationRecord[]> = records;
  let maxBatch = destination.maxBatchSize;
  let write = (batch: DestinationRecord[]): Promise<RecordOutcome[]> => destination.write(batch);
  if (bulk) {
    const iterator = records[Symbol.asyncIterator]();
    const head: DestinationRecord[][] = [];
    let seen = 0;
    let done = false;
    while (seen < bulk.threshold) {
      const next = await iterator.next();
      if (next.done) {
        done = true;
        break;
      }
      head.push(next.value);
      seen += next.value.length;
    }
    stream = (async function* () {
      yield* head;
      if (!done) for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    })();
    if (seen >= bulk.threshold) {
      summary.bulk = true;
      maxBatch = bulk.maxRecords;
      write = (batch) => bulk.write(batch);
    }
  }

  const limit = pLimit(concurrency);
  const inFlight = new Set<Promise<void>>();
  const holders = new Map<string, Promise<void>>(); // normalized key → the in-flight batch holding it
  let fatal: { error: unknown } | undefined;

  for await (const batch of toBatches(stream, maxBatch, normalize)) {
    if (fatal) break; // the ledger (or a bug) failed: stop reading, report the error
    if (summary.stopped === undefined) {
      const reason = await options.shouldStop?.();
      if (reason) stop(reason);
    }
    if (summary.stopped !== undefined) {
      summary.notSent += batch.length;
      continue;
    }
    const keys = batch.map((r) => normalize(r.key));
    const blockers = new Set<Promise<void>>();
    for (const key of keys) {
      const holder = holders.get(key);
      if (holder) blockers.add(holder);
    }
    if (blockers.size > 0) await Promise.all(blockers);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (summary.stopped !== undefined || fatal) {
      summary.notSent += batch.length;
      continue;
    }
    const task: Promise<void> = limit(() => writeBatch(batch, write))
      .catch((error: unknown) => {
        fatal ??= { error };
      })
      .finally(() => {
        inFlight.delete(task);
        for (const key of keys) if (holders.get(key) === task) holders.delete(key);
        // 429s so far, so progress (and the HTML report's chart over time) sees them as they come.
        summary.throttled = pacer.stats.throttled - throttledBefore;
        options.onProgress?.(summary);
      });
    inFlight.add(task);
    for (const key of keys) holders.set(key, task);
  }
  await Promise.all(inFlight);
  summary.throttled = pacer.stats.throttled - throttledBefore;
  if (fatal) throw fatal.error;
  return summary;
}
