/**
 * One suite for every warehouse engine: the `Warehouse` contract (columns, streamed chunks, parameters including
 * Dates, transactions) and the syncer's behaviours on that engine (migrations, the plan against ledger checkpoints,
 * dead letters, pause and the lease, shards), plus the row hash and the stable bucket compared with the formulas of
 * the dbt macros and with DuckDB for the same values. Each engine's test file supplies a connection and a few
 * spellings the suite cannot write portably (a row generator).
 */
import { createHash } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { rejectedKeys } from "../../src/eligible/rows.ts";
import { Controls } from "../../src/ledger/controls.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { LEDGER_VERSION, ledgerTables, migrate, type LedgerTables } from "../../src/ledger/migrations.ts";
import { planCounts, plannedRecords, type PlannedRecord } from "../../src/plan/diff.ts";
import { connectWarehouse } from "../../src/warehouse/index.ts";
import { rowHashOf } from "../../src/warehouse/row-hash.ts";
import { expectPartitionCount, expectPartitionedPlanEqual } from "../support/partitions.ts";
import type { SqlParam, Warehouse, WarehouseRow } from "../../src/warehouse/types.ts";
import { HUBSPOT_PEOPLE, contractOn } from "../support/contracts.ts";
import { expectOutsideStatementsApart } from "../support/transactions.ts";

export interface EngineUnderTest {
  name: string;
  /** A connected warehouse whose default schema is fresh for this run (dropped or left behind: each run has its own). */
  connect(): Promise<Warehouse>;
  /** A query returning the integers 0 … n-1 as column `i`. */
  series(n: number): string;
  /** Stops what `connect` started, after the warehouse is closed. */
  stop?(): Promise<void>;
  /**
   * Room for the partitioned-plan comparison, which runs about a hundred plan statements: fakesnow translates each
   * statement's SQL text before DuckDB runs it (0.5–2.6 s apiece for these, by the length of the text, not the data),
   * so the emulated Snowflake needs more than the default. Not a bound on our own speed: the benches measure that.
   */
  partitionedPlanTimeoutMs?: number;
  /** The partition counts the comparison runs (default 3 and 7); one count keeps the emulated Snowflake's share short. */
  partitionCounts?: readonly number[];
}

const md5 = (text: string): string => createHash("md5").update(text, "utf8").digest("hex");
/** The dbt macro activation.row_hash, as its comment writes it in TypeScript. */
export { rowHashOf };
/** The dbt macro activation.stable_bucket's formula, for any modulus. */
export const bucketOf = (text: string, modulus: number): number => parseInt(md5(text).slice(0, 8), 16) % modulus;

/** Integers come back as bigint (DuckDB, PostgreSQL, BigQuery) or number: the suite compares them as numbers. */
const num = (v: unknown): number => Number(v);
const lower = (row: WarehouseRow | undefined): WarehouseRow => Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

function peopleOn(relation: string): Contract {
  return contractOn({ name: "people", relation }, HUBSPOT_PEOPLE);
}

export async function collect(stream: AsyncIterable<PlannedRecord[]>): Promise<PlannedRecord[]> {
  const out: PlannedRecord[] = [];
  for await (const chunk of stream) out.push(...chunk);
  return out;
}

/** Rows and outcomes as the engine would acknowledge them: every planned row written. */
export async function syncAll(warehouse: Warehouse, contract: Contract, tables: LedgerTables, runId: string, fail: string[] = []): Promise<PlannedRecord[]> {
  const ledger = new Ledger(warehouse, tables);
  const planned = await collect(plannedRecords(warehouse, contract, tables));
  for (let i = 0; i < planned.length; i += 100) {
    const batch = planned.slice(i, i + 100);
    await ledger.checkpoint(
      contract.spec.name,
      runId,
      batch,
      batch.map((r) =>
        fail.includes(r.key)
          ? { key: r.key, status: "failed" as const, code: "INVALID_OPTION", message: `${r.key}: not a valid option` }
          : { key: r.key, status: r.change === "create" ? ("created" as const) : ("updated" as const), recordId: `id-${r.key}` },
      ),
    );
  }
  return planned;
}

