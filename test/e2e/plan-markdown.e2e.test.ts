/**
 * `plan --markdown`: a pull request's build (its rows changed) diffed against the production ledger, written as
 * Markdown for a pull-request comment: counts per class, which fields the updates change and how many rows each,
 * how many removals are clears / deletes / unlists / keeps, the gates, samples without the values of sensitive
 * columns. Through the real CLI on DuckDB and PostgreSQL; the plan never calls the destination.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { integrationProject } from "../../scripts/dbt.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";

const TOKEN = "markdown-token";
const CONTRACT = "contact_engagement_to_hubspot";
const EXCLUDED = `${CONTRACT}__excluded`;
const NODE = "model.activation_integration_tests.contact_engagement";
let hubspot: HubSpotEmulator;
beforeAll(async () => {
  hubspot = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
});
afterAll(async () => {
  await hubspot.close();
});

describe.each(ENGINES)("plan --markdown on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT, EXCLUDED] });
  const model = (): string => engine.model(CONTRACT);

  it("summarises what the PR's rows would do against the production ledger: fields changing, removals per action, sensitive values redacted", async () => {
    const env = { ...engine.env(), HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: hubspot.url };
    // Production: synced once, so the ledger knows every key and what was sent for it.
    const prod = await runCli(syncArgs(engine.targetPath(), "--select", CONTRACT, ...engine.args), env);
    expect(prod.exitCode, prod.stderr).toBe(0);
    const all = (await engine.query(`select email from ${model()} order by email`)).map((r) => String(r.email));
    const full = (await engine.query(`select email from ${model()} where first_name is not null and job_title is not null and plan_tier is not null order by email`)).map((r) => String(r.email));
    const [twoA, twoB, oneA, oneB, hashOnly, revoked, left] = full;
    expect(left, "the fixture has 7 complete rows").toBeDefined();
    const firstNames = (await engine.query(`select first_name from ${model()} where first_name is not null`)).map((r) => String(r.first_name));

    // The PR's build: two fields (first_name, sensitive, and job_title) change on two rows, one field (plan_tier)
    // on two others, one row changes its hash and nothing sent; one row's consent is withdrawn and another merely
    // leaves the model. Every changed row gets a new row hash, as the activation model would compute.
    const rehash = (emails: (string | undefined)[]): string => `_activation_row_hash = 'pr-' || email where email in (${emails.map((e) => `'${e}'`).join(", ")})`;
    await engine.mutate(`update ${model()} set first_name = first_name || 'Pr', job_title = 'Chief PR Reviewer', ${rehash([twoA, twoB])}`);
    await engine.mutate(`update ${model()} set plan_tier = case when plan_tier = 'starter' then 'growth' else 'starter' end, ${rehash([oneA, oneB])}`);
    await engine.mutate(`update ${model()} set ${rehash([hashOnly])}`);
    await engine.mutate(`delete from ${model()} where email in ('${revoked}', '${left}')`);
    await engine.mutate(`insert into ${engine.model(EXCLUDED)} (email, reasons) values ('${revoked}', 'no_consent'), ('${left}', 'held_for_review')`);
    const newNames = (await engine.query(`select first_name from ${model()} where email in ('${twoA}', '${twoB}')`)).map((r) => String(r.first_name));

    // email (the key) marked sensitive in meta, first_name tagged pii.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite the manifest JSON freely
    const sensitive = (m: Record<string, any>): void => {
      const node = m.nodes[NODE];
      node.columns.email = { ...(node.columns.email ?? { name: "email" }), meta: { sensitive: true } };
      node.columns.first_name = { ...(node.columns.first_name ?? { name: "first_name" }), config: { meta: {}, tags: ["pii"] } };
    };
    const target = await engine.copyArtifacts({ manifest: sensitive });
    const plan = (...extra: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> =>
      runCli(["plan", "--project-dir", integrationProject, "--profiles-dir", integrationProject, "--target-path", target, "--select", CONTRACT, ...engine.args, ...extra], env);
    const file = join(await mkdtemp(join(inject("scratchRoot"), "md-")), "summary.md");
    const calls = hubspot.calls().length;

    const fieldChanges = { firstname: 2, jobtitle: 2, plan_tier: 2 };
    const json = await plan("--json");
    expect(json.exitCode, json.stderr).toBe(0);
    const outcome = (JSON.parse(json.stdout) as { contracts: Record<string, unknown>[] }).contracts[0]!;
    expect(outcome).toMatchObject({ status: "planned", plan: { eligible: all.length - 2, create: 0, update: 5, unchanged: all.length - 7, removed: 2, removable: 1 } });
    expect(outcome.fieldChanges).toEqual(fieldChanges);
    expect(outcome.removals).toEqual({ clear: 1, skip: 1 });

    const text = await plan();
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toContain("fields changing: firstname 2, jobtitle 2, plan_tier 2");
    expect(text.stdout).toContain("removed: 1 cleared, 1 kept (on_removed: keep)");
    // The text and JSON reports show samples too: the same redaction (no key, no value of a sensitive column).
    for (const printed of [json.stdout, text.stdout]) {
      expect(printed).toContain("‹redacted›");
      // (The test's stand-in row hashes are 'pr-' || email; a real row hash is a digest.)
      for (const email of all) expect(printed.split("\n").filter((l) => l.includes(email) && !l.includes('"hash"'))).toEqual([]);
      for (const name of newNames) expect(printed).not.toContain(name);
    }

    const md = await plan("--markdown", file).then(async (r) => {
      expect(r.exitCode, r.stderr).toBe(0);
      return readFile(file, "utf8");
    });
    expect(md).toContain("## dbt-activation plan");
    expect(md).toContain(`### \`${CONTRACT}\` → hubspot contacts`);
    expect(md).toContain(`| ${all.length - 2} | 0 | 5 | ${all.length - 7} | 2 → 1 cleared, 1 kept (on_removed: keep) |`);
    expect(md).toContain("- fields changing: `firstname` 2, `jobtitle` 2, `plan_tier` 2");
    expect(md).toContain("✅ every gate would hold");
    expect(md).toMatch(/5 sample record\(s\)/);
    expect(md).toMatch(/\| update \| ‹redacted› \| ‹redacted› \|/);
    // The sensitive field is named, never its values (old or new), nor the sensitive key.
    for (const email of all) expect(md).not.toContain(email);
    for (const name of [...firstNames, ...newNames]) expect(md).not.toContain(`| ${name} |`);
    for (const name of newNames) expect(md).not.toContain(name);
    expect(md).toContain("Chief PR Reviewer");
    expect(md).not.toContain(TOKEN);

    // Another contract version: other removals delete, a withdrawn consent is kept (and recorded) with a reason.
    const keeping = await engine.copyArtifacts({
      manifest: (m) => {
        sensitive(m);
        const contract = m.nodes[NODE].config.meta.activation[0];
        contract.destination.on_removed = "delete";
        contract.suppression.on_removed = { consent: "keep", reason: "legal hold: the CRM keeps the last values" };
      },
    });
    const again = await runCli(["plan", "--project-dir", integrationProject, "--profiles-dir", integrationProject, "--target-path", keeping, "--select", CONTRACT, ...engine.args, "--markdown", file, "--json"], env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { contracts: Record<string, unknown>[] }).contracts[0]).toMatchObject({ fieldChanges, removals: { delete: 1, keep: 1 } });
    const both = await readFile(file, "utf8");
    // Appended, as GitHub's step summary file is written by every step.
    expect(both.split("## dbt-activation plan")).toHaveLength(3);
    expect(both).toContain("2 → 1 deleted, 1 kept and recorded (suppression.on_removed: keep) |");

    // A plan writes nothing: no call reached the destination, and the ledger is as the production sync left it.
    expect(hubspot.calls().length).toBe(calls);
    const [ledger] = await engine.query(`select count(*) as n, count(distinct run_id) as runs from ${engine.ledgerTable("activation_ledger")} where status = 'synced'`);
    expect(ledger).toEqual({ n: BigInt(all.length), runs: 1n });
  }, 240_000);
});
