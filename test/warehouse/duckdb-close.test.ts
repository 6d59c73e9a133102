/**
 * Closing a DuckDB warehouse closes the database, whatever streams its readers left half read. A streamed result
 * that was not read to its end holds its connection's context, and with it the whole database instance, past
 * `closeSync()` of its connection and instance: the file stays locked for other processes, and in this process the
 * next session opens a second instance of the same file; when the garbage collector later frees the old result, the
 * old instance shuts down and writes its stale state over the file (corrupt file, "Could not read enough bytes", or a
 * native crash of the process). `serve` and the in-process model suite run session after session in one process.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { repoRoot } from "../../scripts/dbt.ts";
import { BusyError } from "../../src/errors.ts";
import { connectWarehouse, type Warehouse } from "../../src/warehouse/index.ts";

// The garbage collector, callable: the old instance's shutdown happens when its abandoned result is collected.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function freshFile(): Promise<string> {
  const dir = await mkdtemp(join(inject("scratchRoot"), "duckdb-close-"));
  const path = join(dir, "close.duckdb");
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  await connection.run("create table rows_ as select range as id, 'row ' || range as v from range(100000); create table writes (session int, n int)");
  connection.closeSync();
  instance.closeSync();
  return path;
}

const open = (path: string): Promise<Warehouse> => connectWarehouse({ profile: "p", target: "dev", profilesPath: "profiles.yml", config: { type: "duckdb", path } });

/** Whether another process can open the file for writing now (DuckDB locks it while an instance of it lives). */
function freeForOtherProcesses(path: string): string {
  const script = `require(${JSON.stringify(join(repoRoot, "node_modules", "@duckdb", "node-api"))}).DuckDBInstance.create(${JSON.stringify(path)}).then((i) => { i.closeSync(); console.log("free"); }, (e) => console.log(e.message))`;
  return execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }).trim();
}

/** How a reader stops reading a stream before its end. */
const EARLY_STOPS = {
  "breaks after the first chunk": async (w: Warehouse) => {
    for await (const chunk of w.stream("select * from rows_ order by id")) if (chunk.length > 0) break;
  },
  "reads the only chunk of a small result and stops (as a run that fails on its first batch)": async (w: Warehouse) => {
    for await (const chunk of w.stream("select * from rows_ where id < 10 order by id")) if (chunk.length > 0) break;
  },
  "throws while reading": async (w: Warehouse) => {
    await expect(
      (async () => {
        for await (const chunk of w.stream("select * from rows_ order by id")) if (chunk.length > 0) throw new Error("destination failed");
      })(),
    ).rejects.toThrow("destination failed");
  },
  "leaves the iterator mid-way without returning it": async (w: Warehouse) => {
    const iterator = w.stream("select * from rows_ order by id")[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
  },
};

describe("a DuckDB warehouse closed after a stream was stopped early", () => {
  it.each(Object.keys(EARLY_STOPS))("reader %s: the file is free for other processes once the warehouse is closed", async (how) => {
    const path = await freshFile();
    const warehouse = await open(path);
    await EARLY_STOPS[how as keyof typeof EARLY_STOPS](warehouse);
    await warehouse.close();
    expect(freeForOtherProcesses(path)).toBe("free");
  });

  it("30 sessions in a row in one process, each stopping streams early, the garbage collector running during each: every session's writes are kept", async () => {
    const path = await freshFile();
    const stops = Object.values(EARLY_STOPS);
    for (let session = 0; session < 30; session += 1) {
      const warehouse = await open(path);
      await warehouse.execute("insert into writes select ?, range from range(1000)", [session]);
      await warehouse.execute("update rows_ set v = ? where id % 7 = ?", [`session ${session}`, session % 7]);
      // The previous sessions' abandoned results are collected while this session has the file open.
      gc();
      await stops[session % stops.length]!(warehouse);
      await warehouse.close();
    }
    const warehouse = await open(path);
    try {
      const [counts] = await warehouse.query("select count(*) as n, count(distinct session) as sessions, (select count(*) from rows_ where v like 'session 2_') as updated from writes");
      expect(counts).toEqual({ n: 30_000n, sessions: 30n, updated: 100_000n });
    } finally {
      await warehouse.close();
    }
  });

  it("close() waits for a statement still running on the warehouse (a lease heartbeat in flight), then closes", async () => {
    const path = await freshFile();
    const warehouse = await open(path);
    const inFlight = warehouse.query("select count(*) as n from rows_ a, rows_ b where a.id % 1000 = b.id % 1000");
    await warehouse.close();
    expect(await inFlight).toEqual([{ n: 10_000_000n }]);
    expect(freeForOtherProcesses(path)).toBe("free");
    // Used after closing: a clear error, not a native crash.
    await expect(warehouse.query("select 1")).rejects.toThrow(/closed/);
  });

  it("one instance of a file per process: a second open while the first is not closed is refused, nothing done; after close it opens", async () => {
    const path = await freshFile();
    const first = await open(path);
    const refused = await open(path).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(BusyError);
    expect((refused as Error).message).toBe(`DuckDB database ${path} is already open in this process (another sync or command of this process is running on it); nothing was done`);
    await first.close();
    const again = await open(path);
    expect(await again.query("select count(*) as n from rows_")).toEqual([{ n: 100_000n }]);
    await again.close();
  });
});
