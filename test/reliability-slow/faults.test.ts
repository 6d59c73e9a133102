/**
 * Faults: a 20,000-row sync against a HubSpot emulator answering 10 % of calls with a 5xx, 5 % with a spurious 429,
 * timing out 1 % (handled, never answered) and rejecting 2 % of records. Every valid row is delivered once, every
 * rejected row is in the dead letters with its reason, nothing is duplicated; with the faults gone, the next run
 * delivers the rejected rows and the destination equals the eligible rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { buildBulk, bulkCopy, bulkSyncArgs, checkState, CONTRACT, DEAD_LETTERS, queryDuckDB, some, startCli, UPSERT, type BulkBuild } from "./support.ts";

const TOKEN = "faults-token";
const ROWS = 20_000;
let build: BulkBuild;
let emulator: HubSpotEmulator;

beforeAll(async () => {
  build = await buildBulk();
  emulator = await startHubSpotEmulator({
    accessToken: TOKEN,
    properties: integrationPortalProperties,
    limits: { perTenSeconds: 100, windowMs: 1000 },
    faults: { serverErrorRate: 0.1, rateLimitRate: 0.05, timeoutRate: 0.01, timeoutMs: 1500, recordRejectRate: 0.02, seed: 424242 },
  });
});
afterAll(async () => {
  await emulator?.close();
});

describe("faults", () => {
  it("10 % 5xx, 5 % 429, 1 % timeouts, 2 % rejections: valid rows delivered once, rejected rows dead-lettered with their reason", async () => {
    const duckdbPath = await bulkCopy(build, ROWS);
    const env = { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url, ACTIVATION_DUCKDB_PATH: duckdbPath };
    const run = await startCli(bulkSyncArgs(build, "--json"), env);
    expect(run.exitCode, run.stderr).toBe(4);
    const [outcome] = JSON.parse(run.stdout).contracts;

    // The faults happened.
    const statuses = emulator.calls().map((c) => c.status);
    const timeouts = emulator.calls().filter((c) => c.timedOut).length;
    expect(statuses.filter((s) => s >= 500).length).toBeGreaterThan(3);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(timeouts).toBeGreaterThan(0);
    expect(outcome.retries).toBeGreaterThan(10);

    const state = await checkState(duckdbPath, emulator);
    const letters = await queryDuckDB(duckdbPath, `select sync_key, error_class, error_code, message, payload from ${DEAD_LETTERS}`);
    const lettered = new Set(letters.map((l) => String(l.sync_key)));
    const synced = new Set(state.ledger.filter((l) => l.status === "synced").map((l) => l.key));

    expect(state.duplicates, some(state.duplicates)).toEqual([]);
    expect(state.strangers, some(state.strangers)).toEqual([]);
    expect(state.ledgerMismatches, some(state.ledgerMismatches)).toEqual([]);
    // Every row is accounted for: synced (and in the destination with its values) or dead-lettered, never both.
    expect(synced.size + lettered.size).toBe(ROWS);
    expect([...lettered].filter((k) => synced.has(k))).toEqual([]);
    expect(outcome.counts).toMatchObject({ eligible: ROWS, failed: lettered.size, notSent: 0 });
    // Created, or updated when a timed-out call had already created the record.
    expect(outcome.counts.created + outcome.counts.updated).toBe(synced.size);
    // About 2 % rejected, each with its reason and the payload of the contract's fields only.
    expect(lettered.size).toBeGreaterThan(ROWS * 0.01);
    expect(lettered.size).toBeLessThan(ROWS * 0.04);
    expect(letters.length).toBe(lettered.size);
    for (const letter of letters) {
      expect(letter).toMatchObject({ error_class: "rejected", error_code: "INJECTED_REJECTION", message: expect.stringContaining("Injected rejection") });
      expect(Object.keys(JSON.parse(String(letter.payload))).sort()).toEqual(["engagement_band", "firstname"]);
    }
    // A rejected row reaches the destination only through a timed-out call that was handled but never answered.
    const landedAnyway = [...lettered].filter((k) => state.destination.has(k));
    expect(landedAnyway.length).toBeLessThanOrEqual(timeouts * 100);
    // Only those and the synced rows landed; each synced row with the values the ledger says were sent.
    expect(state.destination.size).toBe(synced.size + landedAnyway.length);
    const upserted = emulator.calls().filter((c) => c.endpoint === UPSERT && (c.status === 200 || c.status === 207)).reduce((n, c) => n + (c.inputs ?? 0), 0);
    expect(upserted).toBeGreaterThanOrEqual(synced.size);

    // The faults end. A refused row is not resent while unchanged (the dead-letter lifecycle): the next sync sends
    // nothing new, and `replay` sends the rejected rows, after which the destination equals the eligible rows.
    emulator.setFaults({});
    const quiet = await startCli(bulkSyncArgs(build, "--json"), env);
    expect(quiet.exitCode, quiet.stderr).toBe(0);
    expect(JSON.parse(quiet.stdout).contracts[0].counts).toMatchObject({ created: 0, updated: 0, failed: 0, failedUnchanged: lettered.size });
    const again = await startCli(["replay", ...bulkSyncArgs(build, "--contract", CONTRACT, "--json").slice(1)], env);
    expect(again.exitCode, again.stderr).toBe(0);
    const counts = JSON.parse(again.stdout).contracts[0].counts;
    expect(counts).toMatchObject({ failed: 0 });
    expect(counts.created + counts.updated).toBe(lettered.size);
    const final = await checkState(duckdbPath, emulator);
    expect(final.destination.size).toBe(ROWS);
    expect(final.duplicates).toEqual([]);
    expect(final.missingOrStale, some(final.missingOrStale)).toEqual([]);
    expect(final.ledgerMismatches, some(final.ledgerMismatches)).toEqual([]);
    console.log(
      `faults: ${emulator.calls().length} calls, ${statuses.filter((s) => s >= 500).length} 5xx, ${statuses.filter((s) => s === 429).length} 429, ${timeouts} timeouts, ` +
        `${outcome.retries} retries, ${lettered.size} rejected (${landedAnyway.length} landed through a lost answer), ${outcome.durationMs} ms`,
    );
  }, 600_000);

  it("a run failing rows past its pause rule stops mid-run, dead-letters what failed, and pauses the contract", async () => {
    const rejecting = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, faults: { recordRejectRate: 0.8, seed: 7 } });
    try {
      const rows = 10_000;
      const duckdbPath = await bulkCopy(build, rows);
      const env = { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: rejecting.url, ACTIVATION_DUCKDB_PATH: duckdbPath };
      const run = await startCli(bulkSyncArgs(build, "--json"), env);
      expect(run.exitCode, run.stderr).toBe(4);
      const [outcome] = JSON.parse(run.stdout).contracts;
      // The bulk contract pauses at 50 % failed rows; the share is judged once min_attempted (default 20) rows were attempted.
      expect(outcome.stopped).toMatch(/^monitoring.pause_if: \d+ of \d+ attempted rows failed \(.* %; the rule pauses at 50 % from 20 attempted rows\)$/);
      expect(outcome.paused).toMatch(/^monitoring.pause_if: /);
      const { created, updated, failed, notSent } = outcome.counts;
      expect(created + updated + failed).toBeGreaterThanOrEqual(20);
      expect(created + updated + failed).toBeLessThan(2_000); // stopped within the batches in flight
      expect(created + updated + failed + notSent).toBe(rows);
      const letters = await queryDuckDB(duckdbPath, `select count(*) as n from ${DEAD_LETTERS}`);
      expect(Number(letters[0]!.n)).toBe(failed);
      // Paused in the warehouse: the next run sends nothing.
      const calls = rejecting.calls().length;
      const next = await startCli(bulkSyncArgs(build, "--json"), env);
      expect(next.exitCode).toBe(3);
      expect(JSON.parse(next.stdout).contracts[0].reasons[0]).toMatch(/^paused by dbt-activation: monitoring.pause_if: /);
      expect(rejecting.calls().length).toBe(calls);
    } finally {
      await rejecting.close();
    }
  }, 300_000);
});
