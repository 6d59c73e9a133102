/**
 * One canonical sync key in SQL and in TypeScript, on DuckDB, PostgreSQL under C.UTF-8 (the project's server) and
 * PostgreSQL under LC_CTYPE C (a database created for this suite): under a case-insensitive key rule the key's text
 * is its ASCII letters lowered, the same on every engine and in every locale, and a key holding any other character
 * is refused before sending (`non_ascii_key`), because engines, JavaScript and the destinations lower such
 * characters differently (or not at all), so two rows the destination takes for one could be sent as two.
 * A refused key keeps, as its text, what the previous rule stored (the engine's `lower()`), so a ledger row written
 * before the upgrade is still that key's: neither taken for a removed one (a delete) nor sent again.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { canonicalKey, refusedKey } from "../../src/contract/rules.ts";
import { canonicalKeySql, rejectedKeys } from "../../src/eligible/rows.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { ledgerTables, migrate, type LedgerTables } from "../../src/ledger/migrations.ts";
import { planCounts, plannedRecords, type PlannedRecord } from "../../src/plan/diff.ts";
import { connectWarehouse } from "../../src/warehouse/index.ts";
import type { Warehouse } from "../../src/warehouse/types.ts";
import { HUBSPOT_PEOPLE, contractOn } from "../support/contracts.ts";

const NFD = "e\u0301lodie@exemple.fr";
/** Keys whose canonical form differs between engines' lower(), JavaScript's toLowerCase() and ASCII lowering. */
const PROBES = ["ÉLODIE@exemple.fr", "élodie@exemple.fr", NFD, "İpek@x.com", "ipek@x.com", "ΟΔΟΣ@x.gr", "οδος@x.gr", "STRASSE@x.de", "straße@x.de", "kelvin\u212A@x.com", "KELVINK@x.com", "Ann@Example.com"];
const CI = "case_insensitive" as const;

/** Code point order (localeCompare takes a composed and a decomposed é for equal). */
const byCodePoints = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function collect<T>(stream: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const chunk of stream) out.push(...chunk);
  return out;
}

const started = inject("postgres");
if (!started.ok) throw new Error(`the loopback PostgreSQL did not start: ${started.error}`);
const server = started;
const suffix = randomUUID().slice(0, 8);
const cDatabase = `canonical_c_${suffix}`;
const pgProfile = (dbname: string) => ({ type: "postgres", host: server.host, port: server.port, user: server.user, password: "unused-with-trust", dbname, schema: `ck_${suffix}` });

const ENGINES: { name: string; connect: () => Promise<Warehouse> }[] = [
  {
    name: "duckdb",
    connect: async () => {
      const dir = await mkdtemp(join(inject("scratchRoot"), "canonical-"));
      (await DuckDBInstance.create(join(dir, "keys.duckdb"))).closeSync();
      return connectWarehouse({ profile: "p", target: "t", profilesPath: "profiles.yml", config: { type: "duckdb", path: join(dir, "keys.duckdb") } });
    },
  },
  { name: "postgres (C.UTF-8)", connect: () => connectWarehouse({ profile: "p", target: "pg", profilesPath: "profiles.yml", config: pgProfile(server.database) }) },
  { name: "postgres (LC_CTYPE C)", connect: () => connectWarehouse({ profile: "p", target: "pg", profilesPath: "profiles.yml", config: pgProfile(cDatabase) }) },
];

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, database: server.database });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await admin((c) => c.query(`create database ${cDatabase} template template0 encoding 'UTF8' lc_ctype 'C' lc_collate 'C'`));
});

afterAll(async () => {
  await admin(async (c) => {
    await c.query(`drop database if exists ${cDatabase}`);
    await c.query(`drop schema if exists ck_${suffix} cascade`);
  });
});

