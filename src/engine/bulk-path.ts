/**
 * The choice between a destination's bulk path (Salesforce Bulk API 2.0) and its ordinary writes: look ahead up to
 * the bulk threshold; only a run that reaches it starts bulk jobs, in jobs of up to `bulk.maxRecords`. The records
 * read ahead are not lost: the stream returned yields them first.
 */
import type { BulkWriter, DestinationRecord, RecordOutcome, RetryJob } from "../destinations/types.ts";

export interface WritePath {
  records: AsyncIterable<DestinationRecord[]>;
  bulk: boolean;
  maxBatch: number;
  /** Writes a batch under the retry policy: around the one request, or around each bulk job on its own. */
  write: (batch: DestinationRecord[], retry: RetryJob) => Promise<RecordOutcome[]>;
}

export async function choosePath(
  records: AsyncIterable<DestinationRecord[]>,
  ordinary: { maxBatch: number; write: (batch: DestinationRecord[]) => Promise<RecordOutcome[]> },
  bulk: BulkWriter | undefined,
): Promise<WritePath> {
  const ordinaryPath = { maxBatch: ordinary.maxBatch, write: (batch: DestinationRecord[], retry: RetryJob) => retry(() => ordinary.write(batch)) };
  if (!bulk) return { records, bulk: false, ...ordinaryPath };
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
  const replayed = (async function* () {
    try {
      yield* head;
      if (!done) for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      // A reader that stops early ends the records' source too (a warehouse stream lets go of its result).
      if (!done) await iterator.return?.();
    }
  })();
  if (seen < bulk.threshold) return { records: replayed, bulk: false, ...ordinaryPath };
  return { records: replayed, bulk: true, maxBatch: bulk.maxRecords, write: (batch, retry) => bulk.write(batch, retry) };
}
