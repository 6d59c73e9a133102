/** The bulk path: only a run reaching the threshold starts bulk jobs; the records read ahead are yielded first, none lost or repeated. */
import { describe, expect, it } from "vitest";
import type { BulkWriter, DestinationRecord, RecordOutcome, RetryJob } from "../../src/destinations/types.ts";
import { choosePath } from "../../src/engine/bulk-path.ts";

async function* chunks(count: number, size: number, read: { chunks: number }): AsyncIterable<DestinationRecord[]> {
  for (let start = 0; start < count; start += size) {
    read.chunks += 1;
    yield Array.from({ length: Math.min(size, count - start) }, (_, i) => ({ key: `k${start + i}`, fields: {} }));
  }
}

const createdBy = (writer: string) => (batch: DestinationRecord[]): Promise<RecordOutcome[]> => Promise.resolve(batch.map((r): RecordOutcome => ({ key: r.key, status: "created", recordId: `${writer}-${r.key}` })));
const ordinary = { maxBatch: 100, write: createdBy("ordinary") };
/** The bulk writer is handed the engine's retry policy to apply to each of its jobs: it records what it was given. */
const given: RetryJob[] = [];
const bulk: BulkWriter = {
  threshold: 250,
  maxRecords: 10_000,
  write: (batch, retry) => {
    given.push(retry);
    return createdBy("bulk")(batch);
  },
};
/** A retry policy that counts the calls it wraps. */
function counting(): { retry: RetryJob; calls: number } {
  const counter = { calls: 0, retry: (<T>(call: () => Promise<T>): Promise<T> => ((counter.calls += 1), call())) as RetryJob };
  return counter;
}

async function keysOf(records: AsyncIterable<DestinationRecord[]>): Promise<string[]> {
  const keys: string[] = [];
  for await (const chunk of records) keys.push(...chunk.map((r) => r.key));
  return keys;
}

describe("choosePath", () => {
  it("takes the bulk path from the threshold, with bulk jobs' size and write", async () => {
    const read = { chunks: 0 };
    const path = await choosePath(chunks(1000, 100, read), ordinary, bulk);
    expect(path).toMatchObject({ bulk: true, maxBatch: 10_000 });
    // It read only as far as the threshold before deciding.
    expect(read.chunks).toBe(3);
    expect(await keysOf(path.records)).toEqual(Array.from({ length: 1000 }, (_, i) => `k${i}`));
    // The bulk writer gets the retry policy to run each job under, and is not itself wrapped in it.
    const policy = counting();
    const outcomes = await path.write([{ key: "a", fields: {} }], policy.retry);
    expect(outcomes).toEqual([{ key: "a", status: "created", recordId: "bulk-a" }]);
    expect(given.at(-1)).toBe(policy.retry);
    expect(policy.calls).toBe(0);
  });

  it("stays on ordinary writes below the threshold, and yields every record it read ahead", async () => {
    const path = await choosePath(chunks(249, 100, { chunks: 0 }), ordinary, bulk);
    expect(path).toMatchObject({ bulk: false, maxBatch: 100 });
    // An ordinary write is one request: the retry policy wraps it whole.
    const policy = counting();
    expect(await path.write([{ key: "a", fields: {} }], policy.retry)).toEqual([{ key: "a", status: "created", recordId: "ordinary-a" }]);
    expect(policy.calls).toBe(1);
    expect(await keysOf(path.records)).toEqual(Array.from({ length: 249 }, (_, i) => `k${i}`));
  });

  it("reads nothing ahead without a bulk path", async () => {
    const read = { chunks: 0 };
    const path = await choosePath(chunks(1000, 100, read), ordinary, undefined);
    expect(path.bulk).toBe(false);
    expect(read.chunks).toBe(0);
    expect(await keysOf(path.records)).toHaveLength(1000);
  });

  it("a reader that stops early ends the source as well (a warehouse stream lets go of its result)", async () => {
    const source = { ended: false, chunks: 0 };
    async function* tracked(): AsyncIterable<DestinationRecord[]> {
      try {
        yield* chunks(1000, 100, source);
      } finally {
        source.ended = true;
      }
    }
    const path = await choosePath(tracked(), ordinary, bulk);
    for await (const chunk of path.records) if (chunk.length > 0) break;
    expect(source.ended).toBe(true);
    expect(source.chunks).toBe(3);
  });
});
