/**
 * The dbt package on the warehouses the syncer reads besides DuckDB and PostgreSQL, with the real adapters
 * (dbt-snowflake, dbt-bigquery on dbt-core 1.11, in .venv-snowflake: scripts/setup-snowflake-venv.sh) and no account:
 *  - Snowflake: integration_tests built by dbt-snowflake against fakesnow (the Snowflake connector patched in-process,
 *    Snowflake SQL run on DuckDB; scripts/dbt-emulated.py). fakesnow lacks one function the package uses,
 *    to_number(text, 'XXXXXXXX') in snowflake__hex8_to_int, so the build overrides that one macro with the package's
 *    portable default (the same dispatch override a user can make); every other macro runs its Snowflake variant, and
 *    every fixture test must pass or fail as tagged, as on DuckDB and PostgreSQL.
 *  - Compile: every model and test compiled by dbt-snowflake (no override) and by dbt-bigquery (offline: no relation
 *    exists, no query may run), each compiled file parsed by sqlglot in that dialect, and the snowflake__/bigquery__
 *    variants of the package found in the compiled SQL.
 * Run by `bash scripts/test-matrix.sh snowflake`, not by `npm test`.
 */
import { execa } from "execa";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { integrationProject, repoRoot } from "../../scripts/dbt.ts";
import { brokenNodes, fixtureMismatches, fixtureTests, readJson, resultsOf, type TestNode } from "../support/dbt-fixtures.ts";

const venv = join(repoRoot, ".venv-snowflake");
const python = join(venv, "bin", "python");
const launcher = join(repoRoot, "scripts", "dbt-emulated.py");

const PROFILES = `activation_integration_tests:
  target: snowflake
  outputs:
    snowflake:
      type: snowflake
      account: fakesnow
      user: tester
      password: unused
      database: activation
      schema: integration_tests
      warehouse: compute_wh
      threads: 1
    bigquery:
      type: bigquery
      method: oauth
      project: activation-compat
      dataset: integration_tests
      threads: 1
`;

/** The one dispatch override for fakesnow: hex8_to_int spelled as the package's default (position/substr). */
const FAKESNOW_OVERRIDE = `{% macro snowflake__hex8_to_int(hex_expression) -%}
  {{ activation.default__hex8_to_int(hex_expression) }}
{%- endmacro %}
`;

/** Points the package's sources at the fixture seeds and enables the reconciliation model (as test/dbt-package/dbt-package.test.ts). */
const RECONCILIATION_VARS = JSON.stringify({
  activation_reconciliation_enabled: true,
  activation_ledger_identifier: "fx_ledger",
  activation_destination_snapshot_identifier: "fx_destination_snapshot",
  activation_dead_letters_identifier: "fx_dead_letters",
});

let scratch = "";

/** A copy of integration_tests outside the repository, its package installed from the repository root. */
async function project(name: string, extraMacros: Record<string, string> = {}): Promise<string> {
  const dir = join(scratch, name);
  await cp(integrationProject, dir, { recursive: true, filter: (src) => !/[/\\](dbt_packages|target|logs)$|package-lock\.yml$/.test(src) });
  await writeFile(join(dir, "packages.yml"), `packages:\n  - local: ${JSON.stringify(repoRoot)}\n`);
  await writeFile(join(dir, "profiles.yml"), PROFILES);
  for (const [file, text] of Object.entries(extraMacros)) await writeFile(join(dir, "macros", file), text);
  return dir;
}

async function dbtIn(dir: string, mode: string[], args: string[]): Promise<{ exitCode: number; output: string; targetPath: string }> {
  const targetPath = join(dir, "target");
  const run = await execa(python, [launcher, ...mode, ...args, "--project-dir", dir, "--profiles-dir", dir], {
    reject: false,
    cwd: dir,
    all: true,
    env: { DO_NOT_TRACK: "1", DBT_SEND_ANONYMOUS_USAGE_STATS: "false", DBT_TARGET_PATH: targetPath, DBT_LOG_PATH: join(dir, "logs") },
  });
  return { exitCode: run.exitCode ?? 1, output: String(run.all), targetPath };
}

async function compiled(targetPath: string, node: string): Promise<string> {
  return readFile(join(targetPath, "compiled", "activation_integration_tests", "models", "fixtures", `${node}.sql`), "utf8");
}

async function parseAll(dialect: string, targetPath: string): Promise<{ parsed: number; errors: Record<string, string> }> {
  const run = await execa(python, [launcher, "parse-sql", dialect, join(targetPath, "compiled")]);
  return JSON.parse(String(run.stdout)) as { parsed: number; errors: Record<string, string> };
}

beforeAll(async () => {
  if (!existsSync(python)) throw new Error(`${venv} is missing: run bash scripts/setup-snowflake-venv.sh (scripts/test-matrix.sh snowflake does)`);
  scratch = await mkdtemp(join(inject("scratchRoot"), "warehouses-"));
  return async () => {
    await rm(scratch, { recursive: true, force: true });
  };
});

