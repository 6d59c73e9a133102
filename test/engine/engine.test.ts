/**
 * Eligible rows → plan → engine → HubSpot destination, on a real DuckDB file and the HubSpot emulator through the
 * official SDK: batch limits, keys HubSpot treats as equal, retries, splitting refused batches, and the daily limit.
 */
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { createDestination } from "../../src/destinations/index.ts";
import { rejectedKeys } from "../../src/eligible/rows.ts";
import { ledgerTables, migrate, type LedgerTables } from "../../src/ledger/migrations.ts";
import { plannedRecords } from "../../src/plan/diff.ts";
import { startHubSpotEmulator, type HubSpotEmulator, type HubSpotEmulatorOptions } from "../../emulators/hubspot/index.ts";
import { retrying } from "../../src/engine/retry.ts";
import { sendRecords, type SendSummary } from "../../src/engine/send.ts";
import { connectWarehouse, type Warehouse } from "../../src/warehouse/index.ts";
import { HUBSPOT_PEOPLE, contractOn } from "../support/contracts.ts";

const TOKEN = "engine-token";
const ROWS = 250;
let warehouse: Warehouse;
// The ledger stays empty here (no checkpoint hook): every run plans every eligible row as a create.
let tables: LedgerTables;

const contract: Contract = contractOn({ name: "people", relation: '"engine"."main"."people"' }, HUBSPOT_PEOPLE);

beforeAll(async () => {
  const dir = await mkdtemp(join(inject("scratchRoot"), "engine-"));
  const path = join(dir, "engine.duckdb");
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  await connection.run(`create table people as
    select 'person' || lpad(i::varchar, 4, '0') || '@example.com' as email, 'First' || i as first_name,
           case when i % 2 = 0 then 'lead' else 'customer' end as tier
    from range(${ROWS}) t(i)`);
  // Not eligible: a null key, and a key two rows share. Eligible but equal to HubSpot: two spellings of one email.
  await connection.run(`insert into people values (null, 'Nobody', 'lead'), ('twice@example.com', 'A', 'lead'), ('twice@example.com', 'B', 'lead'),
    ('Mixed.Case@example.com', 'Upper', 'lead'), ('mixed.case@example.com', 'Lower', 'customer')`);
  connection.closeSync();
  instance.closeSync();
  warehouse = await connectWarehouse({ profile: "p", target: "t", profilesPath: "profiles.yml", config: { type: "duckdb", path } });
  tables = ledgerTables(warehouse.dialect, warehouse.defaultSchema);
  await migrate(warehouse, tables);
});

afterAll(async () => {
  await warehouse.close();
});

async function sync(options: HubSpotEmulatorOptions, configure?: (e: HubSpotEmulator) => void): Promise<{ emulator: HubSpotEmulator; summary: SendSummary }> {
  const emulator = await startHubSpotEmulator({ accessToken: TOKEN, ...options });
  configure?.(emulator);
  const destination = createDestination(contract, { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url });
  expect(await retrying(() => destination.checkMapping(), { baseDelayMs: 1 }, { requests: 0, retries: 0 })).toEqual([]);
  const summary = await sendRecords(destination, plannedRecords(warehouse, contract, tables, { fullResync: true }), { baseDelayMs: 1, maxDelayMs: 50 });
  return { emulator, summary };
}

describe("eligible rows", () => {
  it("leaves out null and shared keys and reports them", async () => {
    expect(await rejectedKeys(warehouse, contract)).toEqual([
      { key: "twice@example.com", reason: "duplicate_key", rows: 2 },
      { key: null, reason: "null_key", rows: 1 },
    ]);
    let count = 0;
    for await (const chunk of plannedRecords(warehouse, contract, tables, { fullResync: true })) count += chunk.length;
    expect(count).toBe(ROWS + 2);
  });
});

