/**
 * The planner and the ledger on a real DuckDB file, with the HubSpot emulator through the official SDK: the diff by
 * row hash, checkpoints per acknowledged batch, dead letters, migrations, and a no-op rerun that sends nothing.
 */
import { mkdtemp } from "node:fs/promises";
import { DuckDBInstance } from "@duckdb/node-api";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { createDestination } from "../../src/destinations/index.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { sendRecords } from "../../src/engine/send.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { LEDGER_VERSION, ledgerTables, migrate, type LedgerTables } from "../../src/ledger/migrations.ts";
import { stopChecks } from "../../src/plan/checks.ts";
import { fieldChanges, MaterializedPlan, planCounts, plannedRecords, type PlannedRecord } from "../../src/plan/diff.ts";
import { Controls } from "../../src/ledger/controls.ts";
import { connectWarehouse, type SqlParam, type Warehouse } from "../../src/warehouse/index.ts";
import { expectPartitionCount, expectPartitionedPlanEqual } from "../support/partitions.ts";
import { HUBSPOT_PEOPLE, contractOn, contractSpec } from "../support/contracts.ts";
import { expectOutsideStatementsApart } from "../support/transactions.ts";

const TOKEN = "plan-token";
let warehouse: Warehouse;
let emulator: HubSpotEmulator;
let tables: LedgerTables;
let ledger: Ledger;

const contract: Contract = contractOn({ name: "people", relation: '"plan"."main"."people"' }, HUBSPOT_PEOPLE);

beforeAll(async () => {
  const dir = await mkdtemp(join(inject("scratchRoot"), "plan-"));
  const path = join(dir, "plan.duckdb");

  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  await connection.run(`create table people as select 'p' || i || '@example.com' as email, 'First' || i as first_name, 'lead' as tier from range(150) t(i)`);
  connection.closeSync();
  instance.closeSync();
  warehouse = await connectWarehouse({ profile: "p", target: "t", profilesPath: "profiles.yml", config: { type: "duckdb", path } });
  tables = ledgerTables(warehouse.dialect, warehouse.defaultSchema);
  emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: { contacts: [{ name: "lifecyclestage", type: "enumeration", options: ["lead", "customer"] }] } });
});

afterAll(async () => {
  await warehouse.close();
  await emulator.close();
});

async function syncOnce(runId: string, fullResync = false) {
  const destination = createDestination(contract, { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url });
  return sendRecords(destination, plannedRecords(warehouse, contract, tables, { fullResync }), {
    baseDelayMs: 1,
    onAcknowledged: (records, outcomes) => ledger.checkpoint(contract.spec.name, runId, records as PlannedRecord[], outcomes),
  });
}

describe("ledger migrations", () => {
  it("creates the tables once and records the version", async () => {
    expect(await migrate(warehouse, tables)).toBe(LEDGER_VERSION);
    expect(await migrate(warehouse, tables)).toBe(LEDGER_VERSION);
    expect((await warehouse.query(`select version from ${tables.migrations} order by version`)).map((r) => r.version)).toEqual(Array.from({ length: LEDGER_VERSION }, (_, i) => BigInt(i + 1)));
    ledger = new Ledger(warehouse, tables);
  });
});

