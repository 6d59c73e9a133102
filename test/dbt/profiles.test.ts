/** The warehouse connection comes from the user's dbt profiles.yml, rendered like dbt renders it, settings included. */
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it, inject } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { renderDbtValue } from "../../src/dbt/jinja.ts";
import { resolveProfileTarget } from "../../src/dbt/profiles.ts";
import { connectWarehouse } from "../../src/warehouse/index.ts";

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
    // A relative --profiles-dir is relative to the invocation's working directory, as dbt takes it.
    const relative = await resolveProfileTarget({ projectDir: project, profilesDir: ".", env: {}, cwd: elsewhere });
    expect(relative).toMatchObject({ profilesPath: join(elsewhere, "profiles.yml"), config: { path: "from-dir.duckdb" } });
  });

  it("says which variable, target or template is wrong", async () => {
    await expect(resolveProfileTarget({ projectDir: project, target: "prod", env: {}, cwd: project })).rejects.toThrow(
      /environment variable SHOP_PROD_DB is not set and has no default/,
    );
    await expect(resolveProfileTarget({ projectDir: project, target: "staging", env: {}, cwd: project })).rejects.toThrow(
      /target "staging" is not an output of profile "shop_profile"/,
    );
    expect(() => renderDbtValue("{{ var('x') }}", { env: {} }, "profiles.yml: x")).toThrow(/var\('x'\) is not given \(--vars\) and has no default/);
    expect(() => renderDbtValue("{{ env_var('N') | as_number }}", { env: { N: "abc" } }, "here")).toThrow(/the value is not a number, as \| as_number needs/);
  });
});

describe("the syncer's DuckDB connection", () => {
  const setting = async (settings: Record<string, unknown> | undefined, readOnly = false): Promise<string> => {
    const path = join(project, "settings.duckdb");
    if (!existsSync(path)) (await DuckDBInstance.create(path)).closeSync();
    const warehouse = await connectWarehouse({ profile: "shop_profile", target: "dev", profilesPath: "profiles.yml", config: { type: "duckdb", path, ...(settings ? { settings } : {}) } }, { readOnly });
    try {
      const [row] = await warehouse.query("select current_setting('memory_limit') as m, current_setting('threads') as t");
      return `${String(row?.m)} / ${String(row?.t)} threads`;
    } finally {
      await warehouse.close();
    }
  };

  it("caps DuckDB's memory at 256MB unless the profile's settings say otherwise (the plan runs in partitions that fit)", async () => {
    // DuckDB reports 256MB (decimal) as 244.1 MiB; its own default would be 80 % of this machine's memory.
    expect(await setting(undefined)).toMatch(/^244\.1 MiB \//);
    expect(await setting(undefined, true)).toMatch(/^244\.1 MiB \//);
    expect(await setting({ threads: 1 })).toBe("244.1 MiB / 1 threads");
    expect(await setting({ memory_limit: "1GB" })).toMatch(/^953\.6 MiB \//);
    expect(await setting({ MAX_MEMORY: "2GB" })).toMatch(/^1\.8 GiB \//);
  });
});
