/**
 * dbt's conventions, held against dbt itself: profiles rendered as the pinned dbt renders them (the same templates
 * through dbt's own ProfileRenderer), the connection from the environment, and the target path in every command.
 */
import { execa } from "execa";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it, inject } from "vitest";
import { renderDbtValue } from "../../src/dbt/jinja.ts";
import { resolveProfileTarget } from "../../src/dbt/profiles.ts";
import { resolveProjectDir, resolveTargetDir } from "../../src/dbt/project.ts";
import { BadInputError } from "../../src/errors.ts";
import { integrationProject, repoRoot } from "../../scripts/dbt.ts";
import { freshDuckdb, integrationBuild, runCli } from "../support/cli.ts";

const ENV = { PORT: "5432", FLAG: "True", LOWER_FLAG: "true", NAME: "Analytics", EMPTY: "", LIST: "[1, 2]", ZERO: "0123", FLOAT: "1.5", SPACED: " 7" };

/** Every template a profile may hold that we know of: each is rendered by dbt and by us, and must agree. */
const TEMPLATES = [
  "{{ env_var('PORT') }}",
  "{{ env_var('PORT') | as_number }}",
  "{{ env_var('PORT') | int }}",
  "{{ env_var('FLOAT') | as_number }}",
  "{{ env_var('FLOAT') | float }}",
  "{{ env_var('MISSING', '7') | as_number }}",
  "{{ env_var('MISSING', 'fallback') }}",
  "{{ env_var('MISSING') }}",
  "{{ env_var('FLAG') | as_bool }}",
  "{{ env_var('LOWER_FLAG') | as_bool }}",
  "{{ env_var('NAME') | as_number }}",
  "{{ env_var('ZERO') | as_number }}",
  "{{ env_var('SPACED') | as_number }}",
  "{{ env_var('LIST') | as_native }}",
  "{{ env_var('PORT') | as_text }}",
  "host-{{ env_var('PORT') }}",
  "{{ env_var('NAME') | lower }}",
  "{{ env_var('NAME') ~ '_dev' }}",
  "{{ env_var('NAME') | replace('Analytics', 'prod') }}",
  "{{ 'yes' if env_var('EMPTY') else 'no' }}",
  "{% if env_var('PORT') == '5432' %}{{ env_var('PORT') | as_number }}{% else %}1{% endif %}",
  "{% if env_var('EMPTY') %}a{% else %}b{% endif %}",
  "{{ env_var('MISSING', '') | default('dflt', true) }}",
  "{{ 1 + 2 }}",
  "{{ [1, 2] }}",
  "{{ 5432 }}",
  "{{ '5' | int }}",
  "{{ [env_var('PORT')] }}",
  "{{ env_var('PORT') | int + 1 }}",
  "{{ env_var('LIST') | as_native | length }}",
  "{{ env_var('PORT') ~ env_var('NAME') }}",
  "{{- env_var('PORT') | as_number -}}",
  "  {{ env_var('PORT') | as_number }}",
  "{{ var('schema', 'analytics') }}",
  "plain text",
];

const RENDER_WITH_DBT = `
import json, os, sys
from dbt_common.context import set_invocation_context
from dbt.config.renderer import ProfileRenderer
set_invocation_context(os.environ)
renderer = ProfileRenderer({})
out = []
for template in json.load(sys.stdin):
    try:
        out.append({"value": renderer.render_value(template, ("outputs", "dev", "field"))})
    except Exception as error:
        out.append({"error": type(error).__name__})
print(json.dumps(out))
`;

