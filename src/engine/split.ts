/**
 * One batch's write, with its recovery: a batch the destination refuses for what one of its records carries (HTTP
 * 400, 413 too large) is split in halves until the bad records are isolated, so one bad row does not fail its 99
 * neighbours. Retries are the `write` given here (retry.ts); what is left after them is decided here:
 *
 * - a refusal that ends the run (daily quota, revoked token, open circuit, spent budget): the part is not sent;
 * - a retryable error that ran out of attempts: the rows failed, transiently (a later run may try them again);
 * - any other refusal of a single record: that record failed.
 *
 * Parts are reported to `onPart` in the order of the rows, each once.
 */
import { DestinationRequestError, failedByRequest, type DestinationRecord, type RecordOutcome } from "../destinations/types.ts";

export type PartResult = { outcomes: RecordOutcome[] } | { notSent: true; reason?: string };

export async function writeSplitting(
  batch: DestinationRecord[],
  write: (batch: DestinationRecord[]) => Promise<RecordOutcome[]>,
  onPart: (part: DestinationRecord[], result: PartResult) => Promise<void>,
  stopped: () => boolean,
): Promise<void> {
  if (stopped()) return onPart(batch, { notSent: true });
  let outcomes: RecordOutcome[];
  try {
    outcomes = await write(batch);
  } catch (error) {
    if (!(error instanceof DestinationRequestError)) throw error;
    if (error.exhausted) return onPart(batch, { notSent: true, reason: error.message });
    if (error.splittable && batch.length > 1) {
      const middle = Math.ceil(batch.length / 2);
      await writeSplitting(batch.slice(0, middle), write, onPart, stopped);
      await writeSplitting(batch.slice(middle), write, onPart, stopped);
      return;
    }
    // A retryable error here ran out of attempts: it says nothing about the rows, a later run may try them again.
    outcomes = batch.map((r) => failedByRequest(r.key, error));
  }
  await onPart(batch, { outcomes });
}
