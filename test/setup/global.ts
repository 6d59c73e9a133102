/**
 * Once per test run: make sure the pinned dbt is installed, then build integration_tests on DuckDB into a fresh
 * folder. Suites read the shared build (read-only) and copy it when they need to alter artifacts.
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
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await execa("bash", [join(repoRoot, "scripts", "setup-python.sh")], { stdio: "inherit" });
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