describe("plan against the ledger", () => {
  it("plans every row as a create before the first sync, and nothing after it", async () => {
    expect(await planCounts(warehouse, contract, tables)).toEqual({ eligible: 150, create: 150, update: 0, unchanged: 0, removed: 0, failedUnchanged: 0, retryLater: 0, removable: 0 });
    const first = await syncOnce("run-1");
    expect(first).toMatchObject({ created: 150, failed: 0 });
    const [row] = await warehouse.query(`select count(*) as n, count(distinct row_hash) as hashes, min(run_id) as run from ${tables.ledger}`);
    expect(row).toEqual({ n: 150n, hashes: 150n, run: "run-1" });

    expect(await planCounts(warehouse, contract, tables)).toEqual({ eligible: 150, create: 0, update: 0, unchanged: 150, removed: 0, failedUnchanged: 0, retryLater: 0, removable: 0 });
    const calls = emulator.calls().length;
    const again = await syncOnce("run-2");
    expect(again).toMatchObject({ created: 0, updated: 0, requests: 0 });
    expect(emulator.calls().length).toBe(calls);
  });

  it("classifies a changed, a new and a removed row, and keeps what was sent before for rollback", async () => {
    await warehouse.execute(`update people set tier = 'customer' where email = 'p7@example.com'`);
    await warehouse.execute(`insert into people values ('new@example.com', 'New', 'lead')`);
    await warehouse.execute(`delete from people where email = 'p9@example.com'`);
    expect(await planCounts(warehouse, contract, tables)).toEqual({ eligible: 150, create: 1, update: 1, unchanged: 148, removed: 1, failedUnchanged: 0, retryLater: 0, removable: 0 });
    const planned: PlannedRecord[] = [];
    for await (const chunk of plannedRecords(warehouse, contract, tables)) planned.push(...chunk);
    expect(planned.map((r) => [r.key, r.change, r.fields])).toEqual([
      ["new@example.com", "create", { firstname: "New", lifecyclestage: "lead" }],
      ["p7@example.com", "update", { firstname: "First7", lifecyclestage: "customer" }],
    ]);
    expect(await syncOnce("run-3")).toMatchObject({ created: 1, updated: 1 });
    expect(emulator.findByProperty("contacts", "email", "p7@example.com")?.properties.lifecyclestage).toBe("customer");
    const [entry] = await warehouse.query(`select last_sent_values, previous_values, run_id from ${tables.ledger} where sync_key = 'p7@example.com'`);
    expect(entry).toEqual({
      last_sent_values: JSON.stringify({ firstname: "First7", lifecyclestage: "customer" }),
      previous_values: JSON.stringify({ firstname: "First7", lifecyclestage: "lead" }),
      run_id: "run-3",
    });
  });

  it("dead-letters rejected rows with their reason and holds them back until they change", async () => {
    await warehouse.execute(`update people set tier = 'evangelist' where email in ('p1@example.com', 'p2@example.com')`);
    const result = await syncOnce("run-4");
    expect(result).toMatchObject({ updated: 0, failed: 2 });
    const letters = await warehouse.query(`select sync_key, error_class, payload from ${tables.deadLetters} where run_id = 'run-4' order by sync_key`);
    expect(letters).toEqual([
      { sync_key: "p1@example.com", error_class: "rejected", payload: JSON.stringify({ firstname: "First1", lifecyclestage: "evangelist" }) },
      { sync_key: "p2@example.com", error_class: "rejected", payload: JSON.stringify({ firstname: "First2", lifecyclestage: "evangelist" }) },
    ]);
    const kinds = await warehouse.query(`select failure_kind, attempts, next_attempt_at from ${tables.deadLetters} where run_id = 'run-4' and closed_at is null`);
    expect(kinds.map((k) => [k.failure_kind, Number(k.attempts), k.next_attempt_at])).toEqual([["permanent", 1, null], ["permanent", 1, null]]);
    // Failed permanently and unchanged: not planned again (a rerun makes zero calls); a changed row is.
    expect(await planCounts(warehouse, contract, tables)).toMatchObject({ update: 0, failedUnchanged: 2 });
    await warehouse.execute(`update people set tier = 'customer' where email = 'p1@example.com'`);
    expect(await planCounts(warehouse, contract, tables)).toMatchObject({ update: 1, failedUnchanged: 1 });
  });

  it("full resync plans every eligible row as changed without touching unchanged hashes", async () => {
    const counts = await planCounts(warehouse, contract, tables, { fullResync: true });
    expect(counts.update + counts.create).toBe(counts.eligible);
    expect(counts.unchanged).toBe(0);
  });
});

describe("shards", () => {
  it("split the keys into disjoint shards that together cover every eligible row", async () => {
    const seen: string[] = [];
    for (let index = 0; index < 4; index += 1) {
      const keys: string[] = [];
      for await (const chunk of plannedRecords(warehouse, contract, tables, { fullResync: true, shard: { index, count: 4 } })) keys.push(...chunk.map((r) => r.key));
      expect(keys.length).toBeGreaterThan(10);
      seen.push(...keys);
    }
    const all = (await warehouse.query(`select email from people where email is not null`)).map((r) => String(r.email));
    expect(seen.sort()).toEqual(all.sort());
    const counts = await Promise.all([0, 1, 2, 3].map((index) => planCounts(warehouse, contract, tables, { shard: { index, count: 4 } })));
    const total = await planCounts(warehouse, contract, tables);
    for (const k of ["eligible", "create", "update", "unchanged", "removed"] as const) expect(counts.reduce((n, c) => n + c[k], 0)).toBe(total[k]);
  });
});