describe("profiles.yml is rendered as dbt renders it", () => {
  it("agrees with the pinned dbt's ProfileRenderer on every template, value and type", async () => {
    const dbt = await execa(join(repoRoot, ".venv", "bin", "python"), ["-c", RENDER_WITH_DBT], { input: JSON.stringify(TEMPLATES), env: { ...ENV, DO_NOT_TRACK: "1", PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }, extendEnv: false });
    const expected = JSON.parse(dbt.stdout) as ({ value: unknown } | { error: string })[];
    const ours = TEMPLATES.map((template) => {
      try {
        return { value: renderDbtValue(template, { env: ENV }, "profiles.yml") };
      } catch (error) {
        if (!(error instanceof BadInputError)) throw error;
        return { error: error.message };
      }
    });
    const rows = TEMPLATES.map((template, i) => ({ template, dbt: "error" in expected[i]! ? "error" : expected[i]!.value, ours: "error" in ours[i]! ? "error" : ours[i]!.value }));
    expect(rows.filter((r) => JSON.stringify(r.dbt) !== JSON.stringify(r.ours))).toEqual([]);
    // Not vacuous: both sides rendered values, types and errors.
    expect(rows.filter((r) => r.ours === "error").length).toBeGreaterThanOrEqual(4);
    expect(rows.find((r) => r.template === "{{ env_var('PORT') | as_number }}")?.ours).toBe(5432);
    expect(rows.find((r) => r.template === "{{ env_var('PORT') }}")?.ours).toBe("5432");
  });

  it("names the template, never the value, when a conversion fails (the value may be a password)", () => {
    const attempt = (): unknown => renderDbtValue("{{ env_var('SECRET') | as_number }}", { env: { SECRET: "hunter2-secret" } }, "profiles.yml: shop.outputs.dev.port");
    expect(attempt).toThrow(/cannot render "\{\{ env_var\('SECRET'\) \| as_number \}\}": the value is not a number/);
    try {
      attempt();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain("hunter2");
      expect((error as BadInputError).where).toBe("profiles.yml: shop.outputs.dev.port");
    }
  });
});

let project: string;
beforeAll(async () => {
  project = await mkdtemp(join(inject("scratchRoot"), "conventions-"));
  await writeFile(join(project, "dbt_project.yml"), "name: shop\nprofile: shop\nconfig-version: 2\ntarget-path: \"{{ env_var('SHOP_TARGET', 'build/out') }}\"\n");
  await writeFile(
    join(project, "profiles.yml"),
    [
      "shop:",
      "  target: \"{{ env_var('SHOP_ENV', 'dev') }}\"",
      "  outputs:",
      "    dev:",
      "      type: postgres",
      "      host: \"{{ env_var('PGHOST_X', 'localhost') }}\"",
      "      port: \"{% if env_var('PGPORT_X', '') %}{{ env_var('PGPORT_X') | as_number }}{% else %}{{ 5432 }}{% endif %}\"",
      "      user: \"{{ env_var('PGUSER_X', 'me') | lower }}\"",
      "      password: \"{{ env_var('PGPASSWORD_X', 'p{{w') }}\"",
      "      dbname: \"{{ var('db', 'analytics') }}\"",
      "      schema: \"{{ 'ci_' ~ env_var('PR', '0') if env_var('CI', '') else 'dev' }}\"",
    ].join("\n"),
  );
  await mkdir(join(project, "models", "deep"), { recursive: true });
});

describe("the profile target", () => {
  it("renders conditionals, filters, var() and concatenation in profiles.yml", async () => {
    const target = await resolveProfileTarget({ projectDir: project, cwd: project, env: { PGPORT_X: "6543", PGUSER_X: "ME", CI: "1", PR: "42" }, vars: { db: "warehouse" } });
    expect(target.config).toEqual({ type: "postgres", host: "localhost", port: 6543, user: "me", password: "p{{w", dbname: "warehouse", schema: "ci_42" });
    const plain = await resolveProfileTarget({ projectDir: project, cwd: project, env: {} });
    // `{{ 5432 }}` is a constant: Jinja emits it as text, so dbt (and so we) give the string "5432" there.
    expect(plain.config).toMatchObject({ port: "5432", schema: "dev", dbname: "analytics" });
  });

  it("comes from DBT_ACTIVATION_TARGET_* when there is no profiles.yml (dbt Cloud)", async () => {
    const bare = await mkdtemp(join(inject("scratchRoot"), "no-profiles-"));
    await writeFile(join(bare, "dbt_project.yml"), "name: shop\nconfig-version: 2\n");
    const env = {
      DBT_ACTIVATION_TARGET_TYPE: "postgres",
      DBT_ACTIVATION_TARGET_HOST: "db.internal",
      DBT_ACTIVATION_TARGET_PORT: "6432",
      DBT_ACTIVATION_TARGET_USER: "syncer",
      DBT_ACTIVATION_TARGET_PASSWORD: "0123",
      DBT_ACTIVATION_TARGET_DBNAME: "analytics",
      DBT_ACTIVATION_TARGET_SCHEMA: "activation",
      DBT_ACTIVATION_TARGET_KEEPALIVES_IDLE: "30",
      DBT_ACTIVATION_TARGET_SETTINGS_JSON: '{"memory_limit": "1GB"}',
      DBT_ACTIVATION_TARGET_REQUIRE_SSL: "true",
    };
    const target = await resolveProfileTarget({ projectDir: bare, cwd: bare, env });
    // A password of digits stays text; the port is a number, as in a YAML profile.
    expect(target.config).toEqual({ type: "postgres", host: "db.internal", port: 6432, user: "syncer", password: "0123", dbname: "analytics", schema: "activation", keepalives_idle: 30, settings: { memory_limit: "1GB" }, require_ssl: true });
    await expect(resolveProfileTarget({ projectDir: bare, cwd: bare, env: { DBT_ACTIVATION_TARGET_HOST: "x" } })).rejects.toThrow(/DBT_ACTIVATION_TARGET_HOST set without DBT_ACTIVATION_TARGET_TYPE/);
    await expect(resolveProfileTarget({ projectDir: bare, cwd: bare, env: { ...env, DBT_ACTIVATION_TARGET_PORT: "64x" } })).rejects.toThrow(/DBT_ACTIVATION_TARGET_PORT must be a whole number/);
    await expect(resolveProfileTarget({ projectDir: bare, cwd: bare, profilesDir: project, env })).rejects.toThrow(/--profiles-dir and the environment \(DBT_ACTIVATION_TARGET_\*\) both name a connection/);
    const secret = await resolveProfileTarget({ projectDir: bare, cwd: bare, env: { ...env, DBT_ACTIVATION_TARGET_KEYFILE_JSON: "{not json: s3cr3t" } }).catch((e: Error) => e);
    expect(String(secret)).toMatch(/DBT_ACTIVATION_TARGET_KEYFILE_JSON is not valid JSON/);
    expect(String(secret)).not.toContain("s3cr3t");
  });
});

