/**
 * Cuts a stream of records into write batches: at most `maxSize` records each, and never two records whose keys
 * address the same destination record (a batch with a repeated id is refused whole by HubSpot, and which write wins
 * would be undefined elsewhere). A repeated key starts a new batch.
 */
import type { DestinationRecord } from "../destinations/types.ts";

export async function* toBatches(
  chunks: AsyncIterable<DestinationRecord[]>,
  maxSize: number,
  normalizeKey: (key: string) => string,
): AsyncIterable<DestinationRecord[]> {
  let batch: DestinationRecord[] = [];
  let keys = new Set<string>();
  for await (const chunk of chunks) {
    for (const record of chunk) {
      const key = normalizeKey(record.key);
      if (batch.length >= maxSize || keys.has(key)) {
        yield batch;
        batch = [];
        keys = new Set();
      }
      batch.push(record);
      keys.add(key);
    }
  }
  if (batch.length > 0) yield batch;
}