describe("partitions", () => {
  it("give the plan of one query: the same counts, rows to send, removed and rejected keys, each once", async () => {
    // A null and a shared key, so the rejected keys are compared too (DuckDB buckets partitions with its own hash).
    await warehouse.execute(`insert into people values (null, 'Nobody', 'lead'), ('dup@example.com', 'One', 'lead'), ('dup@example.com', 'Two', 'lead')`);
    try {
      await expectPartitionedPlanEqual(warehouse, contract, tables);
      // 153 rows in the model, 151 synced in the ledger.
      await expectPartitionCount(warehouse, contract, tables, 153);
    } finally {
      await warehouse.execute(`delete from people where email is null or email = 'dup@example.com'`);
    }
  });
});

describe("the plan's staging table on DuckDB", () => {
  it("lives in the in-memory database the driver attaches, readable from a stream's own connection, never in the file", async () => {
    const stagingCatalogs = async (): Promise<string[]> =>
      (await warehouse.query(`select table_catalog from information_schema.tables where starts_with(table_name, 'activation_plan_')`)).map((r) => String(r.table_catalog));
    const plan = await MaterializedPlan.materialize(warehouse, contract, tables, { partitions: 2 });
    try {
      expect(await stagingCatalogs()).toEqual(["activation_plan_scratch"]);
      // Each stream reads on a connection of its own (src/warehouse/duckdb/adapter.ts): the table is seen there too.
      let streamed = 0;
      for await (const chunk of warehouse.stream(plan.unchangedKeysSql())) streamed += chunk.length;
      expect(streamed).toBe((await plan.counts()).unchanged);
      expect(streamed).toBeGreaterThan(0);
    } finally {
      await plan.drop();
    }
    expect(await stagingCatalogs()).toEqual([]);
  });
});

describe("stop checks", () => {
  const spec = contractSpec(HUBSPOT_PEOPLE, { gates: { min_rows: 10, max_change: { percent: 20, rows: 50 } } });
  const plan = { eligible: 100, create: 5, update: 30, unchanged: 65, removed: 3 };

  it("stops on blast radius (percent of synced rows, and rows) and on too few rows", () => {
    expect(stopChecks(spec, plan).stops).toEqual([
      "blast radius: 35.7% of the 98 synced rows would change, more than gates.max_change.percent 20; rerun with --allow-large-change --reason \"…\" if this change is intended",
    ]);
    expect(stopChecks(spec, { ...plan, create: 60 }).stops[0]).toMatch(/^blast radius: 90 rows would change, more than gates.max_change.rows 50/);
    expect(stopChecks(spec, { eligible: 5, create: 5, update: 0, unchanged: 0, removed: 0 }).stops).toEqual(["gates.min_rows: 5 eligible rows, fewer than 10"]);
  });

  it("lets a stated reason override the blast radius, and records it", () => {
    const checked = stopChecks(spec, plan, { allowLargeChange: { reason: "pricing migration" } });
    expect(checked.stops).toEqual([]);
    expect(checked.overridden).toEqual(["blast radius: 35.7% of the 98 synced rows would change, more than gates.max_change.percent 20 (allowed: pricing migration)"]);
  });

  it("before the first sync applies only the row limit", () => {
    expect(stopChecks(spec, { eligible: 40, create: 40, update: 0, unchanged: 0, removed: 0 }).stops).toEqual([]);
  });
});