describe.each(ENGINES)("canonical keys on $name", ({ name, connect }) => {
  let warehouse: Warehouse;
  let tables: LedgerTables;
  let contract: Contract;
  const ci = { keyRule: CI };

  beforeAll(async () => {
    warehouse = await connect();
    const d = warehouse.dialect;
    const schema = d.quoteIdentifier(warehouse.defaultSchema);
    await warehouse.execute(`create schema if not exists ${schema}`);
    const relation = `${schema}.${d.quoteIdentifier("people")}`;
    await warehouse.execute(`create table ${relation} (email ${d.types.text}, first_name ${d.types.text}, tier ${d.types.text})`);
    for (const [i, key] of PROBES.entries()) {
      await warehouse.execute(`insert into ${relation} values (${d.param(1)}, ${d.param(2)}, 'lead')`, [key, `First${i}`]);
    }
    contract = contractOn({ name: "people", relation }, HUBSPOT_PEOPLE);
    tables = ledgerTables(d, warehouse.defaultSchema);
    await migrate(warehouse, tables);
  });

  afterAll(async () => {
    await warehouse?.close();
  });

  /** Each probe row: its key as the model holds it, its canonical text in SQL, and the engine's lower() of it. */
  async function keyTexts(): Promise<{ raw: string; k: string; lowered: string }[]> {
    const q = warehouse.dialect.quoteIdentifier;
    const rows = await warehouse.query(`select email as ${q("raw")}, ${canonicalKeySql(contract, warehouse.dialect, CI)} as ${q("k")}, lower(email) as ${q("lowered")} from ${contract.model.relation}`);
    return rows.map((r) => ({ raw: String(r.raw), k: String(r.k), lowered: String(r.lowered) }));
  }

  it("computes the canonical key in SQL exactly as in TypeScript for every key that can be sent; a refused one keeps the engine's lower()", async () => {
    const rows = await keyTexts();
    expect(rows).toHaveLength(PROBES.length);
    for (const { raw, k, lowered } of rows) {
      expect({ raw, k }).toEqual({ raw, k: refusedKey(raw, CI) ? lowered : canonicalKey(raw, CI) });
      // What can be sent is ASCII, whatever the engine and its locale.
      if (!refusedKey(raw, CI)) expect(k).toMatch(/^\p{ASCII}*$/u);
    }
  });

  it("refuses every key with a character outside ASCII, rejects keys equal under the rule as shared, and plans the rest", async () => {
    const rows = await keyTexts();
    // The rows grouped by their canonical text: a group is rejected when it has several rows or a refused key.
    const groups = new Map<string, string[]>();
    for (const { raw, k } of rows) groups.set(k, [...(groups.get(k) ?? []), raw]);
    const expectedRejected = [...groups]
      .filter(([, raws]) => raws.length > 1 || raws.some((r) => refusedKey(r, CI)))
      .map(([key, raws]) => ({ key, reason: raws.length === 1 || refusedKey(key, CI) ? "non_ascii_key" : "duplicate_key", rows: raws.length, rule: CI }));
    const rejected = await rejectedKeys(warehouse, contract, ci);
    expect([...rejected].sort((a, b) => byCodePoints(String(a.key), String(b.key)))).toEqual(expectedRejected.sort((a, b) => byCodePoints(a.key, b.key)));
    // Every refused row is rejected; every row of a key with a character outside ASCII is refused, not shared.
    for (const { raw, k } of rows) if (refusedKey(raw, CI)) expect(rejected.map((r) => r.key)).toContain(k);
    for (const r of rejected) if (refusedKey(String(r.key), CI)) expect(r.reason).toBe("non_ascii_key");
    const planned = await collect(plannedRecords(warehouse, contract, tables, ci));
    const expectedPlanned = [...groups].filter(([, raws]) => raws.length === 1 && !refusedKey(raws[0]!, CI)).map(([key]) => key);
    expect(planned.map((r) => r.key).sort()).toEqual(expectedPlanned.sort());
    expect(planned.map((r) => r.key)).toEqual(expect.arrayContaining(["ann@example.com", "strasse@x.de"]));
    expect(await planCounts(warehouse, contract, tables, ci)).toMatchObject({ eligible: expectedPlanned.length, create: expectedPlanned.length, removed: 0 });
  });

  it(`keeps a ledger row the previous rule wrote with the engine's lower() for a key now refused: not removed, not sent (${name})`, async () => {
    const ledger = new Ledger(warehouse, tables);
    const contractName = contract.spec.name;
    const d = warehouse.dialect;
    const q = d.quoteIdentifier;
    // What the previous rule wrote on this engine for a row it sent: lower() of the key.
    const [legacy] = await warehouse.query(`select lower(${d.param(1)}) as ${q("k")}`, ["ΟΔΟΣ@x.gr"]);
    const legacyKey = String(legacy!.k);
    const planned = await collect(plannedRecords(warehouse, contract, tables, ci));
    const records: PlannedRecord[] = [...planned, { ...planned[0]!, key: legacyKey }];
    await ledger.checkpoint(contractName, "run-legacy", records, records.map((r) => ({ key: r.key, status: "created" as const, recordId: `id-${r.key}` })));
    const ledgerKeys = async (): Promise<string[]> =>
      (await warehouse.query(`select sync_key as ${q("k")} from ${tables.ledger} where contract_name = ${d.param(1)}`, [contractName])).map((r) => String(r.k)).sort();
    const before = await ledgerKeys();
    await ledger.canonicalizeKeys(contractName, CI);
    // The run's first step changes none of them: the legacy text is the refused key's canonical text.
    expect(await ledgerKeys()).toEqual(before);
    expect(before).toContain(legacyKey);
    // A removal of the row of a key that is still in the model (only refused) would clear or delete its record.
    expect(await planCounts(warehouse, contract, tables, ci)).toMatchObject({ eligible: planned.length, create: 0, update: 0, unchanged: planned.length, removed: 0 });
    // The row leaves the model: now its ledger row is a removal, acted on as declared.
    const p = d.param;
    await warehouse.execute(`delete from ${contract.model.relation} where email = ${p(1)}`, ["ΟΔΟΣ@x.gr"]);
    expect(await planCounts(warehouse, contract, tables, ci)).toMatchObject({ removed: 1 });
    await warehouse.execute(`insert into ${contract.model.relation} values (${p(1)}, 'Back', 'lead')`, ["ΟΔΟΣ@x.gr"]);
  });
});
