/**
 * Progress (src/cli/progress.ts): the same numbers as log lines (no terminal) and as a live cli-progress bar (a
 * terminal), silence under --quiet; and through the real CLI, progress on stderr only, JSON lines with
 * --log-format json, a clean JSON report on stdout.
 */
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProgress, progressNumbers } from "../../src/cli/progress.ts";
import type { SendSummary } from "../../src/engine/send.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { freshDuckdb, integrationBuild, runCli, syncArgs } from "../support/cli.ts";

const summary = (s: Partial<SendSummary>): SendSummary => ({ created: 0, updated: 0, failed: 0, notSent: 0, failures: [], requests: 0, retries: 0, throttled: 0, bulk: false, ...s });

describe("progress numbers", () => {
  it("count rows done of the plan's total, the rate since the contract began, and the time left at that rate", () => {
    expect(progressNumbers("c", 1000, summary({ created: 150, updated: 50, failed: 50, requests: 3 }), 10_000)).toEqual({
      contract: "c", done: 250, total: 1000, percent: 25, rate: 25, etaSeconds: 30, failed: 50, requests: 3, retries: 0,
    });
    // Rows given up as not sent are done, never counted as sent; before the first answer there is no ETA.
    expect(progressNumbers("c", 10, summary({ notSent: 10 }), 0)).toMatchObject({ done: 10, percent: 100, rate: 0, etaSeconds: null });
  });
});

describe("progress display", () => {
  it("logs a line per interval with the numbers, and a last line at the end", () => {
    let clock = 0;
    const lines: { msg: string; fields: Record<string, unknown> }[] = [];
    const progress = createProgress({ mode: "lines", everyMs: 5_000, now: () => clock, log: (msg, fields = {}) => lines.push({ msg, fields }) });
    progress.start("scores", 1000);
    clock = 1_000;
    progress.update("scores", summary({ created: 100, requests: 1 }));
    clock = 2_000;
    progress.update("scores", summary({ created: 200, requests: 2 })); // within the interval: no line
    clock = 8_000;
    progress.update("scores", summary({ created: 800, requests: 8, retries: 1 }));
    clock = 10_000;
    progress.update("scores", summary({ created: 1000, requests: 10, retries: 1 }));
    progress.stop();
    expect(lines.map((l) => l.msg)).toEqual([
      "scores: 100/1000 rows (10%), 100 rec/s, ETA 9s, 0 failed, 1 requests",
      "scores: 800/1000 rows (80%), 100 rec/s, ETA 2s, 0 failed, 8 requests, 1 retries",
      "scores: 1000/1000 rows (100%), 100 rec/s, ETA 0s, 0 failed, 10 requests, 1 retries",
    ]);
    expect(lines[0]!.fields).toMatchObject({ event: "progress", contract: "scores", done: 100, total: 1000, percent: 10, rate: 100, etaSeconds: 9 });
  });

  it("draws a live bar per contract on a terminal, and nothing under --quiet", async () => {
    const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
    let drawn = "";
    terminal.on("data", (chunk: Buffer) => (drawn += chunk.toString()));
    const logged: string[] = [];
    const progress = createProgress({ mode: "bar", stream: terminal, log: (m) => logged.push(m) });
    progress.start("scores_to_hubspot", 400);
    progress.update("scores_to_hubspot", summary({ created: 100, failed: 2 }));
    progress.start("health_to_hubspot", 50);
    progress.update("health_to_hubspot", summary({ created: 50 }));
    progress.stop();
    await new Promise((r) => setImmediate(r));
    expect(drawn).toMatch(/scores_to_hubspot \[[█░=-]+\] 25% \| 102\/400 rows \| [\d.]+ rec\/s \| ETA \S+ \| 2 failed/);
    expect(drawn).toMatch(/health_to_hubspot \[[█░=-]+\] 100% \| 50\/50 rows/);
    expect(logged).toEqual([]);

    const quiet: string[] = [];
    const none = createProgress({ mode: "none", log: (m) => quiet.push(m) });
    none.start("scores", 10);
    none.update("scores", summary({ created: 10 }));
    none.stop();
    expect(quiet).toEqual([]);
  });
});

describe("progress through the CLI", () => {
  const TOKEN = "progress-token";
  let emulator: HubSpotEmulator;
  beforeAll(async () => {
    emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
  });
  afterAll(async () => {
    await emulator.close();
  });

  it("goes to stderr as lines (JSON with --log-format json), never into the --json report, and --quiet silences it", async () => {
    const env = async () => ({ HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url, ACTIVATION_DUCKDB_PATH: await freshDuckdb(), DBT_ACTIVATION_PROGRESS_INTERVAL_MS: "0" });
    const args = syncArgs(integrationBuild().targetPath, "--select", "contact_engagement_to_hubspot", "--json");
    const run = await runCli([...args, "--log-format", "json"], await env());
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const rows = report.contracts[0].counts.created;
    const progress = run.stderr.trim().split("\n").map((l) => JSON.parse(l)).filter((l) => l.event === "progress");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ level: "info", contract: "contact_engagement_to_hubspot", done: rows, total: rows, percent: 100, msg: expect.stringMatching(/^contact_engagement_to_hubspot: \d+\/\d+ rows \(100%\)/) });

    emulator.reset();
    const text = await runCli(args, await env());
    expect(text.stderr).toMatch(new RegExp(`^contact_engagement_to_hubspot: ${rows}/${rows} rows \\(100%\\), [\\d.]+ rec/s, ETA 0s, 0 failed, \\d+ requests$`, "m"));
    expect(() => JSON.parse(text.stdout)).not.toThrow();

    emulator.reset();
    const quiet = await runCli([...args, "--quiet"], await env());
    expect(quiet.exitCode).toBe(0);
    expect(quiet.stderr).not.toContain("rows (");
  });
});