describe("controls", () => {
  it("pauses and resumes one contract or all, and the environment variable pauses too", async () => {
    const controls = new Controls(warehouse, tables);
    expect(await controls.pausedReason("people_to_hubspot", {})).toBeUndefined();
    await controls.setPaused("people_to_hubspot", true, "bad scores in prod", "maya");
    expect(await controls.pausedReason("people_to_hubspot", {})).toBe("paused by maya: bad scores in prod (dbt-activation resume)");
    await controls.setPaused("people_to_hubspot", false, undefined, "maya");
    await controls.setPaused("*", true, "incident 42", "ops");
    expect(await controls.pausedReason("other", {})).toMatch(/^every contract is paused by ops: incident 42/);
    await controls.setPaused("*", false, undefined, "ops");
    expect(await controls.pausedReason("other", {})).toBeUndefined();
    expect(await controls.pausedReason("other", { DBT_ACTIVATION_PAUSE: "other,x" })).toBe("paused by DBT_ACTIVATION_PAUSE=other,x");
    expect(await controls.pausedReason("y", { DBT_ACTIVATION_PAUSE: "other,x" })).toBeUndefined();
  });

  it("gives a contract's lease to one runner at a time and lets a dead runner's lease expire", async () => {
    const controls = new Controls(warehouse, tables);
    expect(await controls.acquireLease("c1", "runner-a", 60_000)).toEqual({ acquired: true });
    expect(await controls.acquireLease("c1", "runner-b", 60_000)).toMatchObject({ acquired: false, holder: "runner-a" });
    await controls.releaseLease("c1", "runner-a");
    expect(await controls.acquireLease("c1", "runner-b", -1)).toEqual({ acquired: true });
    // runner-b's lease has already expired (ttl -1 ms): it died, so runner-c takes over.
    expect(await controls.acquireLease("c1", "runner-c", 60_000)).toEqual({ acquired: true });
  });

  it("takes the lease when its holder releases it between a refused insert and the look at who holds it", async () => {
    const controls = new Controls(warehouse, tables);
    expect(await controls.acquireLease("c3", "runner-a", 60_000)).toEqual({ acquired: true });
    // runner-a finishes in the gap: the first look after runner-b's refused insert finds the lease already released.
    let released = false;
    const racing = new Proxy(warehouse, {
      get(target, name) {
        // Bound to the real warehouse: its methods read private fields.
        const member = Reflect.get(target, name) as unknown;
        if (name !== "query") return typeof member === "function" ? (member as (...args: unknown[]) => unknown).bind(target) : member;
        return async (sql: string, params?: SqlParam[]) => {
          if (!released && sql.includes(tables.leases)) {
            released = true;
            await controls.releaseLease("c3", "runner-a");
          }
          return target.query(sql, params);
        };
      },
    });
    expect(await new Controls(racing, tables).acquireLease("c3", "runner-b", 60_000)).toEqual({ acquired: true });
    expect(released).toBe(true);
    expect(await controls.acquireLease("c3", "runner-c", 60_000)).toMatchObject({ acquired: false, holder: "runner-b" });
  });

  it("holds a lease past its TTL while the holder lives (heartbeat), and frees it on release", async () => {
    const controls = new Controls(warehouse, tables);
    const held = await controls.holdLease("c2", "runner-a", 400);
    expect(held.acquired).toBe(true);
    // Three TTLs later the lease would have expired without the heartbeat (every 100 ms here).
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await controls.holdLease("c2", "runner-b", 400)).toMatchObject({ acquired: false, holder: "runner-a" });
    if (held.acquired) await held.release();
    const next = await controls.holdLease("c2", "runner-b", 60_000);
    expect(next.acquired).toBe(true);
    if (next.acquired) await next.release();
  });
});

describe("streaming while the ledger checkpoints", () => {
  it("sends every changed row of a plan larger than one DuckDB chunk (2,048 rows)", async () => {
    const big: Contract = { ...contract, spec: { ...contract.spec, name: "big_people" }, model: { ...contract.model, relation: '"plan"."main"."big_people"' } };
    await warehouse.execute(`create table big_people as select 'b' || i || '@example.com' as email, 'B' || i as first_name, 'lead' as tier from range(5000) t(i)`);
    const destination = createDestination(big, { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url });
    const summary = await sendRecords(destination, plannedRecords(warehouse, big, tables), {
      baseDelayMs: 1,
      onAcknowledged: (records, outcomes) => ledger.checkpoint(big.spec.name, "run-big", records as PlannedRecord[], outcomes),
    });
    expect(summary).toMatchObject({ created: 5000, failed: 0, notSent: 0 });
    const [row] = await warehouse.query(`select count(*) as n from ${tables.ledger} where contract_name = 'big_people'`);
    expect(row).toEqual({ n: 5000n });
  });
});

