/**
 * The order the session gate gives statements on one session (src/warehouse/session-gate.ts), with statements that
 * finish when the test says: a transaction begins only once the statements from outside already running have ended,
 * statements from outside wait for its end, its own statements and a transaction nested in it go straight through.
 * The engines' side (DuckDB, Snowflake) is checked against real databases in test/support/transactions.ts.
 */
import { describe, expect, it } from "vitest";
import { SessionGate } from "../../src/warehouse/session-gate.ts";

/** A session that logs what it runs, each statement held open until `finish(name)`. */
function session() {
  const log: string[] = [];
  const open = new Map<string, () => void>();
  const run = (name: string) => () => {
    log.push(`start ${name}`);
    return new Promise<void>((resolve) =>
      open.set(name, () => {
        log.push(`end ${name}`);
        resolve();
      }),
    );
  };
  const instant = (name: string) => () => {
    log.push(name);
    return Promise.resolve();
  };
  const finish = (name: string): void => {
    const end = open.get(name);
    if (!end) throw new Error(`${name} is not running (log: ${log.join(", ")})`);
    open.delete(name);
    end();
  };
  const statements = { begin: instant("begin"), commit: instant("commit"), rollback: instant("rollback") };
  return { log, run, finish, statements };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

describe("the session gate", () => {
  it("begins a transaction only after the statements already running, and holds back those sent after it", async () => {
    const gate = new SessionGate();
    const s = session();
    const before = gate.statement(s.run("read before"));
    await settle();
    const transaction = gate.transaction(s.statements, async () => {
      await gate.statement(s.run("write inside"));
    });
    await settle();
    const after = gate.statement(s.run("read after"));
    await settle();
    expect(s.log).toEqual(["start read before"]);
    s.finish("read before");
    await settle();
    expect(s.log).toEqual(["start read before", "end read before", "begin", "start write inside"]);
    s.finish("write inside");
    await transaction;
    await settle();
    expect(s.log.slice(4)).toEqual(["end write inside", "commit", "start read after"]);
    s.finish("read after");
    await Promise.all([before, after]);
  });

  it("lets statements from outside a transaction run side by side", async () => {
    const gate = new SessionGate();
    const s = session();
    const both = [gate.statement(s.run("a")), gate.statement(s.run("b"))];
    await settle();
    expect(s.log).toEqual(["start a", "start b"]);
    s.finish("b");
    s.finish("a");
    await Promise.all(both);
  });

  it("joins a transaction begun inside one, and rolls back the whole when it throws, then frees the session", async () => {
    const gate = new SessionGate();
    const s = session();
    const failing = gate.transaction(s.statements, async () => {
      await gate.transaction(s.statements, () => gate.statement(s.run("nested write")));
      throw new Error("boom");
    });
    await settle();
    s.finish("nested write");
    await expect(failing).rejects.toThrow("boom");
    const next = gate.statement(s.run("next"));
    await settle();
    s.finish("next");
    await next;
    expect(s.log).toEqual(["begin", "start nested write", "end nested write", "rollback", "start next", "end next"]);
  });

  it("runs two transactions begun together one after the other, each whole", async () => {
    const gate = new SessionGate();
    const s = session();
    const first = gate.transaction(s.statements, () => gate.statement(s.run("first")));
    const second = gate.transaction(s.statements, () => gate.statement(s.run("second")));
    await settle();
    expect(s.log).toEqual(["begin", "start first"]);
    s.finish("first");
    await first;
    await settle();
    s.finish("second");
    await second;
    expect(s.log).toEqual(["begin", "start first", "end first", "commit", "begin", "start second", "end second", "commit"]);
  });
});
