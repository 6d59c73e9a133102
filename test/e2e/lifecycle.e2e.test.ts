/**
 * The record lifecycle over many runs, through the real CLI on DuckDB and PostgreSQL against the HubSpot emulator:
 * permanent and transient dead letters (held back, backoff across runs, closed by a later write), replay as a sync of
 * today's rows, the pause rule over attempted rows, failures reported per contract, `status` over every contract,
 * and a seeded sequence of runs on changing data.
 */
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../emulators/random.ts";
import { formatText } from "../../src/report/format.ts";
import { integrationProject } from "../../scripts/dbt.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine, type Row } from "../support/engines.ts";
import { useHubSpotEmulator } from "../support/emulators.ts";

const TOKEN = "lifecycle-token";
const CONTRACT = "contact_engagement_to_hubspot";
const HEALTH = "account_health_to_hubspot";
const MODEL_NODE = "model.activation_integration_tests.contact_engagement";
const emulator = useHubSpotEmulator({ accessToken: TOKEN });

/** The upsert calls the emulator answered so far, and how many rows they carried. */
function upserts(): { calls: number; rows: number } {
  const calls = emulator.calls().filter((c) => c.path.endsWith("/batch/upsert"));
  return { calls: calls.length, rows: calls.reduce((n, c) => n + (c.inputs ?? 0), 0) };
}

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT, `${CONTRACT}__excluded`] });
  const model = (): string => engine.model(CONTRACT);
  function env(extra: Record<string, string> = {}): Record<string, string> {
    return { ...emulator.cliEnv(), ...engine.env(), USER: "lifecycle-tester", ...extra };
  }
  const connection = (): string[] => ["--project-dir", integrationProject, "--profiles-dir", integrationProject, ...engine.args];
  const sync = (target = engine.targetPath(), ...extra: string[]): string[] => syncArgs(target, "--select", CONTRACT, "--json", ...extra, ...engine.args);
  /** One sync of the contract: its JSON outcome, with the exit code. */
  async function syncOnce(extraEnv: Record<string, string> = {}, target?: string): Promise<{ exitCode: number; outcome: Row; stdout: string }> {
    const run = await runCli(sync(target), env(extraEnv));
    expect(run.stderr).not.toMatch(/\n\s+at /); // never a stack trace
    const report = JSON.parse(run.stdout) as { contracts: Row[] };
    return { exitCode: run.exitCode, outcome: report.contracts.find((c) => c.contract === CONTRACT)!, stdout: run.stdout };
  }
  const letters = (where = "true"): Promise<Row[]> =>
    engine.query(
      `select sync_key, failure_kind, error_code, row_hash, attempts, next_attempt_at, created_at, closed_at, close_reason
       from ${engine.ledgerTable("activation_dead_letters")} where ${where} order by created_at, sync_key`,
    );
  const openLetters = (): Promise<Row[]> => letters("closed_at is null");
  const contactFor = (email: string) => emulator.findByProperty("contacts", "email", email);
  const replay = (target = engine.targetPath(), json = true): Promise<Awaited<ReturnType<typeof runCli>>> =>
    runCli(["replay", ...connection(), "--target-dir", target, "--contract", CONTRACT, ...(json ? ["--json"] : [])], env());

  describe("a row the destination refuses permanently", () => {
    it("is dead-lettered once, not resent while unchanged (zero calls, no pause), resent once when edited, closed when fixed", async () => {
      const key = "zoe.kim@harborcoffee.com";
      await engine.mutate(`update ${model()} set plan_tier = 'platinum', _activation_row_hash = md5('bad-1') where email = '${key}'`);

      const first = await syncOnce();
      expect(first.exitCode).toBe(4);
      expect(first.outcome).toMatchObject({ status: "synced", result: "partial", counts: { created: 15, failed: 1, failedUnchanged: 0 } });
      expect(first.outcome.paused).toBeUndefined(); // 1 of 16 attempted: below the default minimum sample of 20
      const [letter] = await openLetters();
      expect(letter).toMatchObject({ sync_key: key, failure_kind: "permanent", error_code: "INVALID_OPTION", next_attempt_at: null });
      expect(Number(letter!.attempts)).toBe(1);

      // Runs 2 and 3: nothing changed, so nothing is sent, not even the preflight; the old failure pauses nothing.
      for (let run = 2; run <= 3; run += 1) {
        const before = emulator.calls().length;
        const again = await syncOnce();
        expect(emulator.calls().length).toBe(before);
        expect(again.exitCode).toBe(0);
        expect(again.outcome).toMatchObject({ result: "success", requests: 0, counts: { unchanged: 15, failedUnchanged: 1, failed: 0, created: 0 } });
      }
      const text = await runCli(syncArgs(engine.targetPath(), "--select", CONTRACT, ...engine.args), env());
      expect(text.stdout).toContain("1 held (failed permanently before, unchanged since)");

      // Edited but still invalid: sent exactly once, failing again (1 of 1 attempted does not pause either).
      await engine.mutate(`update ${model()} set job_title = 'Barista', _activation_row_hash = md5('bad-2') where email = '${key}'`);
      const before = upserts();
      const edited = await syncOnce();
      expect(upserts()).toEqual({ calls: before.calls + 1, rows: before.rows + 1 });
      expect(edited.outcome).toMatchObject({ result: "partial", counts: { failed: 1, unchanged: 15 } });
      expect(edited.outcome.paused).toBeUndefined();
      const open = await openLetters();
      expect(open).toHaveLength(1);
      expect(Number(open[0]!.attempts)).toBe(2);
      expect((await letters("closed_at is not null")).map((l) => l.close_reason)).toEqual(["superseded"]);
      const quiet = emulator.calls().length;
      await syncOnce();
      expect(emulator.calls().length).toBe(quiet);

      // Fixed: written, and its dead letter closes.
      await engine.mutate(`update ${model()} set plan_tier = 'growth', _activation_row_hash = md5('fixed') where email = '${key}'`);
      const fixed = await syncOnce();
      expect(fixed).toMatchObject({ exitCode: 0, outcome: { result: "success", counts: { created: 1, failed: 0 } } });
      expect(contactFor(key)?.properties).toMatchObject({ plan_tier: "growth", jobtitle: "Barista" });
      expect(await openLetters()).toEqual([]);
      expect((await letters()).map((l) => l.close_reason)).toEqual(["superseded", "written"]);
      const status = JSON.parse((await runCli(["status", ...connection(), "--target-dir", engine.targetPath(), "--json"], env())).stdout);
      expect(status.contracts.find((c: Row) => c.contract === CONTRACT)).toMatchObject({ paused: null, deadLettersPending: 0, ledgerRows: 16 });
    });
  });

  describe("a transient failure", () => {
    it("is retried on a later run after its backoff, not before, and closes when it lands", async () => {
      // Every write answers 429 (the preflight's reads do not): the batch stays throttled, nothing accepted, for the
      // throttle timeout (2 s here), and its rows become transient dead letters.
      const backoff = { DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS: "20000", DBT_ACTIVATION_THROTTLE_TIMEOUT_MS: "2000" };
      emulator.setFaults({ rateLimitRate: 1, pathPattern: "/batch/upsert$" });
      const first = await syncOnce(backoff);
      expect(first.exitCode).toBe(4);
      expect(first.outcome).toMatchObject({ result: "partial", counts: { failed: 16, created: 0 } });
      const open = await openLetters();
      expect(open).toHaveLength(16);
      for (const letter of open) {
        expect(letter).toMatchObject({ failure_kind: "transient", error_code: "RATE_LIMIT" });
        expect(Number(letter.attempts)).toBe(1);
        expect((letter.next_attempt_at as Date).getTime() - (letter.created_at as Date).getTime()).toBe(20_000);
      }
      emulator.setFaults({});

      // Before the backoff has passed: held back, zero calls.
      const calls = emulator.calls().length;
      const early = await syncOnce(backoff);
      expect(Date.now()).toBeLessThan((open[0]!.next_attempt_at as Date).getTime());
      expect(emulator.calls().length).toBe(calls);
      expect(early.outcome).toMatchObject({ counts: { retryLater: 16, created: 0, failed: 0 }, requests: 0 });

      // After it: sent, written, letters closed; then quiet again.
      const due = Math.max(...open.map((l) => (l.next_attempt_at as Date).getTime()));
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 500));
      const later = await syncOnce(backoff);
      expect(later).toMatchObject({ exitCode: 0, outcome: { result: "success", counts: { created: 16, retryLater: 0 } } });
      expect(emulator.records("contacts")).toHaveLength(16);
      expect(await openLetters()).toEqual([]);
      expect(new Set((await letters()).map((l) => l.close_reason))).toEqual(new Set(["written"]));
      const quiet = emulator.calls().length;
      await syncOnce(backoff);
      expect(emulator.calls().length).toBe(quiet);
    }, 120_000);
  });

  describe("replay", () => {
    const revoked = "amara.singh@fathomrobotics.ai";
    const changed = "zoe.kim@harborcoffee.com";

    async function failEverything(): Promise<void> {
      emulator.setFaults({ recordRejectRate: 1, seed: 3 });
      expect((await syncOnce()).outcome).toMatchObject({ counts: { failed: 16 } });
      emulator.setFaults({});
      expect(await openLetters()).toHaveLength(16);
    }

    it("re-reads today's rows: a key no longer eligible is not sent and its letter closes with the reason; a changed key sends today's values", async () => {
      await failEverything();
      // Consent withdrawn since: the row leaves the activation model and the excluded-rows model says why.
      await engine.mutate(`delete from ${model()} where email = '${revoked}'`);
      await engine.mutate(`insert into ${engine.model(`${CONTRACT}__excluded`)} (email, reasons) values ('${revoked}', 'no_consent')`);
      await engine.mutate(`update ${model()} set job_title = 'Head of Coffee', _activation_row_hash = md5('today') where email = '${changed}'`);

      const run = await replay();
      expect(run.exitCode, run.stderr).toBe(0);
      const [outcome] = JSON.parse(run.stdout).contracts;
      expect(outcome, JSON.stringify({ notEligible: outcome.notEligible, counts: outcome.counts, rejected: outcome.rejected })).toMatchObject({ status: "synced", result: "success", counts: { eligible: 15, created: 15, failed: 0 }, notEligible: [{ key: revoked, reason: "no_consent" }] });
      expect(upserts().rows).toBe(16 + 15);
      expect(contactFor(revoked)).toBeUndefined();
      expect(contactFor(changed)?.properties.jobtitle).toBe("Head of Coffee");
      expect(await openLetters()).toEqual([]);
      const [closed] = await letters(`sync_key = '${revoked}'`);
      expect(closed).toMatchObject({ close_reason: "not eligible: no_consent" });
      const text = await replay(engine.targetPath(), false);
      expect(text.stdout).toContain("replay of the dead letters of contact_engagement_to_hubspot");
      // Nothing left to replay, nothing changed: zero calls, from replay and from sync.
      const quiet = emulator.calls().length;
      expect((await syncOnce()).outcome).toMatchObject({ counts: { unchanged: 15 } });
      expect(emulator.calls().length).toBe(quiet);
      const runs = await engine.query(`select mode, status from ${engine.ledgerTable("activation_run_log")} order by started_at`);
      expect(runs.map((r) => r.status)).toEqual(["partial", "success", "success", "success"]);
    });

    it("sends nothing while the kill switch is thrown or when the current artifacts' gate fails", async () => {
      await failEverything();
      const calls = emulator.calls().length;
      expect((await runCli(["pause", ...connection(), "--contract", CONTRACT, "--reason", "looking into it"], env())).exitCode).toBe(0);
      const paused = await replay();
      expect(paused.exitCode).toBe(3);
      expect(JSON.parse(paused.stdout).contracts[0]).toMatchObject({ status: "skipped", reasons: [expect.stringContaining("looking into it")] });
      expect((await runCli(["resume", ...connection(), "--contract", CONTRACT], env())).exitCode).toBe(0);

      const broken = await engine.copyArtifacts({
        runResults: (r) => (r.results.find((x: { unique_id: string }) => x.unique_id === MODEL_NODE).status = "error"),
      });
      const gated = await replay(broken);
      expect(gated.exitCode).toBe(3);
      expect(JSON.parse(gated.stdout).contracts[0]).toMatchObject({ status: "skipped", gate: { passed: false } });
      expect(emulator.calls().length).toBe(calls);
      expect(await openLetters()).toHaveLength(16);
      const [log] = await engine.query(`select status, gate_passed, stop_reason from ${engine.ledgerTable("activation_run_log")} where status = 'gated'`);
      expect(log).toMatchObject({ status: "gated", gate_passed: false, stop_reason: expect.stringContaining("contact_engagement") });
    });
  });

  describe("the pause rule", () => {
    it("pauses a contract whose own min_attempted is met by enough failures, and says so instead of SYNCED", async () => {
      const target = await engine.copyArtifacts({
        manifest: (m) => (m.nodes[MODEL_NODE].config.meta.activation[0].monitoring.pause_if = { failed_rows_percent: 50, min_attempted: 4 }),
      });
      emulator.setFaults({ recordRejectRate: 0.75, seed: 7 });
      const run = await runCli(syncArgs(target, "--select", CONTRACT, ...engine.args), env());
      expect(run.exitCode).toBe(4);
      expect(run.stdout).toMatch(/PAUSED +contact_engagement_to_hubspot/);
      expect(run.stdout).not.toContain("SYNCED");
      expect(run.stdout).toMatch(/monitoring.pause_if: \d+ of 16 attempted rows failed/);
      expect(run.stdout).toMatch(/; \d+ rows failed; exit code 4/);
      // The kill switch (the controls table; DuckDB keeps it in side files next to the database) holds the contract.
      const status = JSON.parse((await runCli(["status", ...connection(), "--json"], env())).stdout);
      expect(status.paused).toEqual([expect.objectContaining({ contract: CONTRACT, actor: "dbt-activation", reason: expect.stringMatching(/^monitoring.pause_if: /) })]);
    });
  });

  describe("failures are reported, not crashed", () => {
    /**
     * Artifacts with a second contract that passes the gate beside contact_engagement_to_hubspot: the same model, to
     * HubSpot companies (matched by billing_customer_id), reading the model itself (no suppression to apply).
     */
    const SECOND = "contact_engagement_to_companies";
    const withSecondContract = () =>
      engine.copyArtifacts({
        manifest: (m) => {
          const contracts = m.nodes[MODEL_NODE].config.meta.activation;
          const { gates } = contracts[0];
          contracts.push({
            ...contracts[0],
            name: SECOND,
            destination: { type: "hubspot", object: "companies", match: { field: "billing_customer_id" }, mode: "upsert", on_removed: "keep" },
            fields: { first_name: "name" },
            suppression: { not_needed: "a second contract of the same model, for the failure test" },
            gates: { min_rows: gates.min_rows, match_rate_not_needed: gates.match_rate_not_needed },
          });
        },
      });

    it("a destination answering 5xx before the first write fails that contract clearly; the other contract still syncs", async () => {
      const target = await withSecondContract();
      emulator.setFaults({ serverErrorRate: 1, pathPattern: "/contacts" });
      const run = await runCli(syncArgs(target, "--select", CONTRACT, SECOND, "--json", ...engine.args), env());
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(run.exitCode, run.stderr).toBe(4);
      const report = JSON.parse(run.stdout);
      expect(report.exitCode).toBe(4);
      const byName = Object.fromEntries(report.contracts.map((c: Row) => [c.contract, c]));
      expect(byName[CONTRACT]).toMatchObject({ status: "failed", cause: "destination", reasons: [expect.stringMatching(/is not available: HubSpot 50[23]/)] });
      expect(byName[SECOND]).toMatchObject({ status: "synced", result: "success", counts: { created: 16 } });
      expect(emulator.records("companies")).toHaveLength(16);
      expect(emulator.records("contacts")).toEqual([]);
      const logs = await engine.query(`select contract_name, status, stop_reason from ${engine.ledgerTable("activation_run_log")} order by contract_name`);
      expect(logs).toEqual([
        { contract_name: SECOND, status: "success", stop_reason: null },
        { contract_name: CONTRACT, status: "failed", stop_reason: expect.stringMatching(/is not available/) },
      ]);
      // The same report as text: a clear line per contract, and the run's verdict.
      const text = formatText(report);
      expect(text).toMatch(/FAILED {3}contact_engagement_to_hubspot .*: the destination failed the run; nothing more was sent\n {9}hubspot contacts .*is not available: HubSpot 50[23]/);
      expect(text).toMatch(/SYNCED {3}contact_engagement_to_companies/);
      expect(text).toMatch(/1 synced, 0 skipped, 0 stopped, 1 failed; exit code 4$/);
    }, 300_000);

    it("status lists every contract: never run, and held by the gate with the reason", async () => {
      const before = JSON.parse((await runCli(["status", ...connection(), "--target-dir", engine.targetPath(), "--json"], env())).stdout);
      expect(before.contracts.map((c: Row) => [c.contract, c.lastRun])).toEqual([
        [HEALTH, null],
        ["contact_engagement_to_braze", null],
        [CONTRACT, null],
        ["contact_engagement_to_zendesk", null],
      ]);
      expect((await runCli(syncArgs(engine.targetPath(), ...engine.args), env())).exitCode).toBe(3);
      const after = await runCli(["status", ...connection(), "--target-dir", engine.targetPath()], env());
      expect(after.stdout).toMatch(/account_health_to_hubspot: active; last run held by the gate at .*: test not_null_account_health_domain: fail/);
      expect(after.stdout).toMatch(/contact_engagement_to_hubspot: active; last run success .*16 rows in the ledger; 0 records in dead letters/);
    });
  });

  describe("many runs on changing data", () => {
    it("after each of 10 seeded runs every eligible row is synced or dead-lettered with a reason, a rerun is silent, and reconcile agrees", async () => {
      const random = mulberry32(20261129);
      const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
      // The dbt invocation id rides along: a row added by hand still counts as built by the gated build.
      const columns = "email, first_name, last_name, job_title, plan_tier, engagement_band, scored_at, consent_updated_at, _activation_row_hash, _activation_invocation_id";
      const broken = new Set<string>();
      // Broken rows removed from the eligible set keep their open letter (nothing wrote them since).
      const removedBroken = new Set<string>();
      for (let run = 1; run <= 10; run += 1) {
        const keys = (await engine.query(`select email from ${model()} order by email`)).map((r) => String(r.email));
        for (let change = 0; change < 1 + Math.floor(random() * 3); change += 1) {
          const action = pick(["edit", "edit", "break", "fix", "remove", "add"] as const);
          const key = pick(keys);
          const hash = `md5('${key}-${run}-${change}')`;
          if (action === "edit") await engine.mutate(`update ${model()} set job_title = 'Title ${run}.${change}', _activation_row_hash = ${hash} where email = '${key}'`);
          if (action === "break") {
            await engine.mutate(`update ${model()} set plan_tier = 'platinum', _activation_row_hash = ${hash} where email = '${key}'`);
            broken.add(key);
          }
          if (action === "fix" && broken.size > 0) {
            const fix = pick([...broken]);
            await engine.mutate(`update ${model()} set plan_tier = 'starter', _activation_row_hash = md5('${fix}-fixed-${run}') where email = '${fix}'`);
            broken.delete(fix);
          }
          if (action === "remove" && keys.length > 8) {
            await engine.mutate(`delete from ${model()} where email = '${key}'`);
            keys.splice(keys.indexOf(key), 1);
            if (broken.delete(key)) removedBroken.add(key);
          }
          if (action === "add") {
            const added = `new.${run}.${change}@example.com`;
            await engine.mutate(
              `insert into ${model()} (${columns}) select '${added}', first_name, last_name, job_title, 'growth', engagement_band, scored_at, consent_updated_at, md5('${added}'), _activation_invocation_id from ${model()} where email = '${key}'`,
            );
          }
        }

        const result = await syncOnce();
        const c = result.outcome.counts as Record<string, number>;
        // Every eligible row in exactly one class.
        expect(c.created! + c.updated! + c.unchanged! + c.failed! + c.failedUnchanged! + c.retryLater! + c.skipped! + c.notSent!, `run ${run}`).toBe(c.eligible);
        expect(result.outcome.paused, `run ${run}`).toBeUndefined();

        // Each eligible row is in the ledger with today's hash, or has one open dead letter with a reason for today's hash.
        const states = await engine.query(
          `select m.email, m._activation_row_hash as hash, l.row_hash as ledger_hash, d.row_hash as letter_hash, d.error_code, d.failure_kind
           from ${model()} as m
           left join ${engine.ledgerTable("activation_ledger")} as l on l.contract_name = '${CONTRACT}' and l.sync_key = m.email and l.status = 'synced'
           left join ${engine.ledgerTable("activation_dead_letters")} as d on d.contract_name = '${CONTRACT}' and d.sync_key = m.email and d.closed_at is null
           order by m.email`,
        );
        expect(states.length, `run ${run}`).toBe(c.eligible);
        for (const s of states) {
          const synced = s.ledger_hash === s.hash && s.letter_hash === null;
          const dead = s.letter_hash === s.hash && s.error_code === "INVALID_OPTION" && s.failure_kind === "permanent";
          expect(synced || dead, `run ${run}: ${String(s.email)} ${JSON.stringify(s)}`).toBe(true);
          expect(dead, `run ${run}: ${String(s.email)}`).toBe(broken.has(String(s.email)));
        }
        // No key was written to two records.
        expect(emulator.records("contacts").length).toBe(
          Number((await engine.query(`select count(*) as n from ${engine.ledgerTable("activation_ledger")} where contract_name = '${CONTRACT}'`))[0]!.n),
        );

        // A rerun with nothing changed: zero calls, whatever dead letters exist.
        const calls = emulator.calls().length;
        const rerun = await syncOnce();
        expect(emulator.calls().length, `run ${run} rerun`).toBe(calls);
        expect(rerun.outcome.counts, `run ${run} rerun`).toMatchObject({ created: 0, updated: 0, failed: 0, failedUnchanged: broken.size });

        // Reconcile: only the dead-lettered records, counted once each.
        const reconcile = await runCli(["reconcile", ...connection(), "--target-dir", engine.targetPath(), "--contract", CONTRACT, "--json"], env());
        const counts = JSON.parse(reconcile.stdout).counts;
        expect(counts, `run ${run} reconcile`).toEqual({ missing_in_destination: 0, value_mismatch: 0, stale: 0, suppressed_but_present: 0, consent_revoked_but_present: 0, in_dead_letters: broken.size + removedBroken.size });
      }
      expect(broken.size + upserts().calls).toBeGreaterThan(0);
    }, 600_000);
  });
});
