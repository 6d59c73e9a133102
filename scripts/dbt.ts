/**
 * Runs the project's pinned dbt (from .venv, made by scripts/setup-python.sh, or the virtualenv $ACTIVATION_DBT_VENV
 * names: scripts/test-matrix.sh runs suites on each dbt version of the matrix) for the demo, the tests and the benchmarks.
 * Each call gets its own target, log and DuckDB paths so runs never share a file lock.
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

export const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
export const integrationProject = join(repoRoot, "integration_tests");
/** The virtualenv whose dbt runs: `.venv` (the pinned dbt), or another one of the version matrix (scripts/test-matrix.sh). */
export const dbtVenv = resolve(repoRoot, process.env.ACTIVATION_DBT_VENV || ".venv");
export const dbtExecutable = join(dbtVenv, "bin", "dbt");

export interface DbtRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface DbtOptions {
  projectDir?: string;
  targetPath: string;
  duckdbPath: string;
  env?: Record<string, string>;
}

export async function dbt(args: string[], options: DbtOptions): Promise<DbtRun> {
  const projectDir = options.projectDir ?? integrationProject;
  const result = await execa(
    dbtExecutable,
    [...args, "--project-dir", projectDir, "--profiles-dir", projectDir],
    {
      reject: false,
      cwd: projectDir,
      env: {
        DO_NOT_TRACK: "1",
        DBT_SEND_ANONYMOUS_USAGE_STATS: "false",
        // Env vars rather than flags: `dbt deps` takes no --target-path.
        DBT_TARGET_PATH: options.targetPath,
        DBT_LOG_PATH: join(options.targetPath, "logs"),
        ACTIVATION_DUCKDB_PATH: options.duckdbPath,
        ...options.env,
      },
    },
  );
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
