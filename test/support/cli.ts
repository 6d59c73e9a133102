/** Runs the real CLI from source in a child process, as an orchestrator would. */
import { execa } from "execa";
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { inject } from "vitest";
import { integrationProject, repoRoot } from "../../scripts/dbt.ts";

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const result = await execa(process.execPath, [join(repoRoot, "src", "cli", "run.ts"), ...args], {
    reject: false,
    cwd: repoRoot,
    env: { HUBSPOT_ACCESS_TOKEN: "", HUBSPOT_BASE_PATH: "", ...env },
    extendEnv: true,
  });
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** The shared integration build (made once by test/setup/global.ts). */
export function integrationBuild(): { targetPath: string; duckdbPath: string; exitCode: number } {
  return inject("integrationBuild");
}

/** `sync` flags for the integration project, reading the given target dir and the shared DuckDB file. */
export function syncArgs(targetPath: string, ...extra: string[]): string[] {
  return ["sync", "--project-dir", integrationProject, "--profiles-dir", integrationProject, "--target-dir", targetPath, ...extra];
}

export function duckdbEnv(): Record<string, string> {
  return { ACTIVATION_DUCKDB_PATH: integrationBuild().duckdbPath };
}

/** Copies the shared build's artifacts to a fresh folder, optionally rewriting them, for tests of bad artifacts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite arbitrary artifact JSON
export async function copyArtifacts(edit?: { manifest?: (m: any) => void; runResults?: (r: any) => void }): Promise<string> {
  const dir = await mkdtemp(join(inject("scratchRoot"), "artifacts-"));
  await cp(integrationBuild().targetPath, dir, { recursive: true });
  for (const [file, fn] of [["manifest.json", edit?.manifest], ["run_results.json", edit?.runResults]] as const) {
    if (!fn) continue;
    const json = JSON.parse(await readFile(join(dir, file), "utf8"));
    fn(json);
    await writeFile(join(dir, file), JSON.stringify(json));
  }
  return dir;
}