describe("field changes", () => {
  const big: Contract = { ...contract, spec: { ...contract.spec, name: "big_people" }, model: { ...contract.model, relation: '"plan"."main"."big_people"' } };
  const withNull = (onNull: "skip" | "clear" | "fail"): Contract => ({ ...big, spec: contractSpec({ ...HUBSPOT_PEOPLE, name: "big_people", fields: { first_name: { to: "firstname", on_null: onNull }, tier: "lifecyclestage" } }) });

  it("count, per destination field, the updates whose value differs from the last one sent, over several chunks", async () => {
    // big_people was synced above (5000 rows): 3000 new first names across DuckDB chunks, 3 of them a new tier too,
    // 2 first names nulled (their hash changes: updates).
    await warehouse.execute(`update big_people set first_name = 'N' || first_name where cast(replace(replace(email, 'b', ''), '@example.com', '') as integer) < 3000`);
    await warehouse.execute(`update big_people set tier = 'customer' where email in ('b1@example.com', 'b2@example.com', 'b4000@example.com')`);
    await warehouse.execute(`update big_people set first_name = null where email in ('b4001@example.com', 'b4002@example.com')`);
    try {
      expect(await planCounts(warehouse, big, tables)).toMatchObject({ update: 3003 });
      // on_null skip sends nothing for the nulled names: the destination keeps them, no change.
      expect(await fieldChanges(warehouse, big, tables)).toEqual({ firstname: 3000, lifecyclestage: 3 });
      // on_null clear sends null: a change; on_null fail dead-letters the row: it changes nothing.
      expect(await fieldChanges(warehouse, withNull("clear"), tables)).toEqual({ firstname: 3002, lifecyclestage: 3 });
      expect(await fieldChanges(warehouse, withNull("fail"), tables)).toEqual({ firstname: 3000, lifecyclestage: 3 });
      // Partitions and shards count each row once.
      expect(await fieldChanges(warehouse, big, tables, { partitions: 4 })).toEqual({ firstname: 3000, lifecyclestage: 3 });
      const shards = await Promise.all([0, 1, 2].map((index) => fieldChanges(warehouse, big, tables, { shard: { index, count: 3 } })));
      expect(shards.reduce((n, s) => n + (s.firstname ?? 0), 0)).toBe(3000);
      // A full resync sends every row, yet only the values that differ are changes.
      expect(await fieldChanges(warehouse, big, tables, { fullResync: true })).toEqual({ firstname: 3000, lifecyclestage: 3 });
    } finally {
      await warehouse.execute(`drop table big_people`);
    }
  });
});

describe("ledger transactions", () => {
  it("begun together (a checkpoint beside the sending, failed rows, guard skips) run one after another, each whole", async () => {
    const name = "concurrent_checkpoints";
    const batch = (from: number): [PlannedRecord[], { key: string; status: "created"; recordId: string }[]] => {
      const records = Array.from({ length: 50 }, (_, i): PlannedRecord => ({ key: `c${from + i}@example.com`, hash: `h${from + i}`, fields: { firstname: `C${from + i}` }, change: "create" }));
      return [records, records.map((r) => ({ key: r.key, status: "created", recordId: `id-${r.key}` }))];
    };
    // On DuckDB's one connection the second `begin` would nest in the first and abort both.
    await Promise.all([
      ledger.checkpoint(name, "run-c", ...batch(0)),
      ledger.checkpoint(name, "run-c", ...batch(50)),
      ledger.recordSkips(name, "run-c", [{ key: "c999@example.com", reason: "late arrival" }]),
    ]);
    const [row] = await warehouse.query(`select count(*) as n from ${tables.ledger} where contract_name = '${name}'`);
    expect(Number(row?.n)).toBe(100);
    const [logged] = await warehouse.query(`select count(*) as n from ${tables.changeLog} where contract_name = '${name}'`);
    expect(Number(logged?.n)).toBe(101);
  });

  it("keep statements sent from outside apart: a staging table written meanwhile neither fails nor joins them", async () => {
    await expectOutsideStatementsApart(warehouse, warehouse.defaultSchema, "duckdb");
  });
});