/** Literal SQL values the hash tests use: text, null, an integer and a boolean render the same on every engine. */
const HASH_CASES: { sql: string[]; text: (string | null)[] }[] = [
  { sql: ["'a'", "'b'"], text: ["a", "b"] },
  { sql: ["'a'", "null"], text: ["a", null] },
  { sql: ["null", "'a'"], text: [null, "a"] },
  { sql: ["''", "''"], text: ["", ""] },
  { sql: ["'héllo wörld'", "42", "true"], text: ["héllo wörld", "42", "true"] },
  { sql: ["'x'"], text: ["x"] },
  // Values holding the hash's separators (chr 31), null marker (chr 30) and escape (chr 29): pairs that collided
  // before the escape must differ (checked below), and SQL must still equal the TypeScript formula.
  { sql: ["'p' || chr(31) || '1'", "'q'"], text: ["p\x1f1", "q"] },
  { sql: ["'p'", "'1' || chr(31) || 'q'"], text: ["p", "1\x1fq"] },
  { sql: ["chr(30)", "null"], text: ["\x1e", null] },
  { sql: ["null", "null"], text: [null, null] },
  { sql: ["chr(29) || 'u'"], text: ["\x1du"] },
  { sql: ["chr(31)"], text: ["\x1f"] },
  { sql: ["chr(29) || chr(31)", "chr(30)"], text: ["\x1d\x1f", "\x1e"] },
];
/** Keys whose md5 starts with a hex digit ≥ 8 among them: the bucket must read the 8 digits as unsigned. */
const BUCKET_KEYS = ["a@example.com", "b@example.com", "p7@example.com", "zz", "", "héllo", "0", "key-42", "ffff", "shard:x"];

