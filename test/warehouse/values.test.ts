/**
 * Value fidelity from the warehouse to each destination's value, on DuckDB and PostgreSQL: the value a planned row
 * carries (and what each destination's conversion makes of it) is the one the warehouse holds, an unchanged row is not
 * planned again, and changing one value plans that row once. Adversarial values: integers beyond 2^53, exact decimals,
 * REAL, negative zero, the smallest double, timestamps before 1970 with microseconds, a DST gap, astral and combining
 * characters, the hash's separators inside values. On PostgreSQL a role whose defaults render times, dates and floats
 * otherwise (TimeZone, DateStyle, extra_float_digits) must read the same values and hashes as a UTC session.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { toBrazeValue } from "../../src/destinations/braze/values.ts";
import { toHubSpotValue } from "../../src/destinations/hubspot/values.ts";
import { toSalesforceValue } from "../../src/destinations/salesforce/values.ts";
import { toZendeskValue } from "../../src/destinations/zendesk/values.ts";
import { ledgerTables, migrate, type LedgerTables } from "../../src/ledger/migrations.ts";
import { plannedRecords, type PlannedRecord } from "../../src/plan/diff.ts";
import { connectWarehouse } from "../../src/warehouse/index.ts";
import { exactDecimal, unsendableReason, type Warehouse, type WarehouseValue } from "../../src/warehouse/types.ts";
import { contractOn } from "../support/contracts.ts";
import { collect, syncAll } from "./suite.ts";

const server = inject("postgres");

/** Column types per engine (DuckDB / PostgreSQL spellings). */
const COLUMNS = (duck: boolean): Record<string, string> => ({
  email: "text",
  big: "bigint",
  dec: "decimal(38,10)",
  flt: "real",
  dbl: duck ? "double" : "double precision",
  ts: "timestamp",
  tstz: "timestamptz",
  day: "date",
  flag: "boolean",
  t1: "text",
  t2: "text",
});
/** Rows as SQL literals, valid on both engines (chr() spells the separators). */
const ROWS: string[][] = [
  ["'a@x.io'", "9007199254740993", "1234567890.0123456789", "0.1", "cast(0.1 as float8) + cast(0.2 as float8)", "'1969-12-31 23:59:59.999999'", "'2026-03-08 06:59:59.999999+00'", "'1969-07-20'", "true", "'a'", "'b' || chr(31) || 'c'"],
  ["'b@x.io'", "-9007199254740993", "0.5", "-1.5", "cast('-0' as float8)", "'2026-03-08 02:30:00.000001'", "'2026-03-08 07:00:00+00'", "'2026-11-01'", "false", "'a' || chr(31) || 'b'", "'c'"],
  ["'c@x.io'", "42", "-0.0000000001", "3.4028235e38", "5e-324", "'1900-01-01 00:00:00'", "'1969-12-31 23:59:59.5-05'", "'0001-01-01'", "null", "'😀é' || chr(769)", "' ' || chr(29) || 'u '"],
  ["'d@x.io'", "null", "null", "null", "null", "null", "null", "null", "null", "''", "null"],
];

function contractFor(relation: string): Contract {
  const fields = Object.fromEntries(Object.keys(COLUMNS(true)).filter((c) => c !== "email").map((c) => [c, `p_${c}`]));
  return contractOn({ name: "typed", relation }, { name: "typed_to_hubspot", key: "email", destination: { type: "hubspot", object: "contacts", match: { field: "email" } }, fields });
}

const byKey = (records: PlannedRecord[]): Record<string, PlannedRecord> => Object.fromEntries(records.map((r) => [r.key, r]));

/** What each destination is given for a value, for every field of a planned row. */
function sent(record: PlannedRecord | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(record?.fields ?? {})) {
    out[field] = { hubspot: toHubSpotValue(value), braze: toBrazeValue(value), salesforce: toSalesforceValue(value, "double"), zendesk: toZendeskValue(value, "decimal") };
  }
  return out;
}

