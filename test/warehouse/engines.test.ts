/**
 * Start fast, load what is used: each engine's driver package is loaded only for a profile that names it, the
 * PostgreSQL, Snowflake and BigQuery drivers are optional dependencies, and a missing one is named with the command
 * that installs it (exit 2, no stack trace). The real CLI in a child process; a package is made missing through Node's
 * own resolution hooks (test/support/package-hooks.ts), as after `npm install --omit=optional`.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/dbt.ts";
import { DRIVER_PACKAGES, loadEngine } from "../../src/warehouse/index.ts";
import { runCli } from "../support/cli.ts";

const HOOKS = `--import=${join(repoRoot, "test", "support", "package-hooks.ts")}`;

/** A dbt project whose profile names `type` (nothing listens at its host: the driver must fail before connecting). */
async function projectOn(type: string, fields: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `engine-${type}-`));
  await writeFile(join(dir, "dbt_project.yml"), "name: p\nprofile: p\nversion: '1.0'\n");
  const lines = Object.entries({ type, ...fields }).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`);
  await writeFile(join(dir, "profiles.yml"), `p:\n  target: dev\n  outputs:\n    dev:\n${lines.join("\n")}\n`);
  return dir;
}

const PROFILES = {
  postgres: { host: "127.0.0.1", port: "1", user: "u", dbname: "d", schema: "s" },
  snowflake: { account: "acct", user: "u", password: "p", database: "d", schema: "s", host: "127.0.0.1", port: "1", protocol: "http" },
  bigquery: { method: "service-account-json", project: "p", dataset: "d", api_endpoint: "http://127.0.0.1:1" },
} as const;

describe("a profile whose warehouse driver is not installed", () => {
  const cases: [keyof typeof PROFILES, string, string][] = [
    ["postgres", "pg", "npm install pg"],
    ["postgres", "pg-cursor", "npm install pg-cursor"],
    ["snowflake", "snowflake-sdk", "npm install snowflake-sdk"],
    ["bigquery", "@google-cloud/bigquery", "npm install @google-cloud/bigquery"],
    ["bigquery", "google-auth-library", "npm install google-auth-library"],
  ];
  it.each(cases)("%s without %s: exit 2, names the package and the command to install it, no stack trace", async (type, missing, install) => {
    const dir = await projectOn(type, PROFILES[type]);
    const run = await runCli(["status", "--project-dir", dir, "--profiles-dir", dir], { NODE_OPTIONS: HOOKS, HIDE_PACKAGES: missing });
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr.trim()).toBe(`error: the profile's warehouse type ${type} needs the npm package ${missing}, which is not installed: ${install}`);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it("is not needed by a profile on another engine: postgres with snowflake-sdk and the BigQuery client missing gets as far as connecting", async () => {
    const dir = await projectOn("postgres", PROFILES.postgres);
    const run = await runCli(["status", "--project-dir", dir, "--profiles-dir", dir], { NODE_OPTIONS: HOOKS, HIDE_PACKAGES: [...DRIVER_PACKAGES.snowflake, ...DRIVER_PACKAGES.bigquery].join(",") });
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr).toContain("cannot connect to PostgreSQL at 127.0.0.1:1/d");
  });
});

describe("what a command loads", () => {
  const heavy = ["snowflake-sdk", "@google-cloud/bigquery", "google-auth-library", "pg", "pg-cursor", "@duckdb/node-api", "@hubspot/api-client", "jsforce", "undici", "execa", "nunjucks", "cli-progress", "@dbml/core"];

  async function loaded(args: string[], cwd: string): Promise<{ exitCode: number; packages: string[] }> {
    const file = join(await mkdtemp(join(tmpdir(), "loaded-")), "packages.txt");
    const run = await runCli(args, { NODE_OPTIONS: HOOKS, LOADED_PACKAGES_FILE: file }, cwd);
    return { exitCode: run.exitCode, packages: (await readFile(file, "utf8")).split("\n").filter(Boolean) };
  }

  it("--version and --help load no warehouse driver, destination client, dbt runner or template engine", async () => {
    for (const args of [["--version"], ["--help"], ["sync", "--help"]]) {
      const { exitCode, packages } = await loaded(args, repoRoot);
      expect(exitCode).toBe(0);
      expect(packages.filter((p) => heavy.includes(p)), args.join(" ")).toEqual([]);
    }
  });

  it("validate on the example project loads no warehouse driver and no destination client", async () => {
    const { exitCode, packages } = await loaded(["validate"], join(repoRoot, "examples", "acme_saas"));
    expect(exitCode).toBe(0);
    expect(packages.filter((p) => heavy.includes(p))).toEqual([]);
  });
});

describe("loadEngine", () => {
  it("passes any other failure through, and the module when it loads", async () => {
    await expect(loadEngine(() => Promise.reject(new TypeError("a bug")), ["pg"], "postgres")).rejects.toThrow(TypeError);
    await expect(loadEngine(() => Promise.resolve("module"), ["pg"], "postgres")).resolves.toBe("module");
  });
});