describe("engine → HubSpot", () => {
  it("sends at most 100 inputs a request, never two spellings of one email in a batch, and accounts for every row", async () => {
    const { emulator, summary } = await sync({});
    try {
      const upserts = emulator.calls().filter((c) => c.endpoint.endsWith("batch/upsert"));
      expect(upserts.every((c) => c.status === 200 && (c.inputs ?? 0) <= 100)).toBe(true);
      // Rows come in key order: `Mixed.Case@…` then `mixed.case@…`, which HubSpot treats as one email, so the
      // second starts a new batch (and updates the record the first created) instead of failing the whole request.
      // Batches go out concurrently, except that the one holding `mixed.case@…` waits for the one holding
      // `Mixed.Case@…`: the 1-input request is answered before any other starts, and the later row wins.
      expect(upserts.map((c) => c.inputs).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([1, 51, 100, 100]);
      expect(upserts[0]?.inputs).toBe(1);
      expect(summary).toMatchObject({ created: ROWS + 1, updated: 1, failed: 0, notSent: 0 });
      expect(emulator.records("contacts")).toHaveLength(ROWS + 1);
      expect(emulator.findByProperty("contacts", "email", "mixed.case@example.com")?.properties).toMatchObject({ firstname: "Lower", lifecyclestage: "customer" });
      expect(emulator.findByProperty("contacts", "email", "person0007@example.com")?.properties).toMatchObject({ firstname: "First7", lifecyclestage: "customer" });
    } finally {
      await emulator.close();
    }
  });

  it("splits a batch HubSpot refuses whole (400) until only the bad row fails", async () => {
    const { emulator, summary } = await sync({
      invalidValues: "whole-batch",
      // Isolating ~60 bad rows in a batch of 100 takes many requests: keep the rate limit out of this test.
      limits: { perTenSeconds: 100_000 },
      properties: { contacts: [{ name: "lifecyclestage", type: "enumeration", options: ["lead", "subscriber"] }] },
    });
    try {
      // Every odd row carries `customer`, not an option any more: each is isolated and fails alone.
      const odd = Math.floor(ROWS / 2) + 1; // the 125 odd persons, plus mixed.case's `customer`
      expect(summary.failed).toBe(odd);
      expect(summary.created + summary.updated).toBe(ROWS + 2 - odd);
      expect(summary.failures.every((f) => f.code === "VALIDATION_ERROR" && /customer was not one of the allowed options/.test(f.message))).toBe(true);
      expect(emulator.records("contacts")).toHaveLength(ROWS + 2 - odd);
    } finally {
      await emulator.close();
    }
  });

  it("retries server errors and spurious 429s until every row lands", async () => {
    const { emulator, summary } = await sync({ faults: { serverErrorRate: 0.3, rateLimitRate: 0.2, seed: 7 } });
    try {
      expect(summary.retries).toBeGreaterThan(0);
      expect(emulator.calls().some((c) => c.status >= 500)).toBe(true);
      expect(summary).toMatchObject({ created: ROWS + 1, updated: 1, failed: 0, notSent: 0 });
      expect(emulator.records("contacts")).toHaveLength(ROWS + 1);
    } finally {
      await emulator.close();
    }
  });

  it("ends the run cleanly at the daily limit and counts what was not sent", async () => {
    // The preflight's properties call and two upserts (1 row, then one of the three full batches) fit in a daily
    // quota of 3. Which full batch lands depends on which of the concurrent requests arrives first.
    const { emulator, summary } = await sync({ limits: { daily: 3 } });
    try {
      const written = summary.created + summary.updated;
      expect([101, 52]).toContain(written);
      expect(summary.failed).toBe(0);
      expect(summary.notSent).toBe(ROWS + 2 - written);
      expect(summary.stopped).toMatch(/daily limit/);
      expect(emulator.records("contacts")).toHaveLength(summary.created);
      // Refused requests are not retried at the daily limit: one 429 per batch in flight at most, then nothing.
      expect(emulator.calls().filter((c) => c.status === 429).length).toBeLessThanOrEqual(3);
    } finally {
      await emulator.close();
    }
  });
});