describe.each(["duckdb", "postgres"] as const)("%s: values from the warehouse to the destinations", (engine) => {
  const duck = engine === "duckdb";
  const schema = `vals_${randomBytes(4).toString("hex")}`;
  const pgProfile = (): Record<string, unknown> & { type: string } => {
    if (!server.ok) throw new Error(`the loopback PostgreSQL did not start: ${server.error}`);
    return { type: "postgres", host: server.host, port: server.port, user: server.user, password: "unused-with-trust", dbname: server.database, schema };
  };
  let warehouse: Warehouse;
  let tables: LedgerTables;
  let relation: string;
  let contract: Contract;

  beforeAll(async () => {
    if (duck) {
      const path = join(await mkdtemp(join(inject("scratchRoot"), "values-")), "v.duckdb");
      const { DuckDBInstance } = await import("@duckdb/node-api");
      (await DuckDBInstance.create(path)).closeSync();
      warehouse = await connectWarehouse({ profile: "p", target: "t", profilesPath: "profiles.yml", config: { type: "duckdb", path, schema } });
    } else {
      warehouse = await connectWarehouse({ profile: "p", target: "pg", profilesPath: "profiles.yml", config: pgProfile() });
    }
    await warehouse.execute(`create schema if not exists "${schema}"`);
    relation = `"${schema}"."typed"`;
    const columns = COLUMNS(duck);
    await warehouse.execute(`create table ${relation} (${Object.entries(columns).map(([c, t]) => `${c} ${t}`).join(", ")})`);
    const names = Object.keys(columns);
    for (const row of ROWS) {
      await warehouse.execute(`insert into ${relation} (${names.join(", ")}) select ${row.map((v, i) => `cast(${v} as ${columns[names[i]!]})`).join(", ")}`);
    }
    contract = contractFor(relation);
    tables = ledgerTables(warehouse.dialect, schema);
    await migrate(warehouse, tables);
  });
  afterAll(async () => {
    if (!duck) await warehouse?.execute(`drop schema if exists "${schema}" cascade`);
    await warehouse?.close();
  });

  it("plans each value as the warehouse holds it, and each destination is given that value", async () => {
    const rows = byKey(await collect(plannedRecords(warehouse, contract, tables)));
    expect(Object.keys(rows).sort()).toEqual(["a@x.io", "b@x.io", "c@x.io", "d@x.io"]);
    expect(rows["a@x.io"]!.fields).toEqual({
      p_big: 9007199254740993n,
      p_dec: "1234567890.0123456789",
      // REAL 0.1 is 0.1, not the double nearest the float (0.10000000149011612).
      p_flt: 0.1,
      p_dbl: 0.30000000000000004,
      // Before 1970, microseconds round down like any other instant (not up into 1970).
      p_ts: new Date("1969-12-31T23:59:59.999Z"),
      p_tstz: new Date("2026-03-08T06:59:59.999Z"),
      p_day: new Date("1969-07-20T00:00:00Z"),
      p_flag: true,
      p_t1: "a",
      p_t2: "b\x1fc",
    });
    expect(rows["b@x.io"]!.fields).toMatchObject({ p_big: -9007199254740993n, p_dec: 0.5, p_flt: -1.5, p_ts: new Date("2026-03-08T02:30:00.000Z"), p_tstz: new Date("2026-03-08T07:00:00Z"), p_flag: false });
    expect(rows["c@x.io"]!.fields).toMatchObject({
      p_big: 42n,
      p_dec: -1e-10,
      p_flt: 3.4028235e38,
      p_dbl: 5e-324,
      p_ts: new Date("1900-01-01T00:00:00Z"),
      p_tstz: new Date("1970-01-01T04:59:59.500Z"),
      p_day: new Date("0001-01-01T00:00:00Z"),
      p_t1: "😀é\u0301",
      p_t2: " \x1du ",
    });
    // Nulls are not sent (on_null: skip, the default); an empty string is a value, kept apart from null.
    expect(rows["c@x.io"]!.fields).not.toHaveProperty("p_flag");
    expect(rows["d@x.io"]!.fields).toEqual({ p_t1: "" });
    // Each destination: HubSpot text, Braze JSON (beyond 2^53 and beyond 15 digits: exact text), Salesforce and
    // Zendesk number fields the same (a decimal's exact text is never rounded through a double).
    expect(sent(rows["a@x.io"])).toMatchObject({
      p_big: { hubspot: "9007199254740993", braze: "9007199254740993", salesforce: "9007199254740993", zendesk: "9007199254740993" },
      p_dec: { hubspot: "1234567890.0123456789", braze: "1234567890.0123456789", salesforce: "1234567890.0123456789", zendesk: "1234567890.0123456789" },
      p_flt: { hubspot: "0.1", braze: 0.1, salesforce: 0.1, zendesk: 0.1 },
      p_ts: { hubspot: "1969-12-31T23:59:59.999Z", braze: "1969-12-31T23:59:59.999Z" },
    });
    expect(sent(rows["b@x.io"])).toMatchObject({ p_dec: { hubspot: "0.5", braze: 0.5, salesforce: 0.5, zendesk: 0.5 } });
    expect(sent(rows["c@x.io"])).toMatchObject({ p_dec: { hubspot: "-1e-10", braze: -1e-10 }, p_dbl: { hubspot: "5e-324", braze: 5e-324 } });
  });

  it("hashes rows that differ only in where a separator falls apart, plans nothing again, and a changed value once", async () => {
    const first = byKey(await collect(plannedRecords(warehouse, contract, tables)));
    // a and b hold the same characters in t1, t2 but for the separator's place: no other column makes them equal,
    // so compare the hash of the two text columns alone through the dialect.
    const [split] = await warehouse.query(
      `select ${warehouse.dialect.rowHash(["'a'", "'b' || chr(31) || 'c'"])} as x, ${warehouse.dialect.rowHash(["'a' || chr(31) || 'b'", "'c'"])} as y`,
    );
    expect(split!.x).not.toBe(split!.y);
    await syncAll(warehouse, contract, tables, "run-1");
    expect(await collect(plannedRecords(warehouse, contract, tables))).toEqual([]);
    // One value each, the smallest change its type allows: a microsecond, the last digit of a decimal, one ulp.
    const changes = [
      ["ts", "cast('1969-12-31 23:59:59.999998' as timestamp)", "a@x.io"],
      ["dec", "cast(0.5000000001 as decimal(38,10))", "b@x.io"],
      ["dbl", "cast(1e-323 as float8)", "c@x.io"],
      ["t2", "chr(29) || 'u'", "d@x.io"],
      ["big", "cast(9007199254740992 as bigint)", "a@x.io"],
    ] as const;
    for (const [index, [column, value, key]] of changes.entries()) {
      await warehouse.execute(`update ${relation} set ${column} = ${value} where email = '${key}'`);
      const planned = await collect(plannedRecords(warehouse, contract, tables));
      expect(planned.map((r) => [r.key, r.change]), column).toEqual([[key, "update"]]);
      expect(planned[0]!.hash).not.toBe(first[key]!.hash);
      await syncAll(warehouse, contract, tables, `run-change-${index}`);
      expect(await collect(plannedRecords(warehouse, contract, tables)), column).toEqual([]);
    }
  });

  it("gives Zendesk number fields decimal text as numbers only when it is decimal and exact", () => {
    expect(["42", " 12.50 ", "1e3", "12345678901234567890", "0x10", "1_000", "Infinity"].map((v) => toZendeskValue(v, "integer"))).toEqual([42, 12.5, 1000, "12345678901234567890", "0x10", "1_000", "Infinity"]);
  });

  it("reads decimal text as a number only when the double holds its digits, never as Infinity or 0 beyond a double's range", () => {
    expect(["1e400", "-1e400", "1e-400", "1234567890123456", "12345678901234567", "1000000000000000000", "0.5000000000", "-0", "NaN"].map((v) => exactDecimal(v))).toEqual([
      "1e400",
      "-1e400",
      "1e-400",
      1234567890123456,
      "12345678901234567",
      1e18,
      0.5,
      -0,
      Number.NaN,
    ]);
    // A Zendesk decimal field given 1e400 was sent Infinity, which JSON writes as null: the field was emptied.
    expect(JSON.stringify(toZendeskValue("1e400", "decimal"))).toBe('"1e400"');
  });

  it.runIf(duck)("reads DuckDB's other timestamp precisions before 1970 rounded down to the millisecond, and TIMESTAMP_NS infinity as unsendable (not 2262-04-11)", async () => {
    const [row] = await warehouse.query(
      "select cast('1969-12-31 23:59:59.999999999' as timestamp_ns) as ns, cast('1969-12-31 23:59:59.999' as timestamp_ms) as ms, cast('1969-12-31 23:59:59' as timestamp_s) as s, cast('infinity' as timestamp_ns) as inf",
    );
    expect([row!.ns, row!.ms, row!.s]).toEqual([new Date("1969-12-31T23:59:59.999Z"), new Date("1969-12-31T23:59:59.999Z"), new Date("1969-12-31T23:59:59Z")]);
    expect(unsendableReason(row!.inf as WarehouseValue)).toBe("an infinite or out-of-range timestamp");
  });

  it.runIf(duck)("gives each destination a STRUCT holding a BIGINT as exact JSON, and refuses a STRUCT holding a TIME", async () => {
    const [row] = await warehouse.query("select {'id': 9007199254740993::bigint, 'at': timestamp '2026-03-08 07:00:00'} as st, {'t': time '12:30'} as odd, [{'t': time '12:30'}] as odd_list");
    const json = '{"id":9007199254740993,"at":"2026-03-08T07:00:00.000Z"}';
    const value = row!.st as WarehouseValue;
    expect(unsendableReason(value)).toBeUndefined();
    expect([toHubSpotValue(value), toBrazeValue(value), toSalesforceValue(value, "textarea"), toZendeskValue(value, "textarea")]).toEqual([json, json, json, json]);
    expect(unsendableReason(row!.odd as WarehouseValue)).toMatch(/^a TIME value has no destination type/);
    expect(unsendableReason(row!.odd_list as WarehouseValue)).toMatch(/^a TIME value has no destination type/);
  });

  it.runIf(!duck)("refuses a NUMERIC NaN or ±Infinity per row (UNSENDABLE_VALUE), never sends the text 'NaN'", async () => {
    const odd = `"${schema}"."odd_numeric"`;
    await warehouse.execute(`create table ${odd} (email text, dec numeric)`);
    await warehouse.execute(`insert into ${odd} values ('n@x.io', 'NaN'), ('i@x.io', 'Infinity'), ('m@x.io', '-Infinity'), ('ok@x.io', 12.50)`);
    const oddContract = contractOn({ name: "odd_numeric", relation: odd }, { name: "odd_to_hubspot", key: "email", destination: { type: "hubspot", object: "contacts", match: { field: "email" } }, fields: { dec: "p_dec" } });
    const rows = byKey(await collect(plannedRecords(warehouse, oddContract, tables)));
    expect(rows["ok@x.io"]).toMatchObject({ fields: { p_dec: 12.5 } });
    expect(rows["ok@x.io"]).not.toHaveProperty("failure");
    expect(rows["n@x.io"]!.failure).toEqual({ code: "UNSENDABLE_VALUE", message: "dec: NaN is not a number any destination stores" });
    expect(rows["i@x.io"]!.failure).toEqual({ code: "UNSENDABLE_VALUE", message: "dec: Infinity is not a number any destination stores" });
    expect(rows["m@x.io"]!.failure).toEqual({ code: "UNSENDABLE_VALUE", message: "dec: -Infinity is not a number any destination stores" });
  });

  it.runIf(!duck)("reads arrays element by element as their scalars (UTC dates, exact numerics, bigints), refuses rounded JSON numbers, MONEY and BIT", async () => {
    // In a zone far from UTC: pg's own array parsers read timestamp[] and date[] in the process's zone.
    const zone = process.env.TZ;
    process.env.TZ = "Asia/Kolkata";
    const [row] = await warehouse.query(
      `select array[timestamp '2026-01-01 00:00:00', null] as ts, array[date '1969-07-20'] as days, array[12345678901234567890::numeric, 0.50] as nums, array[9007199254740993::bigint] as bigs,
        array[time '12:30'] as times, '{"id": 9007199254740993}'::jsonb as big_json, '{"id": 42, "x": [0.1, 1e21]}'::jsonb as json, 1234.5::money as cash, B'101' as bits, array[B'1'::varbit] as bit_list`,
    ).finally(() => {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    });
    expect(row!.ts).toEqual([new Date("2026-01-01T00:00:00Z"), null]);
    expect(row!.days).toEqual([new Date("1969-07-20T00:00:00Z")]);
    expect(row!.nums).toEqual(["12345678901234567890", 0.5]);
    expect(row!.bigs).toEqual([9007199254740993n]);
    expect(unsendableReason(row!.times as WarehouseValue)).toMatch(/^a TIME value has no destination type/);
    expect(unsendableReason(row!.big_json as WarehouseValue)).toMatch(/^the JSON number 9007199254740993 would be rounded by a double/);
    expect(row!.json).toEqual({ id: 42, x: [0.1, 1e21] });
    expect(unsendableReason(row!.cash as WarehouseValue)).toMatch(/^a MONEY value is text in the server's locale/);
    // As on DuckDB: a bit string is no destination's type (it was sent as the text 101).
    expect([unsendableReason(row!.bits as WarehouseValue), unsendableReason(row!.bit_list as WarehouseValue)]).toEqual(["a BIT value has no destination type", "a BIT value has no destination type"]);
  });

  it.runIf(!duck)("reads the same values and hashes under a role whose TimeZone, DateStyle and extra_float_digits differ", async () => {
    const role = `${schema}_ny`;
    const admin = warehouse;
    await admin.execute(`create role ${role} login superuser`);
    await admin.execute(`alter role ${role} set TimeZone = 'America/New_York'`);
    await admin.execute(`alter role ${role} set DateStyle = 'SQL, DMY'`);
    await admin.execute(`alter role ${role} set extra_float_digits = 0`);
    try {
      const other = await connectWarehouse({ profile: "p", target: "pg", profilesPath: "profiles.yml", config: { ...pgProfile(), user: role } });
      try {
        const [settings] = await other.query("select current_user as who");
        expect(settings!.who).toBe(role);
        const full = { fullResync: true } as const;
        const theirs = await collect(plannedRecords(other, contract, tables, full));
        const ours = await collect(plannedRecords(warehouse, contract, tables, full));
        expect(theirs.length).toBe(4);
        expect(theirs).toEqual(ours);
      } finally {
        await other.close();
      }
    } finally {
      await admin.execute(`drop owned by ${role}`);
      await admin.execute(`drop role ${role}`);
    }
  });
});
