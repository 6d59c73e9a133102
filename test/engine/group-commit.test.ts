/** Group commit: one checkpoint call at a time, each covering what was acknowledged meanwhile; errors reach every batch of the call. */
import { describe, expect, it } from "vitest";
import type { DestinationRecord, RecordOutcome } from "../../src/destinations/types.ts";
import { GroupCommit } from "../../src/engine/group-commit.ts";

const batch = (from: number, count: number): { records: DestinationRecord[]; outcomes: RecordOutcome[] } => {
  const records = Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, fields: {} }));
  return { records, outcomes: records.map((r): RecordOutcome => ({ key: r.key, status: "created", recordId: `id-${r.key}` })) };
};

describe("GroupCommit", () => {
  it("runs one checkpoint at a time and groups every batch acknowledged while one ran, in order", async () => {
    const calls: string[][] = [];
    let active = 0;
    let maxActive = 0;
    let release: (() => void) | undefined;
    const commit = new GroupCommit(async (records, outcomes) => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      expect(outcomes.map((o) => o.key)).toEqual(records.map((r) => r.key));
      calls.push(records.map((r) => r.key));
      if (calls.length === 1) await new Promise<void>((r) => (release = r));
      active -= 1;
    });
    const first = commit.add(batch(0, 2).records, batch(0, 2).outcomes);
    // Acknowledged while the first checkpoint is still running: they wait and go together.
    const second = commit.add(batch(2, 1).records, batch(2, 1).outcomes);
    const third = commit.add(batch(3, 2).records, batch(3, 2).outcomes);
    let secondDone = false;
    void second.then(() => (secondDone = true));
    await Promise.resolve();
    expect(secondDone).toBe(false);
    release!();
    await Promise.all([first, second, third]);
    expect(calls).toEqual([["k0", "k1"], ["k2", "k3", "k4"]]);
    expect(maxActive).toBe(1);
  });

  it("rejects every batch of a failed checkpoint, and later batches get a call of their own", async () => {
    let calls = 0;
    const commit = new GroupCommit(() => (++calls === 1 ? Promise.reject(new Error("ledger down")) : Promise.resolve()));
    await expect(commit.add(batch(0, 1).records, batch(0, 1).outcomes)).rejects.toThrow("ledger down");
    await expect(commit.add(batch(1, 1).records, batch(1, 1).outcomes)).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });

  it("counts the batches awaiting their checkpoint: room() waits below a bound, flush() until none is left, a failure is kept", async () => {
    const releases: (() => void)[] = [];
    let calls = 0;
    const commit = new GroupCommit(() => {
      calls += 1;
      return calls === 2 ? Promise.reject(new Error("ledger down")) : new Promise<void>((r) => releases.push(r));
    });
    void commit.add(batch(0, 1).records, batch(0, 1).outcomes);
    void commit.add(batch(1, 1).records, batch(1, 1).outcomes);
    void commit.add(batch(2, 1).records, batch(2, 1).outcomes);
    expect(commit.backlog).toBe(3);
    let roomed = false;
    const room = commit.room(3).then(() => (roomed = true));
    await Promise.resolve();
    expect(roomed).toBe(false);
    // The first call (one batch) commits: two are left, below the bound; the second call (two batches) fails.
    releases.shift()!();
    await room;
    await commit.flush();
    expect(commit.backlog).toBe(0);
    expect(String(commit.failure?.error)).toContain("ledger down");
    expect(calls).toBe(2);
  });

  it("without a checkpoint, a batch is done when acknowledged", async () => {
    await expect(new GroupCommit(undefined).add(batch(0, 1).records, batch(0, 1).outcomes)).resolves.toBeUndefined();
  });
});
