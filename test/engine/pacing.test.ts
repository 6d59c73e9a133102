/**
 * The shared pacing engine against the HubSpot emulator through the official SDK: a large sync at the emulator's
 * (time-scaled) rate limit, correction from response headers, the circuit breaker, the retry budget, the
 * checkpoint hook under concurrency, and the kill switch.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createHubSpotClient } from "../../src/destinations/hubspot/client.ts";
import { HubSpotDestination } from "../../src/destinations/hubspot/destination.ts";
import { HUBSPOT_DOCUMENTED_LIMITS } from "../../src/destinations/hubspot/limits.ts";
import type { DestinationRecord, RecordOutcome } from "../../src/destinations/types.ts";
import { startHubSpotEmulator, type HubSpotEmulator, type HubSpotEmulatorOptions } from "../../emulators/hubspot/index.ts";
import { Pacer, pacerFor } from "../../src/engine/pacing.ts";
import { openDestination } from "../../src/pipeline/destination.ts";
import { sendRecords } from "../../src/engine/send.ts";
import { HUBSPOT_PEOPLE, contractSpec } from "../support/contracts.ts";

const TOKEN = "pacing-token";
const running: HubSpotEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

async function setup(options: HubSpotEmulatorOptions = {}): Promise<{ emulator: HubSpotEmulator; destination: HubSpotDestination }> {
  const emulator = await startHubSpotEmulator({ accessToken: TOKEN, ...options });
  running.push(emulator);
  const connection = { accessToken: TOKEN, basePath: emulator.url };
  const destination = new HubSpotDestination(createHubSpotClient(connection), { objectType: "contacts", idProperty: "email", fields: [{ to: "firstname" }] }, connection);
  return { emulator, destination };
}

async function* people(count: number, chunk = 1000): AsyncIterable<DestinationRecord[]> {
  for (let start = 0; start < count; start += chunk) {
    const rows: DestinationRecord[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i += 1) rows.push({ key: `p${String(i).padStart(6, "0")}@example.com`, fields: { firstname: `P${i}` } });
    yield rows;
  }
}

const throttled = (emulator: HubSpotEmulator): number => emulator.calls().filter((c) => c.status === 429).length;

describe("the pacer's tokens", () => {
  // The destination counts a request when it arrives, which can be long after it left (ten in flight, a busy client):
  // a token comes back one window after the request's answer, never one window after it left.
  it("come back one window after the answer: a request slower than the window holds its token", async () => {
    const pacer = new Pacer({ limits: { requestsPerWindow: 2, windowMs: 100, concurrency: 10 }, marginMs: 0 });
    const started = Date.now();
    const slow = () => pacer.request(() => new Promise((r) => setTimeout(r, 300)));
    const answered: number[] = [];
    await Promise.all([slow(), slow(), pacer.request(async () => answered.push(Date.now() - started))]);
    // The third left only once a slow answer (at 300 ms) was a window old: not at 100 ms, when both had left a window ago.
    expect(answered[0]).toBeGreaterThanOrEqual(400);
  });
});

describe("a run's destination", () => {
  it("is paced from its first request: the mapping check counts against the same budget as the writes", async () => {
    const emulator = await startHubSpotEmulator({ accessToken: TOKEN });
    running.push(emulator);
    const contract = {
      spec: contractSpec(HUBSPOT_PEOPLE, { name: "paced", fields: { first_name: "firstname" } }),
      model: { uniqueId: "model.t.people", name: "people", relation: "people", file: "models/people.yml" },
    };
    const destination = openDestination(contract, { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url });
    expect(await destination.checkMapping()).toEqual([]);
    const calls = emulator.calls().length;
    expect(calls).toBeGreaterThan(0);
    // Every request the emulator saw went through the pacer: none before it was attached.
    expect(pacerFor(destination).stats.requests).toBe(calls);
  });
});

describe("pacing at the rate limit", () => {
  // Throughput against the ideal is measured by `npm run bench` (a ratio, repeated), never asserted here: a loaded
  // machine would make a timed assertion fail for reasons that are not the pacer's.
  it("syncs 20,000 rows at 40 requests per (scaled) window with no lost row, no burst of 429s, never over the limit", async () => {
    const perWindow = 40;
    const windowMs = 1000;
    const rows = 20_000;
    const { emulator, destination } = await setup({ limits: { perTenSeconds: perWindow, windowMs } });
    const summary = await sendRecords(destination, people(rows), { baseDelayMs: 50 });

    // Zero lost rows: every row written, once.
    expect(summary).toMatchObject({ created: rows, updated: 0, failed: 0, notSent: 0 });
    expect(emulator.records("contacts")).toHaveLength(rows);
    // No burst of 429s.
    expect(throttled(emulator)).toBeLessThanOrEqual(3);
    expect(summary.throttled).toBe(throttled(emulator));
    expect(summary.requests).toBe(Math.ceil(rows / 100) + summary.throttled);
    // Never more than the limit in any window, measured at the emulator.
    const stamps = emulator.calls().filter((c) => c.status !== 429 && c.endpoint.endsWith("batch/upsert")).map((c) => c.at);
    const busiest = Math.max(...stamps.map((t) => stamps.filter((u) => u >= t && u < t + windowMs).length));
    expect(busiest).toBeLessThanOrEqual(perWindow);
    // The documented 100 per 10 s was replaced by what the answers' headers said.
    expect(pacerFor(destination).current).toMatchObject({ requestsPerWindow: perWindow, windowMs });
  }, 60_000);

  it("takes another client's use of the shared quota out of its bucket (X-HubSpot-RateLimit-Remaining)", async () => {
    const { emulator, destination } = await setup({ limits: { perTenSeconds: 20, windowMs: 1000 } });
    // Someone else spends 18 of this window's 20 requests just before the sync starts.
    for (let i = 0; i < 18; i += 1) await fetch(`${emulator.url}/crm/v3/properties/contacts`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    // One request in flight: the first answer's Remaining reaches the pacer before the second request leaves.
    const summary = await sendRecords(destination, people(3000), { baseDelayMs: 50, concurrency: 1 });
    expect(summary).toMatchObject({ created: 3000, failed: 0, notSent: 0 });
    // Without the correction the pacer would believe 19 were left and send them into a full window.
    expect(throttled(emulator)).toBe(0);
  }, 30_000);
});

describe("failure handling", () => {
  it("opens the circuit after 10 consecutive failed requests and ends the run cleanly, the rest not sent", async () => {
    const { emulator, destination } = await setup({ faults: { serverErrorRate: 1 } });
    const summary = await sendRecords(destination, people(2000), { baseDelayMs: 1, maxDelayMs: 5 });
    expect(summary.stopped).toMatch(/10 consecutive failed requests/);
    expect(summary).toMatchObject({ created: 0, failed: 0, notSent: 2000 });
    // 20 batches × 6 attempts would be 120 requests without the breaker; with it, 10 plus those already in flight.
    expect(emulator.callCount()).toBeLessThanOrEqual(10 + HUBSPOT_DOCUMENTED_LIMITS.concurrency);
  });

  it("stops when the run's retry budget is spent instead of retrying on", async () => {
    const { emulator, destination } = await setup({ faults: { serverErrorRate: 0.5, seed: 3 } });
    const pacer = new Pacer({ limits: destination.limits, breaker: { threshold: 1000 } });
    destination.usePacer(pacer);
    const summary = await sendRecords(destination, people(3000), { baseDelayMs: 1, maxDelayMs: 5, retryBudget: { maxRetries: 3 }, pacer, concurrency: 1 });
    expect(summary.stopped).toMatch(/retry budget is spent \(3 retries\)/);
    expect(summary.retries).toBe(3);
    expect(summary.created + summary.notSent).toBe(3000);
    expect(summary.notSent).toBeGreaterThan(0);
    expect(emulator.records("contacts")).toHaveLength(summary.created);
  });

  it("awaits the checkpoint of acknowledged batches one call at a time, grouping the batches acknowledged meanwhile", async () => {
    const { destination } = await setup({ limits: { perTenSeconds: 1000 } });
    let active = 0;
    let maxActive = 0;
    const seen: { records: number; outcomes: number }[] = [];
    const summary = await sendRecords(destination, people(1500), {
      concurrency: 4,
      onAcknowledged: async (records: DestinationRecord[], outcomes: RecordOutcome[]) => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        // A slow checkpoint: batches acknowledged while it runs go into the next call together.
        await new Promise((r) => setTimeout(r, 40));
        seen.push({ records: records.length, outcomes: outcomes.length });
        active -= 1;
      },
    });
    expect(summary.created).toBe(1500);
    expect(maxActive).toBe(1);
    expect(seen.length).toBeLessThan(15);
    expect(Math.max(...seen.map((s) => s.records))).toBeGreaterThan(100);
    expect(seen.every((s) => s.records === s.outcomes)).toBe(true);
    expect(seen.reduce((n, s) => n + s.records, 0)).toBe(1500);
  });

  it("sends on while a checkpoint runs, with at most `concurrency` batches awaiting theirs, and returns once all are committed", async () => {
    const { emulator, destination } = await setup({ limits: { perTenSeconds: 1000 } });
    const concurrency = 4;
    const upserts = (): number => emulator.calls().filter((c) => c.path.endsWith("/batch/upsert")).length;
    let committed = 0;
    let callsWhileHeld: number | undefined;
    const summary = await sendRecords(destination, people(1500), {
      concurrency,
      onAcknowledged: async (records: DestinationRecord[]) => {
        // The first checkpoint is slow: sending goes on beside it, until `concurrency` batches await theirs.
        if (committed === 0) {
          await new Promise((r) => setTimeout(r, 400));
          callsWhileHeld = upserts();
        }
        committed += records.length;
      },
    });
    expect(summary.created).toBe(1500);
    // Beyond the first batch's own slot: more than the slots alone (they no longer wait for the checkpoint), and
    // no more than the slots plus the batches awaiting their checkpoint (what a crash here would resend).
    expect(callsWhileHeld).toBeGreaterThan(concurrency);
    expect(callsWhileHeld).toBeLessThanOrEqual(2 * concurrency);
    // Returned only once every acknowledged batch was committed.
    expect(committed).toBe(1500);
  });

  it("stops sending when a checkpoint fails, and throws its error once the batches in flight are answered", async () => {
    const { emulator, destination } = await setup({ limits: { perTenSeconds: 1000 } });
    const concurrency = 4;
    const run = sendRecords(destination, people(3000), { concurrency, onAcknowledged: () => Promise.reject(new Error("ledger down")) });
    await expect(run).rejects.toThrow("ledger down");
    // The first batch's checkpoint failed: at most the batches in flight and those awaiting a checkpoint went out.
    expect(emulator.records("contacts").length).toBeLessThanOrEqual(2 * concurrency * 100);
  });

  it("stops between batches when the kill switch is thrown, counting the rest as not sent", async () => {
    const { emulator, destination } = await setup();
    let asked = 0;
    const summary = await sendRecords(destination, people(1000), { concurrency: 1, shouldStop: () => Promise.resolve(++asked > 3 ? "paused by the kill switch" : undefined) });
    expect(summary).toMatchObject({ created: 300, notSent: 700, stopped: "paused by the kill switch" });
    expect(emulator.records("contacts")).toHaveLength(300);
  });
});
