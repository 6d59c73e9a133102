/**
 * Braze end to end through the real CLI on DuckDB and PostgreSQL: the integration contract contact_engagement_to_braze
 * (paused in the fixture, resumed here in a copy of the manifest) synced to the Braze emulator, rerun with zero calls,
 * one row edited (one update, its null job_title removed by on_null: clear), one row removed (on_removed: delete), and
 * the run stopped before any write when a mapped custom attribute is unknown to the workspace.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startBrazeEmulator, type BrazeEmulator, type BrazeEmulatorOptions } from "../../emulators/braze/index.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";

const KEY = "braze-e2e-key";
const CONTRACT = "contact_engagement_to_braze";
const NODE = "model.activation_integration_tests.contact_engagement";
const ATTRIBUTES = ["job_title", "plan_tier", "engagement_band"].map((name) => ({ name, type: "String" as const }));
let emulator: BrazeEmulator | undefined;

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(options: BrazeEmulatorOptions = {}): Promise<BrazeEmulator> {
  emulator = await startBrazeEmulator({ apiKey: KEY, attributes: ATTRIBUTES, ...options });
  return emulator;
}

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });

  /** The Braze contract resumed (status: launch), with `edit` applied, in a copy of the build's manifest. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite the contract JSON freely
  async function target(edit: (contract: Record<string, any>) => void = () => undefined): Promise<string> {
    return engine.copyArtifacts({
      manifest: (m) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifest JSON
        const contract = m.nodes[NODE].config.meta.activation.find((c: any) => c.name === CONTRACT);
        contract.status = "launch";
        edit(contract);
      },
    });
  }

  async function sync(targetDir: string, env: Record<string, string> = {}) {
    const run = await runCli(syncArgs(targetDir, "--select", CONTRACT, "--json", ...engine.args), {
      BRAZE_API_KEY: KEY,
      BRAZE_REST_ENDPOINT: emulator!.url,
      ...engine.env(),
      ...env,
    });
    return { ...run, outcome: run.stdout.startsWith("{") ? JSON.parse(run.stdout).contracts?.[0] : undefined };
  }

  async function eligible(): Promise<{ email: string; first_name: string; job_title: string | null; plan_tier: string; engagement_band: string }[]> {
    return (await engine.query(`select email, first_name, job_title, plan_tier, engagement_band from ${engine.model(CONTRACT)} order by email`)) as never;
  }

  it("lands the proven rows as Braze users by email, and a rerun with nothing changed makes zero calls", async () => {
    await start();
    const dir = await target();
    const first = await sync(dir);
    expect(first.exitCode, first.stderr).toBe(0);
    const rows = await eligible();
    expect(rows.length).toBeGreaterThan(10);
    expect(first.outcome).toMatchObject({ status: "synced", destination: "braze users" });
    expect(first.outcome.counts).toMatchObject({ eligible: rows.length, created: rows.length, updated: 0, failed: 0, notSent: 0 });
    const landed = emulator!
      .users()
      .map((u) => [u.email, u.profile.first_name, u.custom_attributes.job_title ?? null, u.custom_attributes.plan_tier, u.custom_attributes.engagement_band])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(landed).toEqual(rows.map((r) => [r.email, r.first_name, r.job_title, r.plan_tier, r.engagement_band]));
    // One preflight (custom attributes) and one /users/track batch: the rows fit in 75.
    expect(emulator!.calls().map((c) => c.endpoint)).toEqual(["GET /custom_attributes", "POST /users/track"]);

    const calls = emulator!.calls().length;
    const again = await sync(dir);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.outcome.counts).toMatchObject({ eligible: rows.length, created: 0, updated: 0, unchanged: rows.length });
    expect(again.outcome.requests).toBe(0);
    expect(emulator!.calls().length).toBe(calls);
  });

  it("sends one update for an edited row (a null job_title removes the attribute) and deletes the user of a removed row", async () => {
    await start();
    const dir = await target();
    expect((await sync(dir)).exitCode).toBe(0);
    const [edited, removed] = (await eligible()).filter((r) => r.job_title !== null).map((r) => r.email);
    await engine.mutate(`update ${engine.model(CONTRACT)} set job_title = null, _activation_row_hash = md5(email || 'v2') where email = '${edited}'`);
    const update = await sync(dir);
    expect(update.exitCode, update.stderr).toBe(0);
    expect(update.outcome.counts).toMatchObject({ created: 0, updated: 1, failed: 0 });
    expect(emulator!.calls().at(-1)).toMatchObject({ endpoint: "POST /users/track", objects: 1, status: 201 });
    const user = emulator!.findUser({ email: edited! })!;
    expect(user.custom_attributes.job_title).toBeUndefined();
    expect(user.profile.first_name).toBeTruthy();

    const before = emulator!.users().length;
    await engine.mutate(`delete from ${engine.model(CONTRACT)} where email = '${removed}'`);
    const removal = await sync(dir);
    expect(removal.exitCode, removal.stderr).toBe(0);
    expect(removal.outcome.counts).toMatchObject({ removed: 1, created: 0, updated: 0 });
    expect(emulator!.findUser({ email: removed! })).toBeUndefined();
    expect(emulator!.users()).toHaveLength(before - 1);
    expect(emulator!.callCount("POST /users/delete")).toBe(1);
    const ledger = await engine.query(`select status from ${engine.ledgerTable("activation_ledger")} where contract_name = '${CONTRACT}' and sync_key = '${removed}'`);
    expect(ledger).toEqual([{ status: "removed" }]);

    // Nothing left to do: zero calls.
    const calls = emulator!.calls().length;
    expect((await sync(dir)).outcome.requests).toBe(0);
    expect(emulator!.calls().length).toBe(calls);
  });

  it("stops before any write when a mapped attribute is unknown to Braze, unless the contract allows creating it", async () => {
    await start({ attributes: ATTRIBUTES.filter((a) => a.name !== "engagement_band") });
    const stopped = await sync(await target());
    expect(stopped.exitCode).toBe(2);
    expect(stopped.outcome).toMatchObject({ status: "failed", reasons: ["fields: engagement_band is not a field of Braze users"] });
    expect(emulator!.callCount("POST /users/track")).toBe(0);

    const noKey = await sync(await target(), { BRAZE_API_KEY: "" });
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stdout + noKey.stderr).toMatch(/set BRAZE_API_KEY to a Braze REST API key/);

    const creating = await sync(await target((c) => (c.destination.create_attributes = true)));
    expect(creating.exitCode, creating.stderr).toBe(0);
    expect(emulator!.attributes().map((a) => a.name)).toContain("engagement_band");
    expect(emulator!.users().every((u) => typeof u.custom_attributes.engagement_band === "string")).toBe(true);
  });
});
