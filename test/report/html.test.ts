/**
 * The HTML run report, end to end on DuckDB and PostgreSQL: `sync --report` after syncs against a HubSpot emulator
 * that refuses some rows and answers some requests 429, and `report` over the run log; each file opened in headless
 * Chromium, which must lay out every chart (the page marks each chart whose marks have a size), with nothing fetched.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { integrationProject } from "../../scripts/dbt.ts";
import { renderedDom, screenshot } from "../support/chromium.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";

const TOKEN = "report-token";
let emulator: HubSpotEmulator;
beforeAll(async () => {
  emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, faults: { recordRejectRate: 0.2, rateLimitRate: 0.3, seed: 7 } });
});
afterAll(async () => {
  await emulator.close();
});

function chartsIn(html: string): number {
  return (html.match(/<svg class="chart"/g) ?? []).length;
}

/** Every chart of the file laid out in Chromium with a visible size. */
async function expectChartsRendered(file: string): Promise<string> {
  const html = await readFile(file, "utf8");
  const dom = await renderedDom(file);
  const charts = chartsIn(html);
  expect(charts).toBeGreaterThan(0);
  expect(dom).toContain(`data-charts-rendered="${charts}"`);
  expect((dom.match(/data-rendered="\d+x\d+"/g) ?? []).length).toBe(charts);
  // Self-contained: nothing to fetch (no external script, style, image or font).
  expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
  expect(html).not.toMatch(/url\(\s*['"]?https?:/);
  return dom;
}

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: ["contact_engagement_to_hubspot"] });
  const env = () => ({ HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url, ...engine.env() });

  it("sync --report and report render the gate, rows, failures by reason, requests over time, throughput and history", async () => {
    emulator.reset();
    const dir = await mkdtemp(join(inject("scratchRoot"), "report-"));
    const first = join(dir, "first.html");
    // The contract's pause rule (5 %) would hold it after this many rejections: loosen it for the second run.
    const target = await engine.copyArtifacts({ manifest: (m) => (m.nodes["model.activation_integration_tests.contact_engagement"].config.meta.activation[0].monitoring.pause_if = { failed_rows_percent: 100 }) });
    const run1 = await runCli([...syncArgs(target, "--json", "--report", first), ...engine.args], env());
    expect([3, 4], run1.stderr).toContain(run1.exitCode);
    const outcome = JSON.parse(run1.stdout).contracts.find((c: { contract: string }) => c.contract === "contact_engagement_to_hubspot");
    expect(outcome.counts.failed).toBeGreaterThan(0);
    expect(run1.stderr).toContain(`wrote the run report ${first}`);

    const html = await readFile(first, "utf8");
    expect(html).toContain("account_health_to_hubspot <span class=\"status skipped\">skipped</span>");
    expect(html).toContain("test not_null_account_health_domain: fail (1 failing row)");
    expect(html).toContain(`Rows per class (${outcome.counts.eligible} eligible)`);
    expect(html).toContain(`<tr><td>INJECTED_REJECTION</td><td>${outcome.counts.failed}</td>`);
    expect(html).toContain("Requests, retries and 429s over time");
    expect(html).toContain("against the limit of 10/s");
    expect(html).toMatch(new RegExp(`${outcome.requests} requests, ${outcome.retries} retries, \\d+ answered 429 while sending`));
    await expectChartsRendered(first);

    // A second run: nothing left to send but the failed rows; the history now has two runs.
    const run2 = await runCli([...syncArgs(target, "--select", "contact_engagement_to_hubspot", "--allow-large-change", "--reason", "resend", "--report", join(dir, "second.html")), ...engine.args], env());
    expect(run2.stderr).toContain("wrote the run report");

    const past = join(dir, "past.html");
    const connection = ["--project-dir", integrationProject, "--profiles-dir", integrationProject, ...engine.args];
    const report = await runCli(["report", ...connection, "--out", past, "--last", "5", "--json"], env());
    expect(report.exitCode, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout)).toEqual({ path: past, contracts: 2, exitCode: 0 }); // the synced contract, and the gate-held one's run rows
    const pastHtml = await readFile(past, "utf8");
    expect(pastHtml).toContain("Run history (last 2 runs, oldest left)");
    expect(pastHtml).toContain(outcome.runId);
    await expectChartsRendered(past);

    const one = join(dir, "one.html");
    expect((await runCli(["report", ...connection, "--out", one, "--run", outcome.runId], env())).exitCode).toBe(0);
    const oneHtml = await readFile(one, "utf8");
    expect(oneHtml).toContain(`run ${outcome.runId}, started`);
    expect(oneHtml).toContain(`<tr><td>INJECTED_REJECTION</td><td>${outcome.counts.failed}</td>`);
    await expectChartsRendered(one);

    if (engineName === "duckdb" && process.env.ACTIVATION_REPORT_SCREENSHOT) await screenshot(first, process.env.ACTIVATION_REPORT_SCREENSHOT);
  });
});
