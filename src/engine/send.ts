/**
 * Sends batches to a destination and accounts for every record: written (created / updated), failed (with the
 * destination's reason), or not sent (the run ended early because the destination refuses all requests for now).
 *
 * Recovery per batch: retryable failures (429, 5xx, network) are resent per the retry policy (retry.ts); a batch refused for what one of its records carries (HTTP 400) is split in halves until the
 * bad records are isolated, so one bad row does not fail its 99 neighbours.
 */
import { DestinationRequestError, type Destination, type DestinationRecord, type RecordOutcome } from "../destinations/types.ts";
import { toBatches } from "./batches.ts";
import { retrying, type RetryPolicy } from "./retry.ts";

export type FailedOutcome = Extract<RecordOutcome, { status: "failed" }>;

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
  /** Why the run stopped before the end of the rows, if it did. */
  stopped?: string;
}

export interface SendOptions extends RetryPolicy {
  maxFailureSamples?: number;
  onProgress?: (summary: SendSummary) => void;
  /**
   * Called with each acknowledged request's records and outcomes, and awaited before the next batch is sent: the
   * ledger checkpoints here, so a run killed at any point loses at most the batch in flight.
   */
  onAcknowledged?: (records: DestinationRecord[], outcomes: RecordOutcome[]) => Promise<void>;
  /** Asked before each batch: a reason to stop (the kill switch was thrown) ends the run cleanly, the rest not sent. */
  shouldStop?: () => Promise<string | undefined>;
}

class RunExhausted extends Error {}

export async function sendRecords(destination: Destination, records: AsyncIterable<DestinationRecord[]>, options: SendOptions = {}): Promise<SendSummary> {
  const maxSamples = options.maxFailureSamples ?? 100;
  const summary: SendSummary = { created: 0, updated: 0, failed: 0, notSent: 0, failures: [], requests: 0, retries: 0 };

  const record = (outcome: RecordOutcome): void => {
    if (outcome.status === "failed") {
      summary.failed += 1;
      if (summary.failures.length < maxSamples) summary.failures.push(outcome);
    } else summary[outcome.status] += 1;
  };

  const writeBatch = async (batch: DestinationRecord[]): Promise<void> => {
    try {
      const outcomes = await retrying(() => destination.write(batch), options, summary);
      for (const outcome of outcomes) record(outcome);
      await options.onAcknowledged?.(batch, outcomes);
    } catch (error) {
      if (!(error instanceof DestinationRequestError)) throw error;
      if (error.exhausted) {
        summary.stopped = `${destination.description}: ${error.message}`;
        summary.notSent += batch.length;
        throw new RunExhausted();
      }
      if (error.splittable && batch.length > 1) {
        const middle = Math.ceil(batch.length / 2);
        await writeBatch(batch.slice(0, middle));
        await writeBatch(batch.slice(middle));
        return;
      }
      const failed = batch.map((r): RecordOutcome => ({ key: r.key, status: "failed", code: error.code, message: error.message }));
      for (const outcome of failed) record(outcome);
      await options.onAcknowledged?.(batch, failed);
    }
  };

  const batches = toBatches(records, destination.maxBatchSize, (k) => destination.normalizeKey(k));
  const iterator = batches[Symbol.asyncIterator]();
  try {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      const stop = await options.shouldStop?.();
      if (stop) {
        summary.stopped = stop;
        summary.notSent += next.value.length;
        throw new RunExhausted();
      }
      await writeBatch(next.value);
      options.onProgress?.(summary);
    }
  } catch (error) {
    if (!(error instanceof RunExhausted)) throw error;
    // Count what was left unsent: the rest of the stream is read, never sent.
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) summary.notSent += next.value.length;
  }
  return summary;
}