export function warehouseSuite(engine: EngineUnderTest): void {
  let warehouse: Warehouse;
  let tables: LedgerTables;
  let people: string;
  let contract: Contract;
  const d = (): Warehouse["dialect"] => warehouse.dialect;
  const rel = (name: string): string => `${d().quoteIdentifier(warehouse.defaultSchema)}.${d().quoteIdentifier(name)}`;

  beforeAll(async () => {
    warehouse = await engine.connect();
    const x = warehouse.dialect.types;
    await warehouse.execute(`create schema if not exists ${warehouse.dialect.quoteIdentifier(warehouse.defaultSchema)}`);
    people = rel("people");
    contract = peopleOn(people);
    await warehouse.execute(`create table ${people} (email ${x.text}, first_name ${x.text}, tier ${x.text})`);
    const p = warehouse.dialect.param;
    const rows = Array.from({ length: 150 }, (_, i) => [`p${i}@example.com`, `First${i}`, "lead"]);
    // Rejected rows: a null key and a shared key never reach the plan.
    rows.push([null as unknown as string, "Nobody", "lead"], ["dup@example.com", "One", "lead"], ["dup@example.com", "Two", "lead"]);
    const values = rows.map((_, r) => `(${p(r * 3 + 1)}, ${p(r * 3 + 2)}, ${p(r * 3 + 3)})`).join(", ");
    await warehouse.execute(`insert into ${people} (email, first_name, tier) values ${values}`, rows.flat());
    tables = ledgerTables(warehouse.dialect, warehouse.defaultSchema);
  });

  afterAll(async () => {
    await warehouse?.close();
    await engine.stop?.();
  });

  describe(`${engine.name}: the Warehouse contract`, () => {
    it("lists a relation's columns in order", async () => {
      expect((await warehouse.columns(people)).map((c) => c.toLowerCase())).toEqual(["email", "first_name", "tier"]);
    });

    it("streams a large result in several chunks, every row once", async () => {
      const seen: number[] = [];
      let chunks = 0;
      for await (const chunk of warehouse.stream(`select i from (${engine.series(5000)}) as s order by i`)) {
        chunks += 1;
        seen.push(...chunk.map((r) => num(lower(r).i)));
      }
      expect(chunks).toBeGreaterThan(1);
      expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    });

    it("binds text, numbers, booleans, nulls and Dates, and returns Dates as the same instants", async () => {
      const x = d().types;
      const p = d().param;
      const t = rel("params");
      await warehouse.execute(`create table ${t} (s ${x.text}, n ${x.integer}, b ${x.boolean}, ts ${x.timestamp}, z ${x.text})`);
      const when = new Date("2026-03-04T05:06:07.123Z");
      const params: SqlParam[] = ["it's \"quoted\"", 42, true, when, null];
      await warehouse.execute(`insert into ${t} (s, n, b, ts, z) values (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`, params);
      const rows = (await warehouse.query(`select s, n, b, ts, z from ${t} where n = ${p(1)} and ts = ${p(2)} and b = ${p(3)}`, [42, when, true])).map(lower);
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row.s).toBe("it's \"quoted\"");
      expect(num(row.n)).toBe(42);
      expect(row.b).toBe(true);
      expect(row.ts).toBeInstanceOf(Date);
      expect((row.ts as Date).toISOString()).toBe(when.toISOString());
      expect(row.z).toBeNull();
      const later = (await warehouse.query(`select count(*) as n from ${t} where ts < ${p(1)}`, [new Date(when.getTime() + 1000)])).map(lower);
      expect(num(later[0]?.n)).toBe(1);
    });

    it("commits a transaction that resolves and rolls back one that throws", async () => {
      const t = rel("tx");
      const p = d().param;
      await warehouse.execute(`create table ${t} (k ${d().types.text})`);
      await warehouse.transaction(async () => {
        await warehouse.execute(`insert into ${t} (k) values (${p(1)})`, ["kept"]);
        // Reads inside the transaction see its own writes.
        expect((await warehouse.query(`select k from ${t}`)).map((r) => lower(r).k)).toEqual(["kept"]);
      });
      await expect(
        warehouse.transaction(async () => {
          await warehouse.execute(`insert into ${t} (k) values (${p(1)})`, ["dropped"]);
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect((await warehouse.query(`select k from ${t} order by k`)).map((r) => lower(r).k)).toEqual(["kept"]);
    });

    it("keeps statements sent from outside an open transaction apart from it (the plan's staging table beside a checkpoint)", async () => {
      await expectOutsideStatementsApart(warehouse, warehouse.defaultSchema, engine.name.replace(/\W/g, "_"));
    });
  });

  describe(`${engine.name}: the syncer's SQL`, () => {
    it("migrates once (idempotent) and records the versions", async () => {
      expect(await migrate(warehouse, tables)).toBe(LEDGER_VERSION);
      expect(await migrate(warehouse, tables)).toBe(LEDGER_VERSION);
      expect((await warehouse.query(`select version from ${tables.migrations} order by version`)).map((r) => num(lower(r).version))).toEqual(Array.from({ length: LEDGER_VERSION }, (_, i) => i + 1));
    });

    it("checkpoints a group of batches larger than one statement slice in one call", async () => {
      const ledger = new Ledger(warehouse, tables);
      const records: PlannedRecord[] = Array.from({ length: 1_200 }, (_, i) => ({ key: `g${i}@example.com`, hash: `h${i}`, change: "create", fields: { firstname: `G${i}` } }));
      const outcomes = records.map((r, i) =>
        i % 24 === 0 ? { key: r.key, status: "failed" as const, code: "INVALID_EMAIL", message: "invalid" } : { key: r.key, status: "created" as const, recordId: `id-${i}` },
      );
      await ledger.checkpoint("slice_c", "run-slices", records, outcomes);
      const count = async (table: string): Promise<number> => num(lower((await warehouse.query(`select count(*) as n from ${table} where contract_name = ${d().param(1)}`, ["slice_c"]))[0]!).n);
      expect([await count(tables.ledger), await count(tables.deadLetters)]).toEqual([1_150, 50]);
    });

    it("keeps a run-log row from the start of a run; a runner that died is marked abandoned by the next", async () => {
      const ledger = new Ledger(warehouse, tables);
      const controls = new Controls(warehouse, tables);
      const start = { contract: "runlog_c", invocationId: "inv", startedAt: new Date(), mode: "upsert", actor: "maya" };
      await ledger.startRun({ ...start, runId: "r-killed" });
      const row = async (runId: string): Promise<Record<string, unknown>> =>
        lower((await warehouse.query(`select status, finished_at, rows_created, rows_skipped, rows_not_sent, stop_reason from ${tables.runLog} where run_id = ${d().param(1)}`, [runId]))[0]!);
      expect(await row("r-killed")).toMatchObject({ status: "running", finished_at: null });
      // The next runner holds the lease: r-killed holds none, so its row is abandoned; r-next's own row is not.
      await ledger.startRun({ ...start, runId: "r-next" });
      expect(await controls.acquireLease("runlog_c", "host:1:r-next", 60_000)).toEqual({ acquired: true });
      expect(await ledger.abandonRuns("runlog_c", await controls.liveRunIds())).toBe(1);
      expect(await row("r-killed")).toMatchObject({ status: "abandoned", stop_reason: expect.stringMatching(/stopped without finishing/) });
      expect(await row("r-next")).toMatchObject({ status: "running" });
      const counts = { eligible: 10, created: 4, updated: 1, unchanged: 2, removed: 0, failed: 1, rejected: 0, skipped: 1, notSent: 1 };
      await ledger.finishRun({ runId: "r-next", contract: "runlog_c", finishedAt: new Date(), status: "partial", counts });
      const done = await row("r-next");
      expect([done.status, num(done.rows_created), num(done.rows_skipped), num(done.rows_not_sent), done.finished_at instanceof Date]).toEqual(["partial", 4, 1, 1, true]);
      await controls.releaseLease("runlog_c", "host:1:r-next");
    });

    it("reports null and shared keys as rejected", async () => {
      expect(await rejectedKeys(warehouse, contract)).toEqual([
        { key: "dup@example.com", reason: "duplicate_key", rows: 2 },
        { key: null, reason: "null_key", rows: 1 },
      ]);
    });

    it("plans creates, then nothing once the ledger has them", async () => {
      expect(await planCounts(warehouse, contract, tables)).toEqual({ eligible: 150, create: 150, update: 0, unchanged: 0, removed: 0, failedUnchanged: 0, retryLater: 0, removable: 0 });
      const planned = await syncAll(warehouse, contract, tables, "run-1");
      expect(planned).toHaveLength(150);
      // Key order (text order), mapped fields only.
      expect(planned.slice(0, 3).map((r) => r.key)).toEqual(["p0@example.com", "p100@example.com", "p101@example.com"]);
      expect(planned[0]).toMatchObject({ change: "create", fields: { firstname: "First0", lifecyclestage: "lead" } });
      expect(planned[0]!.hash).toBe(rowHashOf(["First0", "lead"]));
      expect(await planCounts(warehouse, contract, tables)).toEqual({ eligible: 150, create: 0, update: 0, unchanged: 150, removed: 0, failedUnchanged: 0, retryLater: 0, removable: 0 });
      expect(await collect(plannedRecords(warehouse, contract, tables))).toEqual([]);
    });

    it("classifies a changed, a new and a removed row, and keeps what was sent before", async () => {
      const p = d().param;
      await warehouse.execute(`update ${people} set tier = ${p(1)} where email = ${p(2)}`, ["customer", "p7@example.com"]);
      await warehouse.execute(`insert into ${people} (email, first_name, tier) values (${p(1)}, ${p(2)}, ${p(3)})`, ["new@example.com", "New", "lead"]);
      await warehouse.execute(`delete from ${people} where email = ${p(1)}`, ["p9@example.com"]);
      expect(await planCounts(warehouse, contract, tables)).toEqual({ eligible: 150, create: 1, update: 1, unchanged: 148, removed: 1, failedUnchanged: 0, retryLater: 0, removable: 0 });
      const planned = await syncAll(warehouse, contract, tables, "run-2");
      expect(planned.map((r) => [r.key, r.change, r.fields])).toEqual([
        ["new@example.com", "create", { firstname: "New", lifecyclestage: "lead" }],
        ["p7@example.com", "update", { firstname: "First7", lifecyclestage: "customer" }],
      ]);
      const [entry] = (await warehouse.query(`select last_sent_values, previous_values, run_id from ${tables.ledger} where sync_key = ${p(1)}`, ["p7@example.com"])).map(lower);
      expect(entry).toEqual({
        last_sent_values: JSON.stringify({ firstname: "First7", lifecyclestage: "customer" }),
        previous_values: JSON.stringify({ firstname: "First7", lifecyclestage: "lead" }),
        run_id: "run-2",
      });
      expect(await planCounts(warehouse, contract, tables)).toMatchObject({ create: 0, update: 0, unchanged: 150, removed: 1 });
    });

    it("keeps nothing from before a removal: a row that left and came back has no previous values to roll back to", async () => {
      const p = d().param;
      // p9 left the eligible set and its record was cleared or deleted (on_removed); then it comes back, changed.
      await new Ledger(warehouse, tables).markRemoved(contract.spec.name, "run-2", [{ key: "p9@example.com", reason: "no_consent", action: "clear" }]);
      await warehouse.execute(`insert into ${people} (email, first_name, tier) values (${p(1)}, ${p(2)}, ${p(3)})`, ["p9@example.com", "Back", "customer"]);
      try {
        const planned = await syncAll(warehouse, contract, tables, "run-back");
        expect(planned.map((r) => r.key)).toEqual(["p9@example.com"]);
        const [entry] = (await warehouse.query(`select status, previous_values from ${tables.ledger} where sync_key = ${p(1)}`, ["p9@example.com"])).map(lower);
        // Not the values sent before the removal: `rollback` would write them back to a record made anew.
        expect(entry).toEqual({ status: "synced", previous_values: null });
      } finally {
        // The later tests count the table as it was: p9 gone again.
        await warehouse.execute(`delete from ${people} where email = ${p(1)}`, ["p9@example.com"]);
      }
    });

    it("dead-letters failed rows with their reason, holds them back while unchanged, and a full resync plans them again", async () => {
      const p = d().param;
      await warehouse.execute(`update ${people} set tier = ${p(1)} where email in (${p(2)}, ${p(3)})`, ["evangelist", "p1@example.com", "p2@example.com"]);
      await syncAll(warehouse, contract, tables, "run-3", ["p1@example.com", "p2@example.com"]);
      const letters = (await warehouse.query(`select sync_key, error_class, error_code, payload from ${tables.deadLetters} where run_id = ${p(1)} order by sync_key`, ["run-3"])).map(lower);
      expect(letters).toEqual([
        { sync_key: "p1@example.com", error_class: "rejected", error_code: "INVALID_OPTION", payload: JSON.stringify({ firstname: "First1", lifecyclestage: "evangelist" }) },
        { sync_key: "p2@example.com", error_class: "rejected", error_code: "INVALID_OPTION", payload: JSON.stringify({ firstname: "First2", lifecyclestage: "evangelist" }) },
      ]);
      // Refused for their content (permanent): not resent until the row changes (the dead-letter lifecycle).
      expect(await planCounts(warehouse, contract, tables)).toMatchObject({ update: 0, unchanged: 148, failedUnchanged: 2 });
      const full = await planCounts(warehouse, contract, tables, { fullResync: true });
      expect(full.update + full.create).toBe(full.eligible);
    });

    it("splits the keys into disjoint shards that together cover every eligible row", async () => {
      const seen: string[] = [];
      for (let index = 0; index < 4; index += 1) {
        const keys = (await collect(plannedRecords(warehouse, contract, tables, { fullResync: true, shard: { index, count: 4 } }))).map((r) => r.key);
        expect(keys.length).toBeGreaterThan(10);
        // The same bucket the TypeScript formula gives: shards agree across engines.
        for (const key of keys) expect(bucketOf(`shard:${key}`, 4)).toBe(index);
        seen.push(...keys);
      }
      const all = (await collect(plannedRecords(warehouse, contract, tables, { fullResync: true }))).map((r) => r.key);
      expect(seen.sort()).toEqual(all.sort());
      expect(new Set(seen).size).toBe(seen.length);
      const counts = await Promise.all([0, 1, 2, 3].map((index) => planCounts(warehouse, contract, tables, { shard: { index, count: 4 } })));
      const total = await planCounts(warehouse, contract, tables);
      for (const k of ["eligible", "create", "update", "unchanged", "removed"] as const) expect(counts.reduce((n, c) => n + c[k], 0)).toBe(total[k]);
    });

    it("runs the plan in partitions that give the plan of one query, and counts them from the larger side", async () => {
      await expectPartitionedPlanEqual(warehouse, contract, tables, engine.partitionCounts);
      // 153 rows in the model (a null and a shared key among them), 151 synced in the ledger.
      await expectPartitionCount(warehouse, contract, tables, 153);
    }, engine.partitionedPlanTimeoutMs);

    it("pauses and resumes one contract or all", async () => {
      const controls = new Controls(warehouse, tables);
      expect(await controls.pausedReason("people_to_hubspot", {})).toBeUndefined();
      await controls.setPaused("people_to_hubspot", true, "bad scores in prod", "maya");
      expect(await controls.pausedReason("people_to_hubspot", {})).toBe("paused by maya: bad scores in prod (dbt-activation resume)");
      expect((await controls.pausedContracts()).map((c) => [c.contract, c.reason, c.updatedAt instanceof Date])).toEqual([["people_to_hubspot", "bad scores in prod", true]]);
      await controls.setPaused("people_to_hubspot", false, undefined, "maya");
      await controls.setPaused("*", true, "incident 42", "ops");
      expect(await controls.pausedReason("other", {})).toMatch(/^every contract is paused by ops: incident 42/);
      await controls.setPaused("*", false, undefined, "ops");
      expect(await controls.pausedReason("other", {})).toBeUndefined();
    });

    it("gives a contract's lease to one runner at a time and lets a dead runner's lease expire", async () => {
      const controls = new Controls(warehouse, tables);
      expect(await controls.acquireLease("c1", "runner-a", 60_000)).toEqual({ acquired: true });
      expect(await controls.acquireLease("c1", "runner-b", 60_000)).toMatchObject({ acquired: false, holder: "runner-a" });
      expect((await warehouse.query(`select holder from ${tables.leases} where contract_name = ${d().param(1)}`, ["c1"])).map((r) => lower(r).holder)).toEqual(["runner-a"]);
      await controls.releaseLease("c1", "runner-a");
      expect(await controls.acquireLease("c1", "runner-b", -1)).toEqual({ acquired: true });
      expect(await controls.acquireLease("c1", "runner-c", 60_000)).toEqual({ acquired: true });
    });
  });

  describe(`${engine.name}: row hash and stable bucket`, () => {
    let duck: Warehouse;
    beforeAll(async () => {
      // The same SQL on DuckDB, the embedded default: a ledger moved between engines keeps its hashes.
      const dir = await mkdtemp(join(inject("scratchRoot"), `hash-${engine.name}-`));
      const { DuckDBInstance } = await import("@duckdb/node-api");
      const path = join(dir, "h.duckdb");
      (await DuckDBInstance.create(path)).closeSync();
      duck = await connectWarehouse({ profile: "p", target: "t", profilesPath: "profiles.yml", config: { type: "duckdb", path } });
    });
    afterAll(async () => duck?.close());

    const hashes = async (w: Warehouse): Promise<string[]> => {
      const select = HASH_CASES.map((c, i) => `${w.dialect.rowHash(c.sql)} as ${w.dialect.quoteIdentifier(`h${i}`)}`).join(", ");
      const row = lower((await w.query(`select ${select}`))[0]);
      return HASH_CASES.map((_, i) => String(row[`h${i}`]));
    };
    const buckets = async (w: Warehouse, modulus: number): Promise<number[]> => {
      const p = w.dialect.param;
      const select = BUCKET_KEYS.map((_, i) => `${w.dialect.hashBucket(p(i + 1), modulus)} as ${w.dialect.quoteIdentifier(`b${i}`)}`).join(", ");
      const row = lower((await w.query(`select ${select}`, BUCKET_KEYS))[0]);
      return BUCKET_KEYS.map((_, i) => num(row[`b${i}`]));
    };

    it("hashes values as the dbt macro activation.row_hash does, and as DuckDB does", async () => {
      const expected = HASH_CASES.map((c) => rowHashOf(c.text));
      // Different values, different hashes: separators inside values cannot forge a boundary or a null.
      expect(new Set(expected).size).toBe(HASH_CASES.length);
      expect(await hashes(warehouse)).toEqual(expected);
      expect(await hashes(duck)).toEqual(expected);
    });

    it("buckets keys as activation.stable_bucket's formula does (unsigned), and as DuckDB does", async () => {
      expect(BUCKET_KEYS.some((k) => parseInt(md5(k)[0]!, 16) >= 8)).toBe(true);
      for (const modulus of [4, 100, 7919]) {
        const expected = BUCKET_KEYS.map((k) => bucketOf(k, modulus));
        expect(await buckets(warehouse, modulus)).toEqual(expected);
        expect(await buckets(duck, modulus)).toEqual(expected);
      }
    });
  });
}