describe("the project dir and target path follow dbt", () => {
  it("project dir: the working directory or its nearest parent with dbt_project.yml", () => {
    expect(resolveProjectDir(undefined, join(project, "models", "deep"))).toBe(project);
    expect(resolveProjectDir("elsewhere", project)).toBe(join(project, "elsewhere"));
  });

  it("target path: --target-path, then DBT_TARGET_PATH, then target-path in dbt_project.yml (rendered), relative to the project", async () => {
    const cwd = join(project, "models");
    expect(await resolveTargetDir({ cwd, env: {} })).toBe(join(project, "build", "out"));
    expect(await resolveTargetDir({ cwd, env: { SHOP_TARGET: "t2" } })).toBe(join(project, "t2"));
    expect(await resolveTargetDir({ cwd, env: { DBT_TARGET_PATH: "from-env", SHOP_TARGET: "t2" } })).toBe(join(project, "from-env"));
    expect(await resolveTargetDir({ cwd, targetPath: "flag", env: { DBT_TARGET_PATH: "from-env" } })).toBe(join(project, "flag"));
    expect(await resolveTargetDir({ cwd, targetPath: "/abs/target", env: {} })).toBe("/abs/target");
  });

  it("every command reads the artifacts from DBT_TARGET_PATH and --target-path, run from inside the project", async () => {
    const target = integrationBuild().targetPath;
    // generate --check, validate and export find the shared build through DBT_TARGET_PATH alone.
    const env = { DBT_TARGET_PATH: target };
    const generate = await runCli(["generate", "--check"], env, join(integrationProject, "models"));
    expect(generate.stderr).toBe("");
    expect(generate.exitCode).toBe(0);
    const validate = await runCli(["validate", "--json"], env, integrationProject);
    expect(JSON.parse(validate.stdout).manifest).toBe(join(target, "manifest.json"));
    // plan reads the same build through --target-path (it does not exist under the project's own target-path).
    const plan = await runCli(["plan", "--profiles-dir", integrationProject, "--target-path", target, "--select", "contact_engagement_to_hubspot", "--json"], { ACTIVATION_DUCKDB_PATH: await freshDuckdb() }, integrationProject);
    expect(plan.stderr).not.toMatch(/not found/);
    expect(JSON.parse(plan.stdout).contracts[0]).toMatchObject({ contract: "contact_engagement_to_hubspot", status: "planned" });
    const missing = await runCli(["plan", "--target-path", join(project, "nowhere")], {}, integrationProject);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(`manifest.json not found at ${join(project, "nowhere", "manifest.json")}`);
  });
});
