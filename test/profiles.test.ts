/** The warehouse connection comes from the user's dbt profiles.yml, rendered like dbt renders it. */
import { mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it, inject } from "vitest";
import { renderTemplate, resolveProfileTarget } from "../src/dbt/profiles.ts";

let project: string;
let elsewhere: string;

beforeAll(async () => {
  project = await mkdtemp(join(inject("scratchRoot"), "profiles-"));
  elsewhere = await mkdtemp(join(inject("scratchRoot"), "profiles-dir-"));
  await writeFile(join(project, "dbt_project.yml"), "name: shop\nprofile: shop_profile\nconfig-version: 2\n");
  const profiles = [
    "shop_profile:",
    "  target: dev",
    "  outputs:",
    "    dev:",
    "      type: duckdb",
    "      path: \"{{ env_var('SHOP_DB', 'dev.duckdb') }}\"",
    "      threads: \"{{ env_var('SHOP_THREADS', '4') | as_number }}\"",
    "    prod:",
    "      type: duckdb",
    "      path: \"{{ env_var('SHOP_PROD_DB') }}\"",
  ].join("\n");
  await writeFile(join(project, "profiles.yml"), profiles);
  await writeFile(join(elsewhere, "profiles.yml"), profiles.replace("dev.duckdb", "from-dir.duckdb"));
});

describe("profiles", () => {
  it("renders env_var with defaults and casts, for the profile's default target", async () => {
    const target = await resolveProfileTarget({ projectDir: project, env: { SHOP_THREADS: "8" }, cwd: project });
    expect(target).toMatchObject({ profile: "shop_profile", target: "dev", config: { type: "duckdb", path: "dev.duckdb", threads: 8 } });
  });

  it("takes --target, then DBT_TARGET; --profiles-dir, then DBT_PROFILES_DIR, before the project's own file", async () => {
    const prod = await resolveProfileTarget({ projectDir: project, target: "prod", env: { SHOP_PROD_DB: "/data/prod.duckdb" }, cwd: project });
    expect(prod.config.path).toBe("/data/prod.duckdb");
    const fromEnv = await resolveProfileTarget({ projectDir: project, env: { DBT_TARGET: "prod", SHOP_PROD_DB: "p.duckdb", DBT_PROFILES_DIR: elsewhere }, cwd: project });
    expect(fromEnv).toMatchObject({ target: "prod", profilesPath: join(elsewhere, "profiles.yml") });
    const fromFlag = await resolveProfileTarget({ projectDir: project, profilesDir: elsewhere, env: {}, cwd: project });
    expect(fromFlag.config.path).toBe("from-dir.duckdb");
  });

  it("says which variable, target or template is wrong", async () => {
    await expect(resolveProfileTarget({ projectDir: project, target: "prod", env: {}, cwd: project })).rejects.toThrow(
      /environment variable SHOP_PROD_DB is not set and has no default/,
    );
    await expect(resolveProfileTarget({ projectDir: project, target: "staging", env: {}, cwd: project })).rejects.toThrow(
      /target "staging" is not an output of profile "shop_profile"/,
    );
    expect(() => renderTemplate("{{ var('x') }}", {}, "profiles.yml: x")).toThrow(/unsupported template \{\{ var\('x'\) \}\}/);
    expect(() => renderTemplate("{{ env_var('N') | as_number }}", { N: "abc" }, "here")).toThrow(/"abc" is not a number/);
  });
});
