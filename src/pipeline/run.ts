/**
 * `run`: the project's `dbt build` (driven by execa, its output streamed), then a sync of the contracts that
 * invocation proved, from the artifacts it just wrote. One exit code says which part failed (see `runExitCode`).
 */
import { execa } from "execa";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { dbtExecutable } from "../config/env.ts";
import { loadContracts } from "../contract/load.ts";
import { localArtifacts, type ArtifactSource } from "../dbt/artifacts.ts";
import { resolveProjectDir, resolveTargetDir } from "../dbt/project.ts";
import { BadInputError, errorMessage } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import type { SyncReport } from "../report/types.ts";
import { runSync, type SyncOptions } from "./sync.ts";

export interface RunOptions extends Omit<SyncOptions, "artifacts" | "dryRun"> {
  /** Everything after `--`: passed to `dbt build` as it is (selectors, --vars, --full-refresh, …). */
  dbtArgs: string[];
  /** dbt's output, as it comes (stdout and stderr, in order of arrival). */
  onDbtOutput: (text: string) => void;
  /** Aborting stops dbt (SIGTERM, then SIGKILL after 10 s) and skips the sync. */
  signal?: AbortSignal | undefined;
}

export interface RunReport {
  dbt: { command: string[]; exitCode: number; invocationId: string | null; signal?: string; problem?: string };
  /** The contracts proven by this invocation, synced; null when dbt wrote nothing to sync from. */
  sync: SyncReport | null;
  /** Why a contract was or was not in the sync (e.g. none of its models ran in this build). */
  notes: string[];
  exitCode: number;
}

/** dbt flags `run` reads itself (they name the project, the target and the warehouse), with their short forms. */
type SharedFlag = "projectDir" | "targetPath" | "profilesDir" | "target";
const SHARED_DBT_FLAGS: Record<string, SharedFlag> = {
  "--project-dir": "projectDir",
  "--target-path": "targetPath",
  "--profiles-dir": "profilesDir",
  "--target": "target",
  "-t": "target",
};

/** Flags after `--` that would make the invocation prove nothing, or not be a build. */
const REFUSED_DBT_FLAGS = ["--empty"];

/** Takes `--target prod`/`--target=prod` (and the other shared flags) out of dbt's arguments into the run's options. */
export function splitDbtArgs(dbtArgs: string[], options: Partial<Record<SharedFlag, string | undefined>>): { args: string[]; shared: Partial<Record<SharedFlag, string>>; vars?: Record<string, unknown> } {
  const shared: Partial<Record<SharedFlag, string>> = {};
  const args: string[] = [];
  let vars: Record<string, unknown> | undefined;
  for (let i = 0; i < dbtArgs.length; i += 1) {
    const arg = dbtArgs[i]!;
    if (i === 0 && /^[a-z]/.test(arg)) throw new BadInputError(`run always runs \`dbt build\`: put only build's flags after --, not "${arg}"`);
    if (REFUSED_DBT_FLAGS.includes(arg)) throw new BadInputError(`dbt build ${arg} proves nothing (no rows are built): run refuses it`);
    const [flag, inline] = arg.includes("=") && arg.startsWith("--") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const key = SHARED_DBT_FLAGS[flag];
    if (key) {
      const value = inline ?? dbtArgs[++i];
      if (value === undefined) throw new BadInputError(`${flag} after -- needs a value`);
      const given = options[key];
      if (given !== undefined && given !== value) throw new BadInputError(`${flag} is given twice, as ${String(given)} and after -- as ${value}: give it once`);
      shared[key] = value;
      continue;
    }
    if (flag === "--vars") {
      const value = inline ?? dbtArgs[i + 1];
      if (value === undefined) throw new BadInputError("--vars after -- needs a value");
      try {
        const parsed: unknown = parseYaml(value);
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) vars = parsed as Record<string, unknown>;
        else throw new Error("not a mapping");
      } catch (error) {
        throw new BadInputError(`--vars after --: not a YAML mapping (${errorMessage(error)})`);
      }
    }
    args.push(arg);
  }
  return { args, shared, ...(vars ? { vars } : {}) };
}

async function invocationIdAt(targetDir: string): Promise<string | null> {
  try {
    const raw = JSON.parse(await readFile(join(targetDir, "run_results.json"), "utf8")) as { metadata?: { invocation_id?: unknown } };
    return typeof raw.metadata?.invocation_id === "string" ? raw.metadata.invocation_id : null;
  } catch {
    return null;
  }
}

