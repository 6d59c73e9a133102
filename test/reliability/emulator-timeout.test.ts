/**
 * The HubSpot emulator's timeout fault (added for the reliability suites): a timed-out call is handled (its writes
 * land) but never answered, and its connection is dropped after `timeoutMs`; other faults keep their sequences.
 */
import { Client } from "@hubspot/api-client";
import { afterEach, describe, expect, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";

const TOKEN = "timeout-token";
let emulator: HubSpotEmulator | undefined;

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

function client(url: string): Client {
  return new Client({ accessToken: TOKEN, basePath: url, numberOfApiCallRetries: 0 });
}

describe("HubSpot emulator: timeout fault", () => {
  it("handles the call, never answers, and drops the connection after timeoutMs", async () => {
    emulator = await startHubSpotEmulator({ accessToken: TOKEN, faults: { timeoutRate: 1, timeoutMs: 300, seed: 5 } });
    const started = Date.now();
    const error = await client(emulator.url)
      .crm.contacts.batchApi.upsert({ inputs: [{ id: "a@example.com", idProperty: "email", properties: { email: "a@example.com" } }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(Error);
    // No HTTP status: the client sees a dropped connection, not an answer.
    expect((error as { code?: unknown }).code).not.toEqual(expect.any(Number));
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5_000);
    // The write landed although the answer was lost: a retry must not create a second record.
    expect(emulator.records("contacts")).toHaveLength(1);
    expect(emulator.calls()).toEqual([expect.objectContaining({ status: 0, timedOut: true, endpoint: "POST /crm/v3/objects/{objectType}/batch/upsert" })]);
  });

  it("times out about the configured share of calls, the same ones for the same seed", async () => {
    const outcomes: string[][] = [];
    for (let round = 0; round < 2; round++) {
      emulator = await startHubSpotEmulator({ accessToken: TOKEN, faults: { timeoutRate: 0.3, timeoutMs: 50, seed: 11 } });
      const api = client(emulator.url);
      const results: string[] = [];
      for (let i = 0; i < 40; i++) {
        results.push(await api.crm.properties.coreApi.getAll("contacts").then(() => "ok", () => "timeout"));
      }
      outcomes.push(results);
      await emulator.close();
      emulator = undefined;
    }
    const timeouts = outcomes[0]!.filter((o) => o === "timeout").length;
    expect(timeouts).toBeGreaterThan(4);
    expect(timeouts).toBeLessThan(24);
    expect(outcomes[1]).toEqual(outcomes[0]);
  });

  it("a wrong token gets its 401 even at a timeout rate of 1", async () => {
    emulator = await startHubSpotEmulator({ accessToken: TOKEN, faults: { timeoutRate: 1, timeoutMs: 10_000 } });
    const wrong = new Client({ accessToken: "wrong", basePath: emulator.url, numberOfApiCallRetries: 0 });
    const error = await wrong.crm.properties.coreApi.getAll("contacts").then(
      () => undefined,
      (e: unknown) => e as { code?: unknown },
    );
    expect(error?.code).toBe(401);
  });
});
