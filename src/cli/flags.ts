/**
 * Every flag more than one command takes, declared once: the same name, meaning and help text everywhere. dbt's own
 * flags keep dbt's names and defaults (`--project-dir`, `--target-path`, `--profiles-dir`, `--target`).
 */
import { Option, type Command } from "commander";

export interface ProjectFlags {
  projectDir?: string;
  targetPath?: string;
  /** The old name of --target-path, still accepted. */
  targetDir?: string;
}

export interface ConnectionFlags {
  projectDir?: string;
  profilesDir?: string;
  target?: string;
  ledgerSchema?: string;
}

/** `--project-dir`, `--target-path` (and its old name `--target-dir`, hidden). */
export function projectOptions(command: Command, artifacts = "manifest.json and run_results.json"): Command {
  return command
    .addOption(new Option("--project-dir <dir>", "the dbt project (default, as dbt: the working directory or its nearest parent with dbt_project.yml)"))
    .addOption(
      new Option(
        "--target-path <dir>",
        `where dbt wrote ${artifacts} (default, as dbt: $DBT_TARGET_PATH, else target-path in dbt_project.yml, else target; relative to the project)`,
      ),
    )
    .addOption(new Option("--target-dir <dir>", "old name of --target-path").hideHelp().conflicts("targetPath"));
}

/** The target path the user gave, under either name. */
export function targetPathOf(flags: ProjectFlags): string | undefined {
  return flags.targetPath ?? flags.targetDir;
}

/** `--profiles-dir`, `--target`, `--ledger-schema`: the warehouse of the profile and the syncer's tables in it. */
export function connectionOptions(command: Command): Command {
  return command
    .addOption(new Option("--profiles-dir <dir>", "the directory of profiles.yml (default, as dbt: $DBT_PROFILES_DIR, ., <project-dir>, ~/.dbt)"))
    .addOption(new Option("--target <name>", "the profile target (default: $DBT_TARGET, else the profile's target)"))
    .addOption(new Option("--ledger-schema <schema>", "where the syncer's tables live (default: the profile target's schema)"));
}

/**
 * `--accept-new-target` (sync, plan): a contract whose destination target changed (src/contract/fingerprint.ts) syncs
 * anyway: its ledger's synced rows are retired (nothing is done to their records) and every eligible row is a create.
 */
export function acceptNewTargetOption(): Option {
  return new Option(
    "--accept-new-target",
    "a contract whose destination (type, object, match field, alias label, list) changed since its last sync syncs to the new one: the ledger's rows of the old one are retired (their records are left as they are) and every eligible row is created; not with --shard",
  );
}

export function selectOption(description = "only these contracts (names, space or comma separated)"): Option {
  return new Option("--select <contract...>", description).default([]);
}

export function jsonOption(description = "print the result as JSON on stdout"): Option {
  return new Option("--json", description);
}

/** `--select a,b c` → [a, b, c]. */
export function splitList(values: string[]): string[] {
  return values.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
}
