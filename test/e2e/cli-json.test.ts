/**
 * Machine-readable everywhere: `--json` on every command prints one JSON document on stdout (results, and errors of
 * every kind: usage, bad input, internal), and `--log-format json` turns the log lines on stderr into JSON objects.
 * In-process through `main` where the command ends by itself, as a child process for the long-running emulator.
 */
import type { Command } from "commander";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { integrationProject, repoRoot } from "../../scripts/dbt.ts";
import { COMMANDS, main } from "../../src/cli/main.ts";
import type { CommandContext } from "../../src/cli/io.ts";
import { freshDuckdb, integrationBuild, startCli } from "../support/cli.ts";

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], env: Record<string, string> = {}, extra: ((program: Command, context: CommandContext) => void)[] = []): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t), env: { USER: "json-tester", ...env }, cwd: repoRoot, stderrIsTty: false };
  const exitCode = await main(argv, io, [...COMMANDS, ...extra]);
  return { exitCode, stdout, stderr };
}

const connection = ["--project-dir", integrationProject, "--profiles-dir", integrationProject];

describe("--json on every command", () => {
  it("pause, resume and status answer in JSON", async () => {
    const env = { ACTIVATION_DUCKDB_PATH: await freshDuckdb() };
    const paused = await run(["pause", ...connection, "--contract", "contact_engagement_to_hubspot", "--reason", "checking scores", "--json"], env);
    expect(paused.exitCode, paused.stderr).toBe(0);
    expect(JSON.parse(paused.stdout)).toEqual({ contract: "contact_engagement_to_hubspot", paused: true, reason: "checking scores", actor: "json-tester", exitCode: 0 });
    const status = await run(["status", ...connection, "--json"], env);
    expect(JSON.parse(status.stdout).paused).toEqual([expect.objectContaining({ contract: "contact_engagement_to_hubspot", reason: "checking scores" })]);
    const resumed = await run(["resume", ...connection, "--all", "--json"], env);
    expect(JSON.parse(resumed.stdout)).toEqual({ contract: "*", paused: false, reason: null, actor: "json-tester", exitCode: 0 });
    // A refused flag combination is a JSON error too.
    const both = await run(["resume", ...connection, "--all", "--contract", "x", "--json"], env);
    expect(both.exitCode).toBe(2);
    expect(JSON.parse(both.stdout)).toEqual({ error: { kind: "bad_input", message: "name one --contract, or --all", details: [] }, exitCode: 2 });
  });

  it("export prints documents per contract, or the files written", async () => {
    const cards = await run(["export", "runbook", "--project-dir", integrationProject, "--target-dir", integrationBuild().targetPath, "--json"]);
    expect(cards.exitCode, cards.stderr).toBe(0);
    const doc = JSON.parse(cards.stdout);
    expect(doc.format).toBe("runbook");
    const byContract = new Map<string, string>(doc.documents.map((d: { contract: string; text: string }) => [d.contract, d.text]));
    expect([...byContract.keys()].sort()).toEqual(["account_health_to_hubspot", "contact_engagement_to_braze", "contact_engagement_to_hubspot", "contact_engagement_to_zendesk"]);
    expect(byContract.get("contact_engagement_to_hubspot")).toMatch(/^# Runbook: contact_engagement_to_hubspot\n/);
    const dbml = JSON.parse((await run(["export", "dbml", "--project-dir", integrationProject, "--contract", "account_health_to_hubspot", "--json"])).stdout);
    expect(dbml.documents[0]).toMatchObject({ contract: "account_health_to_hubspot", text: expect.stringContaining("Table") });
    const dir = await mkdtemp(join(inject("scratchRoot"), "json-export-"));
    const written = await run(["export", "card", "--project-dir", integrationProject, "--out-dir", dir, "--json"]);
    expect(JSON.parse(written.stdout).written.sort()).toEqual(
      ["account_health_to_hubspot", "contact_engagement_to_braze", "contact_engagement_to_hubspot", "contact_engagement_to_zendesk"].map((c) => join(dir, `${c}.md`)),
    );
  });

  it("emulate prints one JSON line with the URL and the environment once listening", async () => {
    const child = startCli(["emulate", "hubspot", "--token", "t0k", "--json"]);
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout!.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
        child.once("exit", () => reject(new Error(`emulate exited before printing: ${out}`)));
      });
      const ready = JSON.parse(line);
      expect(ready).toMatchObject({ destination: "hubspot", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), env: { HUBSPOT_ACCESS_TOKEN: "t0k" } });
      expect(ready.env.HUBSPOT_BASE_PATH).toBe(ready.url);
      const answer = await fetch(`${ready.url}/crm/v3/properties/contacts`, { headers: { authorization: "Bearer t0k" } });
      expect(answer.status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      await child;
    }
  });

  it("errors of every kind are one JSON object on stdout: usage, bad input, internal (the stack only on stderr)", async () => {
    const usage = await run(["sync", "--no-such-flag", "--json"]);
    expect(usage.exitCode).toBe(2);
    expect(JSON.parse(usage.stdout)).toMatchObject({ error: { kind: "usage" }, exitCode: 2 });

    const bad = await run(["validate", "--project-dir", join(repoRoot, "nowhere"), "--json"]);
    expect(bad.exitCode).toBe(2);
    expect(JSON.parse(bad.stdout).error.kind).toBe("bad_input");

    const boom = (program: Command, { setJson }: CommandContext): void => {
      program
        .command("boom")
        .option("--json")
        .action((opts: { json?: boolean }) => {
          setJson(Boolean(opts.json));
          throw new TypeError("cannot read properties of undefined (reading 'rows')");
        });
    };
    const internal = await run(["boom", "--json"], {}, [boom]);
    expect(internal.exitCode).toBe(1);
    expect(JSON.parse(internal.stdout)).toEqual({ error: { kind: "internal", message: "cannot read properties of undefined (reading 'rows')" }, exitCode: 1 });
    expect(internal.stderr).toMatch(/^internal error: TypeError: cannot read properties .*\n\s+at /);
    const text = await run(["boom"], {}, [boom]);
    expect([text.exitCode, text.stdout]).toEqual([1, ""]);
  });
});

