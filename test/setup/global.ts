/**
 * Once per test run: make sure the pinned dbt is installed, then build integration_tests on DuckDB into a fresh
 * folder. Suites read the shared build (read-only) and copy it when they need to alter artifacts. Also starts the
 * loopback PostgreSQL server (left running for later runs; each suite uses schemas of its own).
 */
import { execa } from "execa";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type {} from "vitest";
import type { TestProject } from "vitest/node";
import { dbt, repoRoot } from "../../scripts/dbt.ts";

declare module "vitest" {
  export interface ProvidedContext {
    integrationBuild: { targetPath: string; duckdbPath: string; exitCode: number };
    /** This run's scratch folder: concurrent test runs never share (or delete) each other's files. */
    scratchRoot: string;
    /** The loopback PostgreSQL server (scripts/setup-postgres.sh), or why it could not be started. */
    postgres: PostgresServer;
  }
}

export type PostgresServer =
  | { ok: true; host: string; port: number; user: string; database: string; bindir: string }
  | { ok: false; error: string };

/** Installs (if needed) and starts the shared loopback PostgreSQL; suites that need it fail with the reason if not. */
async function startPostgres(): Promise<PostgresServer> {
  const run = await execa("bash", [join(repoRoot, "scripts", "setup-postgres.sh")], { reject: false, stderr: "inherit" });
  if (run.exitCode !== 0) return { ok: false, error: `scripts/setup-postgres.sh exited with ${run.exitCode}` };
  const vars = Object.fromEntries(String(run.stdout).split("\n").map((line) => line.split("=", 2) as [string, string]));
  return {
    ok: true,
    host: vars.ACTIVATION_PG_HOST ?? "127.0.0.1",
    port: Number(vars.ACTIVATION_PG_PORT),
    user: vars.ACTIVATION_PG_USER ?? "postgres",
    database: vars.ACTIVATION_PG_DATABASE ?? "activation",
    bindir: vars.PG_BINDIR ?? "",
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await execa("bash", [join(repoRoot, "scripts", "setup-python.sh")], { stdio: "inherit" });
  project.provide("postgres", await startPostgres());
  await mkdir(join(repoRoot, ".tmp", "vitest"), { recursive: true });
  const root = await mkdtemp(join(repoRoot, ".tmp", "vitest", "run-"));
  const targetPath = join(root, "integration", "target");
  const duckdbPath = join(root, "integration", "integration_tests.duckdb");
  await mkdir(targetPath, { recursive: true });
  const deps = await dbt(["deps"], { targetPath, duckdbPath });
  if (deps.exitCode !== 0) throw new Error(`dbt deps failed:\n${deps.stdout}\n${deps.stderr}`);
  // The build fails on purpose (account_health's not_null test on domain), so its exit code is 1, not 0.
  const build = await dbt(["build"], { targetPath, duckdbPath });
  if (build.exitCode !== 0 && build.exitCode !== 1) throw new Error(`dbt build crashed:\n${build.stdout}\n${build.stderr}`);
  project.provide("integrationBuild", { targetPath, duckdbPath, exitCode: build.exitCode });
  project.provide("scratchRoot", root);
  return async () => {
    await rm(root, { recursive: true, force: true });
  };
}
