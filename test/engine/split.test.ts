/** One batch's recovery: splitting on 400/413 isolates the bad records; run-ending and exhausted errors are accounted, never lost. */
import { describe, expect, it } from "vitest";
import { DestinationRequestError, type DestinationRecord, type RecordOutcome } from "../../src/destinations/types.ts";
import { writeSplitting, type PartResult } from "../../src/engine/split.ts";

const records = (count: number): DestinationRecord[] => Array.from({ length: count }, (_, i) => ({ key: `k${i}`, fields: { bad: i === 5 || i === 6 } }));
const refused = (status: number): DestinationRequestError => new DestinationRequestError(`HTTP ${status}`, { status, code: `HTTP_${status}`, splittable: true });

/** A write that refuses a whole request holding a bad record, as HubSpot does; every call recorded. */
function strict(status = 400): { write: (b: DestinationRecord[]) => Promise<RecordOutcome[]>; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    write: (batch) => {
      calls.push(batch.map((r) => r.key));
      if (batch.some((r) => r.fields.bad === true)) return Promise.reject(refused(status));
      return Promise.resolve(batch.map((r): RecordOutcome => ({ key: r.key, status: "created", recordId: `id-${r.key}` })));
    },
  };
}

async function run(batch: DestinationRecord[], write: (b: DestinationRecord[]) => Promise<RecordOutcome[]>, stopped = () => false): Promise<{ part: string[]; result: PartResult }[]> {
  const parts: { part: string[]; result: PartResult }[] = [];
  await writeSplitting(batch, write, (part, result) => (parts.push({ part: part.map((r) => r.key), result }), Promise.resolve()), stopped);
  return parts;
}

const statuses = (parts: { result: PartResult }[]): Record<string, string> =>
  Object.fromEntries(parts.flatMap((p) => ("outcomes" in p.result ? p.result.outcomes.map((o) => [o.key, o.status]) : [])));

describe("writeSplitting", () => {
  it.each([400, 413])("splits a batch refused whole (%i) until only the bad records fail, each record reported once, in row order", async (status) => {
    const w = strict(status);
    const parts = await run(records(10), w.write);
    const keys = parts.flatMap((p) => p.part);
    expect(keys).toEqual(records(10).map((r) => r.key));
    expect(statuses(parts)).toEqual({ ...Object.fromEntries(records(10).map((r) => [r.key, "created"])), k5: "failed", k6: "failed" });
    // Good halves are written whole, not record by record.
    expect(w.calls).toContainEqual(["k0", "k1", "k2", "k3", "k4"]);
  });

  it("fails a single refused record with the destination's code, not transient", async () => {
    const parts = await run([{ key: "k5", fields: { bad: true } }], strict().write);
    expect(parts).toEqual([{ part: ["k5"], result: { outcomes: [{ key: "k5", status: "failed", code: "HTTP_400", message: "HTTP 400" }] } }]);
  });

  it("marks rows of a batch whose retries ran out as transient failures, without splitting", async () => {
    let calls = 0;
    const down = (): Promise<RecordOutcome[]> => (calls++, Promise.reject(new DestinationRequestError("HTTP 503", { status: 503, code: "HTTP_503", retryable: true })));
    const parts = await run(records(4), down);
    expect(calls).toBe(1);
    expect(parts).toHaveLength(1);
    expect((parts[0]!.result as { outcomes: RecordOutcome[] }).outcomes.every((o) => o.status === "failed" && o.transient === true)).toBe(true);
  });

  it("reports a part refused for the whole run (daily quota) as not sent with the reason, and sends nothing once stopped", async () => {
    let stopped = false;
    let calls = 0;
    const quota = (): Promise<RecordOutcome[]> => (calls++, (stopped = true), Promise.reject(new DestinationRequestError("daily limit", { code: "DAILY_LIMIT", exhausted: true })));
    const parts = await run(records(3), quota, () => stopped);
    expect(parts).toEqual([{ part: ["k0", "k1", "k2"], result: { notSent: true, reason: "daily limit" } }]);
    expect(await run(records(2), quota, () => stopped)).toEqual([{ part: ["k0", "k1"], result: { notSent: true } }]);
    expect(calls).toBe(1);
  });

  it("lets an error that is not the destination's (a bug) through", async () => {
    await expect(run(records(2), () => Promise.reject(new TypeError("bug")))).rejects.toThrow("bug");
  });
});