/**
 * 0 and the sync's codes as for `sync`; 8 when dbt's part failed and the sync's did not: dbt exited 1 (a node
 * failed, none that a contract needs), or dbt did not complete (exit 2 or more, killed, or no artifacts), when
 * nothing is synced.
 */
export function runExitCode(dbtCompleted: boolean, dbtExitCode: number, sync: SyncReport | null): number {
  if (!dbtCompleted) return EXIT.dbtFailed;
  if (sync && sync.exitCode !== EXIT.ok) return sync.exitCode;
  return dbtExitCode === 0 ? EXIT.ok : EXIT.dbtFailed;
}

export async function runBuildAndSync(options: RunOptions): Promise<RunReport> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { args, shared, vars } = splitDbtArgs(options.dbtArgs, options);
  const merged = { ...options, ...shared, vars: options.vars ?? vars };
  const projectDir = resolveProjectDir(merged.projectDir, cwd);
  const targetDir = await resolveTargetDir({ projectDir, targetPath: merged.targetPath, env, cwd });
  const ownFlags = [
    "--project-dir", projectDir,
    "--target-path", targetDir,
    ...(merged.profilesDir ? ["--profiles-dir", merged.profilesDir] : []),
    ...(merged.target ? ["--target", merged.target] : []),
  ];
  const command = ["build", ...ownFlags, ...args];
  const before = await invocationIdAt(targetDir);
  const executable = dbtExecutable(env);
  const child = execa(executable, command, {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    buffer: false,
    stdin: "ignore",
    ...(options.signal ? { cancelSignal: options.signal, forceKillAfterDelay: 10_000 } : {}),
  });
  child.stdout?.on("data", (chunk: Buffer) => options.onDbtOutput(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => options.onDbtOutput(chunk.toString()));
  const result = await child;
  const shown = [executable, ...command];
  if (result.failed && result.exitCode === undefined && !result.isCanceled && !result.signal) {
    // The executable did not start (not installed, not on the PATH, not executable).
    const cause = (result.cause as NodeJS.ErrnoException | undefined)?.code ?? result.shortMessage;
    throw new BadInputError(`cannot start ${executable} (${cause}): install dbt, or set DBT_ACTIVATION_DBT to its path`);
  }
  const dbtExitCode = result.exitCode ?? -1;
  const after = await invocationIdAt(targetDir);
  const dbt: RunReport["dbt"] = { command: shown, exitCode: dbtExitCode, invocationId: after !== before ? after : null };
  const notes: string[] = [];
  if (result.isCanceled || result.signal) {
    dbt.signal = result.signal ?? "cancelled";
    dbt.problem = `dbt build was stopped (${dbt.signal}): nothing is synced`;
  } else if (dbtExitCode !== 0 && dbtExitCode !== 1) {
    dbt.problem = `dbt build exited with ${dbtExitCode} (dbt could not run the build): nothing is synced`;
  } else if (after === null || after === before) {
    dbt.problem = `dbt build wrote no new run_results.json in ${targetDir}: nothing is synced`;
  }
  if (dbt.problem) return { dbt, sync: null, notes, exitCode: runExitCode(false, dbtExitCode, null) };

  // The artifacts this invocation wrote, read once; only contracts with a model in this build are synced.
  const artifacts = await localArtifacts(targetDir).read();
  const source: ArtifactSource = { description: targetDir, read: () => Promise.resolve(artifacts) };
  let select = options.select ?? [];
  if (select.length === 0) {
    const built = new Set(artifacts.runResults.results.map((r) => r.unique_id));
    const contracts = loadContracts(artifacts.manifest);
    select = contracts.filter((c) => built.has(c.model.uniqueId) || (c.activationModel && built.has(c.activationModel.uniqueId))).map((c) => c.spec.name);
    const left = contracts.filter((c) => !select.includes(c.spec.name)).map((c) => c.spec.name);
    if (left.length > 0) notes.push(`not in this build (none of their models ran), so not synced: ${left.join(", ")}`);
    if (select.length === 0) return { dbt, sync: null, notes, exitCode: runExitCode(true, dbtExitCode, null) };
  }
  const sync = await runSync({ ...merged, projectDir, select, artifacts: source, env, cwd });
  return { dbt, sync, notes, exitCode: runExitCode(true, dbtExitCode, sync) };
}
