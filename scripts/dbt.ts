/**
 * Runs the project's pinned dbt (from .venv, made by scripts/setup-python.sh) for the demo, the tests and the benchmarks.
 * Each call gets its own target, log and DuckDB paths so runs never share a file lock.
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

export const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
export const integrationProject = join(repoRoot, "integration_tests");
export const dbtExecutable = join(repoRoot, ".venv", "bin", "dbt");

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
