/**
 * `plan --markdown`: a pull request's build (its rows changed) diffed against the production ledger, written as
 * Markdown for a pull-request comment: counts per class, what removal does, the gates, samples without the values
 * of sensitive columns.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { mkdtemp } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { integrationEngine } from "../support/engines.ts";

const TOKEN = "markdown-token";
const CONTRACT = "contact_engagement_to_hubspot";
let hubspot: HubSpotEmulator;
beforeAll(async () => {
  hubspot = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
});
afterAll(async () => {
  await hubspot.close();
});

describe("plan --markdown on duckdb", () => {
  const engine = integrationEngine("duckdb");

  it("summarises what the PR's rows would do against the production ledger, with sensitive values redacted", async () => {
    const env = { ...engine.env(), HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: hubspot.url };
    // Production: synced once, so the ledger knows every key.
    const prod = await runCli(syncArgs(engine.targetPath(), "--select", CONTRACT), env);
    expect(prod.exitCode, prod.stderr).toBe(0);
    const emails = (await engine.query(`select email from ${engine.model(CONTRACT)} order by email`)).map((r) => String(r.email));

    // The PR's build: two rows change their band (and so the row hash the activation model computes), one row leaves; first_name and the key (email) are marked sensitive.
    await engine.mutate(`update ${engine.model(CONTRACT)} set engagement_band = case when engagement_band = 'high' then 'low' else 'high' end, _activation_row_hash = 'pr-' || email where email in ('${emails[0]}', '${emails[1]}')`);
    await engine.mutate(`delete from ${engine.model(CONTRACT)} where email = '${emails[2]}'`);
    const target = await engine.copyArtifacts({
      manifest: (m) => {
        const node = m.nodes["model.activation_integration_tests.contact_engagement"];
        node.columns.email = { ...(node.columns.email ?? { name: "email" }), meta: { sensitive: true } };
        node.columns.first_name = { ...(node.columns.first_name ?? { name: "first_name" }), config: { meta: {}, tags: ["pii"] } };
      },
    });
    const file = join(await mkdtemp(join(inject("scratchRoot"), "md-")), "summary.md");
    const calls = hubspot.calls().length;
    const plan = await runCli(["plan", "--project-dir", "integration_tests", "--profiles-dir", "integration_tests", "--target-path", target, "--select", CONTRACT, "--markdown", file], env);
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(hubspot.calls().length).toBe(calls);
    const md = await readFile(file, "utf8");
    expect(md).toContain("## dbt-activation plan");
    expect(md).toContain(`### \`${CONTRACT}\` → hubspot contacts`);
    expect(md).toContain(`| ${emails.length - 1} | 0 | 2 | ${emails.length - 3} | 1 → kept (on_removed: keep) |`);
    expect(md).toContain("✅ every gate would hold");
    expect(md).toMatch(/2 sample record\(s\)/);
    expect(md).toMatch(/\| update \| ‹redacted› \| ‹redacted› \|/);
    for (const email of emails) expect(md).not.toContain(email);
    const names = (await engine.query(`select first_name from ${engine.model(CONTRACT)} where first_name is not null`)).map((r) => String(r.first_name));
    for (const name of names) expect(md).not.toContain(`| ${name} |`);
    expect(md).not.toContain(TOKEN);
    // Appended, as GitHub's step summary file is written by every step.
    await runCli(["plan", "--project-dir", "integration_tests", "--profiles-dir", "integration_tests", "--target-path", target, "--select", CONTRACT, "--markdown", file], env);
    expect((await readFile(file, "utf8")).split("## dbt-activation plan")).toHaveLength(3);
  });
});