describe("integration_tests on Snowflake (dbt-snowflake against fakesnow)", () => {
  let dir = "";
  let build: Awaited<ReturnType<typeof dbtIn>>;
  let nodes: Record<string, TestNode> = {};

  beforeAll(async () => {
    dir = await project("snowflake-build", { "fakesnow_hex8_to_int.sql": FAKESNOW_OVERRIDE });
    const deps = await dbtIn(dir, ["fakesnow", join(dir, "db")], ["deps"]);
    if (deps.exitCode !== 0) throw new Error(`dbt deps failed:\n${deps.output}`);
    build = await dbtIn(dir, ["fakesnow", join(dir, "db")], ["build", "--full-refresh", "--target", "snowflake"]);
    // 1: tests failed (on purpose); anything else is a crash.
    if (build.exitCode !== 0 && build.exitCode !== 1) throw new Error(`dbt build on fakesnow crashed:\n${build.output}`);
    nodes = (await readJson<{ nodes: Record<string, TestNode> }>(join(build.targetPath, "manifest.json"))).nodes;
  });

  it("builds every fixture model and seed with the Snowflake adapter, and errors nowhere", async () => {
    expect(build.output).toMatch(/Registered adapter: snowflake=/);
    expect(brokenNodes(await resultsOf(build.targetPath))).toEqual([]);
  });

  it("passes every expect_pass fixture and fails every expect_fail one, with the expected number of failing rows", async () => {
    const tests = fixtureTests(nodes);
    expect(tests.length).toBeGreaterThanOrEqual(40);
    expect(fixtureMismatches(tests, await resultsOf(build.targetPath))).toEqual([]);
  });

  it("builds activation_reconciliation from the syncer's tables (sources pointed at fixture seeds by vars)", async () => {
    const select = ["--select", "activation_reconciliation", "fx_activation_reconciliation__pass", "fx_change_limit__pass_default_source"];
    const second = await dbtIn(dir, ["fakesnow", join(dir, "db")], ["build", "--target", "snowflake", "--vars", RECONCILIATION_VARS, ...select]);
    expect(second.exitCode, second.output).toBe(0);
    const statuses = Object.fromEntries([...(await resultsOf(second.targetPath)).values()].map((r) => [r.unique_id.split(".")[2], r.status]));
    expect(statuses).toEqual({ activation_reconciliation: "success", fx_activation_reconciliation__pass: "pass", fx_change_limit__pass_default_source: "pass" });
  });
});

describe("the package's macros compile for Snowflake and BigQuery", () => {
  it("compiles every model and test with dbt-snowflake (the package's own snowflake__ variants), as valid Snowflake SQL", async () => {
    const dir = await project("snowflake-compile");
    const deps = await dbtIn(dir, ["fakesnow", join(dir, "db")], ["deps"]);
    expect(deps.exitCode, deps.output).toBe(0);
    const run = await dbtIn(dir, ["fakesnow", join(dir, "db")], ["compile", "--target", "snowflake"]);
    expect(run.exitCode, run.output).toBe(0);
    const buckets = await compiled(run.targetPath, "fx_stable_buckets");
    expect(buckets).toMatch(/to_number\(substr\(md5\(/);
    expect(buckets).toContain("'XXXXXXXX'");
    const hashes = await compiled(run.targetPath, "fx_row_hashes");
    expect(hashes).toMatch(/char\(31\)/);
    expect(hashes).not.toMatch(/\bchr\(/);
    const sql = await parseAll("snowflake", run.targetPath);
    expect(sql.errors).toEqual({});
    expect(sql.parsed).toBeGreaterThanOrEqual(100);
  });

  it("compiles every model and test with dbt-bigquery offline (the package's own bigquery__ variants), as valid BigQuery SQL", async () => {
    const dir = await project("bigquery-compile");
    const deps = await dbtIn(dir, ["bigquery-offline"], ["deps"]);
    expect(deps.exitCode, deps.output).toBe(0);
    const run = await dbtIn(dir, ["bigquery-offline"], ["compile", "--no-populate-cache", "--target", "bigquery"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toMatch(/Registered adapter: bigquery=/);
    const buckets = await compiled(run.targetPath, "fx_stable_buckets");
    expect(buckets).toMatch(/cast\(concat\('0x', substr\(to_hex\(md5\(/);
    expect(buckets).toContain("as int64)");
    const hashes = await compiled(run.targetPath, "fx_row_hashes");
    expect(hashes).toContain("code_points_to_string([31])");
    const sql = await parseAll("bigquery", run.targetPath);
    expect(sql.errors).toEqual({});
    expect(sql.parsed).toBeGreaterThanOrEqual(100);
  });
});
