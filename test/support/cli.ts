/** Runs the real CLI from source in a child process, as an orchestrator would. */
import { execa, type ResultPromise } from "execa";
import { copyFile, cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { inject } from "vitest";
import { integrationProject, repoRoot } from "../../scripts/dbt.ts";

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], env: Record<string, string> = {}, cwd: string = repoRoot): Promise<CliRun> {
  const result = await startCli(args, env, cwd);
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** The CLI from source as a child process the test can SIGKILL. */
export function startCli(args: string[], env: Record<string, string> = {}, cwd: string = repoRoot): ResultPromise<{ reject: false; cwd: string; env: Record<string, string> }> {
  return execa(process.execPath, [join(repoRoot, "src", "cli", "run.ts"), ...args], {
    reject: false,
    cwd,
    env: { HUBSPOT_ACCESS_TOKEN: "", HUBSPOT_BASE_PATH: "", ...env },
  });
}

/** The shared integration build (made once by test/setup/global.ts). */
export function integrationBuild(): { targetPath: string; duckdbPath: string; exitCode: number } {
  return inject("integrationBuild");
}

/** `sync` flags for the integration project, reading the given target dir and the shared DuckDB file. */
export function syncArgs(targetPath: string, ...extra: string[]): string[] {
  return ["sync", "--project-dir", integrationProject, "--profiles-dir", integrationProject, "--target-dir", targetPath, ...extra];
}

/**
 * A private copy of the shared build's DuckDB file: a sync writes its ledger there, and DuckDB lets one process at a
 * time open a file for writing, so every test that syncs gets its own.
 */
export async function freshDuckdb(): Promise<string> {
  const dir = await mkdtemp(join(inject("scratchRoot"), "db-"));
  // The file name is the DuckDB catalog name the manifest's relations use.
  const path = join(dir, basename(integrationBuild().duckdbPath));
  await copyFile(integrationBuild().duckdbPath, path);
  return path;
}

/**
 * Copies a build's artifacts (default: the shared build's) to a fresh folder, optionally rewriting them, for tests of
 * bad artifacts or changed contracts.
 */
export async function copyArtifacts(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite arbitrary artifact JSON
  edit?: { manifest?: (m: any) => void; runResults?: (r: any) => void },
  from: string = integrationBuild().targetPath,
): Promise<string> {
  const dir = await mkdtemp(join(inject("scratchRoot"), "artifacts-"));
  await cp(from, dir, { recursive: true });
  for (const [file, fn] of [["manifest.json", edit?.manifest], ["run_results.json", edit?.runResults]] as const) {
    if (!fn) continue;
    const json = JSON.parse(await readFile(join(dir, file), "utf8"));
    fn(json);
    await writeFile(join(dir, file), JSON.stringify(json));
  }
  return dir;
}
