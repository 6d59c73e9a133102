/** Per-key concurrency: at most `concurrency` tasks at once, a task sharing a key with one in flight waits for it, a failure is kept. */
import { describe, expect, it } from "vitest";
import { KeyOrderedPool } from "../../src/engine/key-order.ts";

/** A task the test ends by hand, recording when it started and ended. */
function gate(log: string[], name: string): { task: () => Promise<void>; end: () => void } {
  let end: () => void = () => undefined;
  const ended = new Promise<void>((r) => (end = r));
  return {
    task: async () => {
      log.push(`start ${name}`);
      await ended;
      log.push(`end ${name}`);
    },
    end: () => end(),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("KeyOrderedPool", () => {
  it("holds a batch whose key is in flight until that batch ends, while others with free keys go ahead", async () => {
    const log: string[] = [];
    const pool = new KeyOrderedPool(4);
    const a = gate(log, "a");
    await pool.ready(["x", "y"]);
    pool.start(["x", "y"], a.task);
    const b = gate(log, "b");
    await pool.ready(["z"]);
    pool.start(["z"], b.task);
    let cReady = false;
    const c = gate(log, "c");
    const waiting = pool.ready(["w", "y"]).then(() => {
      cReady = true;
      pool.start(["w", "y"], c.task);
    });
    await tick();
    expect(cReady).toBe(false);
    b.end();
    await tick();
    expect(cReady).toBe(false); // b held none of its keys
    a.end();
    await waiting;
    c.end();
    await pool.drain();
    expect(log.indexOf("start c")).toBeGreaterThan(log.indexOf("end a"));
  });

  it("never has more than `concurrency` tasks in flight", async () => {
    const pool = new KeyOrderedPool(2);
    let active = 0;
    let maxActive = 0;
    for (let i = 0; i < 10; i += 1) {
      await pool.ready([`k${i}`]);
      pool.start([`k${i}`], async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await tick();
        active -= 1;
      });
    }
    await pool.drain();
    expect(maxActive).toBe(2);
  });

  it("keeps the first failure, runs `settled` for every task, and frees the failed task's keys", async () => {
    const pool = new KeyOrderedPool(2);
    let settled = 0;
    pool.start(["k"], () => Promise.reject(new Error("ledger down")), () => settled++);
    pool.start(["j"], () => Promise.reject(new Error("second")), () => settled++);
    await pool.drain();
    expect(pool.failure?.error).toEqual(new Error("ledger down"));
    expect(settled).toBe(2);
    await pool.ready(["k"]); // resolves: nothing holds the key now
  });
});
