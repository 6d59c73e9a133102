/**
 * Accepted means enforced: each contract field `validate` accepts changes what `sync`, `plan` or `rollback` does.
 * The real CLI on the integration build, DuckDB and PostgreSQL, against the HubSpot emulator; each case changes one
 * field of contact_engagement_to_hubspot in a copy of the build's manifest (or a result in run_results) and checks
 * what the destination, the ledger and the run log hold. test/contract/enforcement.ts maps each field to these tests.
 */
import { describe, expect, it } from "vitest";
import { integrationProject } from "../../scripts/dbt.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";
import { useHubSpotEmulator } from "../support/emulators.ts";

const TOKEN = "enforcement-token";
const CONTRACT = "contact_engagement_to_hubspot";
const MODEL_NODE = "model.activation_integration_tests.contact_engagement";
const HEALTH_NODE = "model.activation_integration_tests.account_health";
const AMARA = "amara.singh@fathomrobotics.ai";
const emulator = useHubSpotEmulator({ accessToken: TOKEN });

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite arbitrary manifest JSON
type Json = any;

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({ ...emulator.cliEnv(), ...engine.env(), USER: "enforcer", ...extra });
  const connection = ["--project-dir", integrationProject, "--profiles-dir", integrationProject, ...engine.args];
  /** A copy of the build's artifacts with the contract changed by `edit` (and run_results by `results`). */
  const withContract = (edit: (contract: Json) => void, results?: (r: Json, m: Json) => void): Promise<string> => {
    let manifest: Json;
    return engine.copyArtifacts({
      manifest: (m) => {
        manifest = m;
        edit(m.nodes[MODEL_NODE].config.meta.activation[0]);
      },
      ...(results ? { runResults: (r: Json) => results(r, manifest) } : {}),
    });
  };
  const sync = (target: string, ...extra: string[]) => runCli(syncArgs(target, "--select", CONTRACT, ...extra, ...engine.args), env());
  const contact = (email: string) => emulator.findByProperty("contacts", "email", email)?.properties ?? {};
  /** Changes a built row; the activation model's row hash changes with it, as a rebuild would. */
  const change = (set: string, where: string) => engine.mutate(`update ${engine.model(CONTRACT)} set ${set}, _activation_row_hash = md5(email || '${set.replace(/'/g, "")}') where ${where}`);

  describe("fields.<column>.on_null", () => {
    it("clear: a value that becomes null empties the destination field on the next run; skip leaves it", async () => {
      const clearing = await withContract((c) => (c.fields.job_title = { to: "jobtitle", on_null: "clear" }));
      expect((await sync(clearing)).exitCode).toBe(0);
      const before = contact(AMARA).jobtitle;
      expect(before).toBeTruthy();
      await change("job_title = null", `email = '${AMARA}'`);

      // skip (the default) sends the row without the field: the destination keeps what it had. Changing on_null is
      // a mapping change, so every synced row is sent again (docs/reliability.md): past the blast radius, with a reason.
      const large = ["--allow-large-change", "--reason", "on_null changed"];
      const skipping = await sync(engine.targetPath(), "--json", ...large);
      expect(skipping.exitCode, skipping.stderr).toBe(0);
      expect(JSON.parse(skipping.stdout).contracts[0].counts).toMatchObject({ updated: 16, failed: 0 });
      expect(contact(AMARA).jobtitle).toBe(before);

      // clear sends it as empty: the destination's value is gone. Another change makes the row differ again.
      await change("job_title = null, first_name = first_name", `email = '${AMARA}'`);
      const cleared = await sync(clearing, "--json", ...large);
      expect(cleared.exitCode, cleared.stderr).toBe(0);
      expect(JSON.parse(cleared.stdout).contracts[0].counts).toMatchObject({ updated: 16, failed: 0 });
      expect(contact(AMARA).jobtitle ?? "").toBe("");
      expect(contact(AMARA).firstname).toBe("Amara");
    });

    it("fail: the row is dead-lettered with the reason and nothing of it is sent; the other rows are", async () => {
      await change("job_title = null", `email = '${AMARA}'`);
      const failing = await withContract((c) => {
        c.fields.job_title = { to: "jobtitle", on_null: "fail" };
        // 1 failed row in 16 would trip the 5 % pause rule: here the failure itself is under test, run after run.
        c.monitoring.pause_if = { failed_rows: 10 };
      });
      const first = await sync(failing, "--json");
      expect(first.exitCode, first.stderr).toBe(4);
      const outcome = JSON.parse(first.stdout).contracts[0];
      expect(outcome.counts).toMatchObject({ created: 15, failed: 1 });
      expect(outcome.failures[0]).toMatchObject({ key: AMARA, code: "NULL_FIELD" });
      // A permanent failure is not attempted again while its row is unchanged (the dead-letter lifecycle).
      const second = await sync(failing, "--json");
      expect(second.exitCode, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout).contracts[0].counts).toMatchObject({ created: 0, failed: 0, unchanged: 15, failedUnchanged: 1 });
      expect(emulator.findByProperty("contacts", "email", AMARA)).toBeUndefined();
      expect(emulator.records("contacts")).toHaveLength(15);
      const sent = emulator.calls().filter((c) => c.method === "POST" && c.inputs !== undefined).reduce((n, c) => n + (c.inputs ?? 0), 0);
      expect(sent).toBe(15);
      const letters = await engine.query(`select sync_key, error_code, message from ${engine.ledgerTable("activation_dead_letters")} order by created_at`);
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ sync_key: AMARA, error_code: "NULL_FIELD" });
      expect(String(letters[0]!.message)).toContain("column job_title is null and its contract field says on_null: fail");
    });
  });

  describe("gates.allow_warn", () => {
    /** run_results with one of the activation model's tests at status warn, as `severity: warn` leaves it. */
    const warned = (allowWarn: boolean | undefined) =>
      withContract(
        (c) => {
          if (allowWarn !== undefined) c.gates.allow_warn = allowWarn;
        },
        (r, m) => {
          const test = Object.values(m.nodes as Record<string, Json>).find((n) => n.test_metadata?.name === "null_rate" && n.attached_node === `model.activation_integration_tests.${CONTRACT}`);
          const result = r.results.find((x: Json) => x.unique_id === test.unique_id);
          Object.assign(result, { status: "warn", failures: 1, message: "Got 1 result, configured to warn if != 0" });
        },
      );

    it("a warn test holds the contract back unless the contract allows warn", async () => {
      for (const allow of [undefined, false]) {
        const held = await sync(await warned(allow));
        expect(held.exitCode, held.stderr).toBe(3);
        expect(held.stdout).toMatch(/held back by the gate: test activation_null_rate_\S+: warn \(1 failing row\)/);
      }
      expect(emulator.calls()).toEqual([]);
    });

    it("allow_warn: true lets a warn test pass the gate", async () => {
      const run = await sync(await warned(true));
      expect(run.exitCode, run.stderr).toBe(0);
      expect(emulator.records("contacts")).toHaveLength(16);
    });
  });

  describe("freshness.expire_after", () => {
    it("rows older than it are not sent, plan shows them as expired, and the removal rule clears what the destination held", async () => {
      const expiring = await withContract((c) => {
        c.freshness.expire_after = "7d";
        c.destination.on_removed = "clear";
      });
      expect((await sync(expiring)).exitCode).toBe(0);
      expect(emulator.records("contacts")).toHaveLength(16);
      const old = [AMARA, "jonas.weber@fathomrobotics.ai"];
      await engine.mutate(`update ${engine.model(CONTRACT)} set scored_at = scored_at - interval '30 days' where email in ('${old.join("', '")}')`);

      const plan = await runCli(["plan", ...syncArgs(expiring, "--select", CONTRACT).slice(1), "--json", ...engine.args], env());
      expect(plan.exitCode, plan.stderr).toBe(0);
      expect(JSON.parse(plan.stdout).contracts[0].plan).toEqual({ eligible: 14, create: 0, update: 0, unchanged: 14, removed: 2, expired: 2, failedUnchanged: 0, retryLater: 0, removable: 2 });

      const run = await sync(expiring, "--json");
      expect(run.exitCode, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).contracts[0].counts).toMatchObject({ eligible: 14, removed: 2, created: 0, updated: 0 });
      for (const email of old) expect(contact(email).engagement_band ?? "").toBe("");
      expect(contact("maya.okafor@acme-analytics.com").engagement_band).toBeTruthy();
    });

    it("a first sync sends only the rows younger than it", async () => {
      await engine.mutate(`update ${engine.model(CONTRACT)} set scored_at = scored_at - interval '3 days' where email = '${AMARA}'`);
      const run = await sync(await withContract((c) => (c.freshness.expire_after = "2d")), "--json");
      expect(run.exitCode, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).contracts[0].counts).toMatchObject({ eligible: 15, created: 15 });
      expect(emulator.findByProperty("contacts", "email", AMARA)).toBeUndefined();
    });
  });

  describe("monitoring.retry_budget", () => {
    it("max_retries: 2 against a destination that always fails: at most 2 retries, counted by the emulator", async () => {
      emulator.setFaults({ serverErrorRate: 1 });
      const run = await sync(await withContract((c) => (c.monitoring.retry_budget = { max_retries: 2 })), "--json");
      expect(run.exitCode, run.stderr).not.toBe(0);
      expect(emulator.calls()).toHaveLength(3); // the first try and 2 retries
      expect(run.stdout).toContain("retry budget is spent (2 retries)");
    });

    it("max_duration: 1s bounds the time the run waits before retries", async () => {
      emulator.setFaults({ serverErrorRate: 1 });
      const run = await sync(await withContract((c) => (c.monitoring.retry_budget = { max_duration: "1s" })), "--json");
      expect(run.exitCode, run.stderr).not.toBe(0);
      // Backoff waits 250–500 ms, then 500–1,000 ms, then 1–2 s: a third retry never fits in one second.
      expect(emulator.calls().length).toBeLessThanOrEqual(3);
      expect(run.stdout).toContain("retry budget is spent");
    });

    it("without a budget the engine's own limits apply (more than 2 retries)", async () => {
      emulator.setFaults({ serverErrorRate: 1 });
      await sync(engine.targetPath());
      expect(emulator.calls().length).toBeGreaterThan(3);
    });
  });

  // monitoring.alert_only: test/e2e/alerts.e2e.test.ts (an alert-only contract is gated, planned, alerted on, and writes nothing).

  describe("monitoring.rollback", () => {
    const badRun = async (target: string): Promise<string> => {
      expect((await sync(target)).exitCode).toBe(0);
      await change("engagement_band = 'low'", "true");
      const bad = await sync(target, "--json", "--allow-large-change", "--reason", "test");
      expect(bad.exitCode, bad.stderr).toBe(0);
      return JSON.parse(bad.stdout).contracts[0].runId as string;
    };
    const rollback = (target: string, runId: string) => runCli(["rollback", ...connection, "--target-dir", target, "--contract", CONTRACT, "--run", runId], env());

    it("clear_fields empties the mapped fields of every record the run wrote, and pauses the contract", async () => {
      const target = await withContract((c) => (c.monitoring.rollback = "clear_fields"));
      const runId = await badRun(target);
      const run = await rollback(target, runId);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain("cleared the mapped fields of 16 records");
      for (const record of emulator.records("contacts")) {
        expect([record.properties.engagement_band ?? "", record.properties.firstname ?? ""]).toEqual(["", ""]);
        expect(record.properties.email).toBeTruthy();
      }
      expect((await sync(target)).stdout).toContain("rolled back run");
    });

    it("manual is refused with exit 2 and the reason, and nothing is written", async () => {
      const target = await withContract((c) => (c.monitoring.rollback = "manual"));
      const runId = await badRun(target);
      const calls = emulator.calls().length;
      const run = await rollback(target, runId);
      expect(run.exitCode).toBe(2);
      expect(run.stderr).toContain("declares monitoring.rollback: manual");
      expect(emulator.calls()).toHaveLength(calls);
      expect(contact(AMARA).engagement_band).toBe("low");
    });
  });

  describe("--allow-large-change and the generated change_limit test", () => {
    const held = () =>
      withContract(
        () => undefined,
        (r, m) => {
          const test = Object.values(m.nodes as Record<string, Json>).find((n) => n.test_metadata?.name === "change_limit" && n.attached_node === `model.activation_integration_tests.${CONTRACT}`);
          Object.assign(r.results.find((x: Json) => x.unique_id === test.unique_id), { status: "fail", failures: 16 });
        },
      );

    it("holds the contract without the override, passes it with a reason, and the run log records it", async () => {
      const target = await held();
      const without = await sync(target);
      expect(without.exitCode).toBe(3);
      expect(without.stdout).toMatch(/test activation_change_limit_\S+: fail \(16 failing rows\)/);
      expect(emulator.calls()).toEqual([]);

      const run = await sync(target, "--json", "--allow-large-change", "--reason", "quarterly re-score");
      expect(run.exitCode, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).contracts[0].overridden).toEqual([expect.stringMatching(/^gate: test activation_change_limit_\S+: fail \(16 failing rows\) \(allowed: quarterly re-score\)$/)]);
      expect(emulator.records("contacts")).toHaveLength(16);
      // The held run left a `gated` row; the run with the override is the one that wrote.
      const [log] = await engine.query(`select status, override_reason from ${engine.ledgerTable("activation_run_log")} where status <> 'gated'`);
      expect(log).toEqual({ status: "success", override_reason: expect.stringContaining("(allowed: quarterly re-score)") });
    });

    it("the override lets only the change_limit test through, not another failing test", async () => {
      const target = await withContract(
        () => undefined,
        (r, m) => {
          const test = Object.values(m.nodes as Record<string, Json>).find((n) => n.test_metadata?.name === "row_count" && n.attached_node === `model.activation_integration_tests.${CONTRACT}`);
          Object.assign(r.results.find((x: Json) => x.unique_id === test.unique_id), { status: "fail", failures: 1 });
        },
      );
      expect((await sync(target, "--allow-large-change", "--reason", "x")).exitCode).toBe(3);
      expect(emulator.calls()).toEqual([]);
    });
  });

  describe("contracts sync cannot act on fail alone, with the reason", () => {
    // Every type the contract schema admits has a destination (createDestination is exhaustive over it); a type it
    // does not admit is bad input: the run stops before any call, naming the file, contract and field.
    it("a destination type no destination implements stops the run before any call, named at the field", async () => {
      const target = await engine.copyArtifacts({
        manifest: (m) => {
          m.nodes[HEALTH_NODE].config.meta.activation[0].destination.type = "marketo";
        },
      });
      const run = await runCli([...syncArgs(target, ...engine.args)], env());
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/contract account_health_to_hubspot.*destination\.type.*hubspot.*salesforce.*braze.*zendesk/s);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(emulator.calls()).toEqual([]);
    });

    it("a seed, a snapshot, an ephemeral and a disabled model: each named with why, the other contracts synced", async () => {
      const target = await engine.copyArtifacts({
        manifest: (m) => {
          const contract = (name: string) => ({ ...structuredClone(m.nodes[MODEL_NODE].config.meta.activation[0]), name });
          const seed = m.nodes["seed.activation_integration_tests.contacts"];
          seed.config.meta = { activation: [contract("on_a_seed")] };
          m.nodes["snapshot.activation_integration_tests.contacts_snapshot"] = { ...structuredClone(seed), unique_id: "snapshot.activation_integration_tests.contacts_snapshot", resource_type: "snapshot", name: "contacts_snapshot", config: { meta: { activation: [contract("on_a_snapshot")] } } };
          m.nodes["model.activation_integration_tests.ephemeral_people"] = { ...structuredClone(m.nodes[MODEL_NODE]), unique_id: "model.activation_integration_tests.ephemeral_people", name: "ephemeral_people", relation_name: null, config: { materialized: "ephemeral", meta: { activation: [contract("on_an_ephemeral")] } } };
          m.disabled = { "model.activation_integration_tests.retired_people": [{ ...structuredClone(m.nodes[MODEL_NODE]), unique_id: "model.activation_integration_tests.retired_people", name: "retired_people", config: { enabled: false, meta: { activation: [contract("on_a_disabled")] } } }] };
        },
      });
      const run = await runCli([...syncArgs(target, ...engine.args), "--json"], env());
      expect(run.exitCode, run.stderr).toBe(2);
      const byName = Object.fromEntries(JSON.parse(run.stdout).contracts.map((c: Json) => [c.contract, c]));
      expect(byName.on_a_seed.reasons[0]).toContain("contacts is a seed: contracts are synced from models only");
      expect(byName.on_a_snapshot.reasons[0]).toContain("contacts_snapshot is a snapshot: contracts are synced from models only");
      expect(byName.on_an_ephemeral.reasons[0]).toContain("model ephemeral_people is ephemeral: dbt builds no relation");
      expect(byName.on_a_disabled.reasons[0]).toContain("model retired_people is disabled (enabled: false)");
      for (const name of ["on_a_seed", "on_a_snapshot", "on_an_ephemeral", "on_a_disabled"]) expect(byName[name].status).toBe("failed");
      expect(byName[CONTRACT].status).toBe("synced");

      const selected = await runCli([...syncArgs(target, "--select", "on_a_seed", ...engine.args)], env());
      expect(selected.exitCode).toBe(2);
      expect(selected.stdout).toContain("FAILED   on_a_seed");
    });
  });
});