describe("--log-format json", () => {
  it("writes each log line as a JSON object, before or after the command, and refuses an unknown format", async () => {
    const dir = await mkdtemp(join(inject("scratchRoot"), "json-log-"));
    for (const argv of [
      ["--log-format", "json", "export", "runbook", "--project-dir", integrationProject, "--out-dir", dir],
      ["export", "runbook", "--project-dir", integrationProject, "--out-dir", dir, "--log-format=json"],
    ]) {
      const logged = await run(argv);
      expect(logged.exitCode, logged.stderr).toBe(0);
      const lines = logged.stderr.trim().split("\n").map((l) => JSON.parse(l));
      expect(lines).toHaveLength(4); // one "wrote" line per contract
      expect(lines).toContainEqual({ ts: expect.any(String), level: "info", msg: `wrote ${join(dir, "account_health_to_hubspot.md")}`, path: join(dir, "account_health_to_hubspot.md"), contract: "account_health_to_hubspot" });
      expect(lines).toContainEqual(expect.objectContaining({ msg: `wrote ${join(dir, "contact_engagement_to_hubspot.md")}` }));
    }
    const fromEnv = await run(["export", "runbook", "--project-dir", integrationProject, "--out-dir", dir], { DBT_ACTIVATION_LOG_FORMAT: "json" });
    expect(JSON.parse(fromEnv.stderr.split("\n")[0]!).level).toBe("info");
    const text = await run(["export", "runbook", "--project-dir", integrationProject, "--out-dir", dir]);
    expect(text.stderr).toContain(`wrote ${join(dir, "account_health_to_hubspot.md")}\n`);
    expect(() => JSON.parse(text.stderr.split("\n")[0]!)).toThrow();
    const unknown = await run(["--log-format", "yaml", "status", "--json"]);
    expect(unknown.exitCode).toBe(2);
    expect(JSON.parse(unknown.stdout).error.message).toBe("--log-format yaml: expected text or json");
  });
});
