/**
 * Crash-resume: a 50,000-row sync SIGKILLed at 20 seeded random points (two rounds: every row created, then every
 * row changed), each time rerun. After every kill: no duplicate, nothing outside the eligible rows, and the ledger
 * agrees with the destination except for the batches that were in flight. After each round's completing rerun: the
 * destination equals the eligible rows, one record per key, and every ledger row matches its destination record.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HUBSPOT_DOCUMENTED_LIMITS } from "../../src/destinations/hubspot/limits.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import {
  buildBulk,
  bulkCopy,
  bulkSyncArgs,
  BULK_TABLE,
  checkState,
  execDuckDB,
  LEASES,
  queryDuckDB,
  RUN_LOG,
  seeded,
  some,
  startCli,
  tableExists,
  UPSERT,
  waitFor,
  type BulkBuild,
} from "./support.ts";

const TOKEN = "crash-token";
const ROWS = 50_000;
const KILLS_PER_ROUND = 10;
/** Up to `concurrency` batches of 100 in flight or awaiting their checkpoint, counted twice for a margin. */
const IN_FLIGHT_ROWS = 2 * HUBSPOT_DOCUMENTED_LIMITS.concurrency * 100;

let build: BulkBuild;
let emulator: HubSpotEmulator;

beforeAll(async () => {
  build = await buildBulk(ROWS);
  // Time-scaled HubSpot limit: 100 requests per second.
  emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, limits: { perTenSeconds: 100, windowMs: 1000 } });
});
afterAll(async () => {
  await emulator?.close();
});

describe("crash-resume", () => {
  it(`kill -9 at ${2 * KILLS_PER_ROUND} random points of a ${ROWS}-row sync: nothing lost, nothing duplicated, ledger consistent`, async () => {
    const duckdbPath = await bulkCopy(build);
    const env = { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url, ACTIVATION_DUCKDB_PATH: duckdbPath };
    const args = bulkSyncArgs(build, "--json");
    const dice = seeded(20260707);
    const log: string[] = [];
    let sawBusy = false;
    let kills = 0;

    for (let round = 0; round < 2; round++) {
      if (round === 1) await execDuckDB(duckdbPath, `update ${BULK_TABLE} set first_name = first_name || '-v2'`);
      const roundStart = emulator.calls().filter((c) => c.endpoint === UPSERT).length;
      // Kill points: 2 by time since spawn (startup, migrations, planning, first batches), 8 by upsert calls seen in the round.
      const byTime = [0, 1].map(() => 200 + Math.floor(dice() * 6000));
      const byCalls = Array.from({ length: KILLS_PER_ROUND - byTime.length }, () => Math.floor(dice() * 480)).sort((a, b) => a - b);
      const points = [...byTime.map((ms) => ({ ms })), ...byCalls.map((calls) => ({ calls }))];
      let sentBefore = 0;

      for (const point of points) {
        const upserts = (): number => emulator.calls().filter((c) => c.endpoint === UPSERT).length - roundStart;
        const callsAtSpawn = upserts();
        const child = startCli(args, env);
        let exited = false;
        void child.then(() => (exited = true));
        if ("ms" in point) await waitFor(() => false, () => exited, point.ms).catch(() => undefined);
        // A call point already passed (resent batches) kills after this run's first batch.
        else await waitFor(() => upserts() >= Math.max(point.calls, callsAtSpawn + 1), () => exited, 120_000);
        child.kill("SIGKILL");
        const result = await child;
        const killed = result.signal === "SIGKILL";
        if (killed) kills += 1;
        log.push(`round ${round}: ${JSON.stringify(point)} → ${killed ? "killed" : `exited ${result.exitCode}`} after ${upserts() - callsAtSpawn} upserts`);
        if (!killed) expect(result.exitCode, result.stderr).toBe(0);

        const state = await checkState(duckdbPath, emulator);
        expect(state.duplicates, some(state.duplicates)).toEqual([]);
        expect(state.strangers, some(state.strangers)).toEqual([]);
        // Only the batches in flight at the kill may differ from the ledger (written, not yet checkpointed).
        expect(state.ledgerMismatches.length, some(state.ledgerMismatches)).toBeLessThanOrEqual(IN_FLIGHT_ROWS);
        expect(state.ledger.length).toBeGreaterThanOrEqual(sentBefore - IN_FLIGHT_ROWS);
        sentBefore = state.ledger.length;

        if (killed && (await tableExists(duckdbPath, "activation_leases"))) {
          const leases = await queryDuckDB(duckdbPath, `select holder from ${LEASES}`);
          if (leases.length > 0 && !sawBusy) {
            // The dead runner's lease still holds the contract: an immediate rerun does nothing (exit 7, no call).
            const before = emulator.calls().length;
            const busy = await startCli(args, env);
            expect(busy.exitCode, busy.stdout + busy.stderr).toBe(7);
            expect(emulator.calls().length).toBe(before);
            sawBusy = true;
          }
          // 15 minutes later the lease has expired: simulated by moving its expiry into the past.
          await execDuckDB(duckdbPath, `update ${LEASES} set expires_at = timestamp '2000-01-01 00:00:00'`);
        }
      }

      const resumed = await startCli(args, env);
      expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
      const state = await checkState(duckdbPath, emulator);
      expect(state.destination.size).toBe(ROWS);
      expect(state.duplicates, some(state.duplicates)).toEqual([]);
      expect(state.strangers, some(state.strangers)).toEqual([]);
      expect(state.missingOrStale, some(state.missingOrStale)).toEqual([]);
      expect(state.ledger.length).toBe(ROWS);
      expect(state.ledger.filter((l) => l.status !== "synced")).toEqual([]);
      expect(state.ledgerMismatches, some(state.ledgerMismatches)).toEqual([]);
      // Resent rows are bounded by the batches in flight at each kill.
      const sent = emulator
        .calls()
        .filter((c) => c.endpoint === UPSERT)
        .slice(roundStart)
        .reduce((n, c) => n + (c.inputs ?? 0), 0);
      log.push(`round ${round}: ${sent} rows sent for ${ROWS} changed`);
      expect(sent).toBeLessThanOrEqual(ROWS + KILLS_PER_ROUND * IN_FLIGHT_ROWS + IN_FLIGHT_ROWS);
    }

    // And then nothing is left to do: zero calls.
    const calls = emulator.calls().length;
    const noop = await startCli(args, env);
    expect(noop.exitCode).toBe(0);
    expect(emulator.calls().length).toBe(calls);
    const runs = await queryDuckDB(duckdbPath, `select status, count(*) as n from ${RUN_LOG} group by status order by status`);
    log.push(`run log: ${JSON.stringify(runs, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))}`);
    expect(sawBusy).toBe(true);
    // Every killed run that had started left its run-log row, closed as abandoned by the next runner; none is running.
    const byStatus = Object.fromEntries(runs.map((r) => [String(r.status), Number(r.n)]));
    expect(byStatus.running).toBeUndefined();
    expect(byStatus.abandoned).toBeGreaterThan(0);
    expect(byStatus.abandoned).toBeLessThanOrEqual(kills);
    console.log(log.join("\n"));
  }, 900_000);
});
