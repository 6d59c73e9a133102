/**
 * One destination account, many writers: shards of one contract (`sync --shard i/n`, one process each, so one pacer
 * each) keep to their 1/n share of the account's limit, and contracts of one run that write to the same account
 * share one pacer. Measured at the HubSpot emulator through the official SDK: its 429s and its busiest window.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DestinationRecord } from "../../src/destinations/types.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { Pacer, pacerFor } from "../../src/engine/pacing.ts";
import { sendRecords } from "../../src/engine/send.ts";
import { openDestination, RunDestinations } from "../../src/pipeline/destination.ts";
import { HUBSPOT_PEOPLE, contractOn } from "../support/contracts.ts";
import { busiestWindow } from "../support/windows.ts";

const TOKEN = "shared-pacing-token";
const running: HubSpotEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

async function portal(perWindow: number, windowMs: number): Promise<{ emulator: HubSpotEmulator; env: Record<string, string> }> {
  const emulator = await startHubSpotEmulator({ accessToken: TOKEN, limits: { perTenSeconds: perWindow, windowMs, daily: 10_000_000 } });
  running.push(emulator);
  return { emulator, env: { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url } };
}

/** Rows `from` … `to - 1`, in chunks as the planner streams them. */
async function* people(from: number, to: number, chunk = 500): AsyncIterable<DestinationRecord[]> {
  for (let start = from; start < to; start += chunk) {
    const rows: DestinationRecord[] = [];
    for (let i = start; i < Math.min(to, start + chunk); i += 1) rows.push({ key: `p${String(i).padStart(6, "0")}@example.com`, fields: { firstname: `P${i}` } });
    yield rows;
  }
}

const contract = (name: string) => contractOn({ name: "people" }, HUBSPOT_PEOPLE, { name, fields: { first_name: "firstname" } });
const throttled = (emulator: HubSpotEmulator): number => emulator.calls().filter((c) => c.status === 429).length;

/** The most requests the emulator accepted in any window (every endpoint: the limit counts them all). */
const busiest = (emulator: HubSpotEmulator, windowMs: number): number =>
  busiestWindow(
    emulator
      .calls()
      .filter((c) => c.status !== 429)
      .map((c) => c.at),
    windowMs,
  );

describe("a pacer's share of the account", () => {
  it("keeps to 1/n of the documented window and of the window the answers report, at least one request", () => {
    const pacer = new Pacer({ limits: { requestsPerWindow: 100, windowMs: 10_000, concurrency: 10 }, share: 4 });
    expect(pacer.current.requestsPerWindow).toBe(25);
    pacer.observe({ windowMax: 190, windowMs: 10_000 });
    expect(pacer.current.requestsPerWindow).toBe(47);
    pacer.observe({ windowMax: 3 });
    expect(pacer.current.requestsPerWindow).toBe(1);
    // Without a share the window is the pacer's alone.
    expect(new Pacer({ limits: { requestsPerWindow: 100, windowMs: 10_000, concurrency: 10 } }).current.requestsPerWindow).toBe(100);
  });
});

describe("shards of one contract against one portal", () => {
  const perWindow = 20;
  const windowMs = 1000;
  const rows = 12_000;

  /** Four workers side by side, each with its own pacer as its own process has, each sending its quarter. */
  async function fourShards(share: number | undefined): Promise<{ emulator: HubSpotEmulator; written: number; lost: number }> {
    const { emulator, env } = await portal(perWindow, windowMs);
    const quarter = rows / 4;
    const summaries = await Promise.all(
      [0, 1, 2, 3].map(async (shard) => {
        const destination = openDestination(contract("people_sharded"), env, share === undefined ? {} : { share });
        expect(await destination.checkMapping()).toEqual([]);
        return sendRecords(destination, people(shard * quarter, (shard + 1) * quarter), { baseDelayMs: 50 });
      }),
    );
    return { emulator, written: summaries.reduce((n, s) => n + s.created + s.updated, 0), lost: summaries.reduce((n, s) => n + s.failed + s.notSent, 0) };
  }

  it("each at its 1/4 share: no burst of 429s, never over the portal's limit, every row lands once", async () => {
    const { emulator, written, lost } = await fourShards(4);
    expect({ written, lost }).toEqual({ written: rows, lost: 0 });
    expect(emulator.records("contacts")).toHaveLength(rows);
    // At most one 429 per worker: the first answers (documented limit ÷ 4 until the headers say the real one).
    expect(throttled(emulator)).toBeLessThanOrEqual(4);
    expect(busiest(emulator, windowMs)).toBeLessThanOrEqual(perWindow);
  }, 120_000);

  it("each at the whole limit (no share), the same four workers ask for 4x what the portal allows and are throttled", async () => {
    const { emulator, written } = await fourShards(undefined);
    expect(written).toBe(rows);
    expect(throttled(emulator)).toBeGreaterThan(20);
  }, 120_000);
});

describe("contracts of one run writing to the same portal", () => {
  const perWindow = 10;
  const windowMs = 1000;

  it("share one pacer: together never over the portal's limit, no burst of 429s, every row of both lands", async () => {
    const { emulator, env } = await portal(perWindow, windowMs);
    const run = new RunDestinations(env);
    const first = run.open(contract("people_a"));
    const second = run.open(contract("people_b"));
    expect(pacerFor(first)).toBe(pacerFor(second));
    expect(await first.checkMapping()).toEqual([]);
    expect(await second.checkMapping()).toEqual([]);
    const [a, b] = await Promise.all([sendRecords(first, people(0, 3000), { baseDelayMs: 50 }), sendRecords(second, people(3000, 6000), { baseDelayMs: 50 })]);
    expect([a.created, b.created, a.failed + a.notSent + b.failed + b.notSent]).toEqual([3000, 3000, 0]);
    expect(emulator.records("contacts")).toHaveLength(6000);
    expect(throttled(emulator)).toBeLessThanOrEqual(1);
    expect(busiest(emulator, windowMs)).toBeLessThanOrEqual(perWindow);
  }, 120_000);

  it("of different destination types get a pacer each", async () => {
    const { env } = await portal(perWindow, windowMs);
    const run = new RunDestinations({ ...env, ZENDESK_URL: "http://127.0.0.1:9", ZENDESK_EMAIL: "a@example.com", ZENDESK_API_TOKEN: "t" });
    const hubspot = run.open(contract("people_a"));
    const zendesk = run.open(contractOn({ name: "people" }, { name: "people_z", key: "email", destination: { type: "zendesk", object: "users", match: { field: "email" } }, fields: { first_name: "name" } }));
    expect(pacerFor(hubspot)).not.toBe(pacerFor(zendesk));
  });
});
