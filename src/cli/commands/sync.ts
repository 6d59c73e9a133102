import { InvalidArgumentError, Option, type Command } from "commander";
import { dbtCloudConfig } from "../../config/env.ts";
import { appendFile } from "node:fs/promises";
import { resolve } from "node:path";
import { loadContracts } from "../../contract/load.ts";
import { localArtifacts, type ArtifactSource, type Artifacts } from "../../dbt/artifacts.ts";
import { resolveTargetDir } from "../../dbt/project.ts";
import { formatPlanMarkdown } from "../../report/markdown.ts";
import { dbtCloudArtifacts, DbtCloudClient } from "../../dbt/cloud.ts";
import { BadInputError } from "../../errors.ts";
import type { Shard } from "../../eligible/rows.ts";
import { runSync } from "../../pipeline/sync.ts";
import { formatText, toJson } from "../../report/format.ts";
import { DBT_CLOUD_ENVIRONMENT_HELP, EXIT_CODES_HELP, SYNC_ENVIRONMENT_HELP } from "../help.ts";
import { connectionOptions, jsonOption, projectOptions, selectOption, splitList, targetPathOf, type ConnectionFlags, type ProjectFlags } from "../flags.ts";
import type { CommandContext } from "../io.ts";
import { progressPrinter } from "../progress.ts";

interface SyncFlags extends ProjectFlags, ConnectionFlags {
  select: string[];
  dbtCloudRun?: number;
  markdown?: string;
  dbtCloudJob?: number;
  fullResync?: boolean;
  allowLargeChange?: boolean;
  reason?: string;
  shard?: Shard;
  json?: boolean;
}

export function parseShard(value: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new BadInputError(`--shard ${value}: expected i/n with 0 <= i < n, e.g. 0/4`);
  return { index, count };
}

function cloudId(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError("a dbt Cloud id is a whole number");
  return Number(value);
}

function cloudSource(opts: SyncFlags, env: NodeJS.ProcessEnv): ArtifactSource | undefined {
  if (opts.dbtCloudRun === undefined && opts.dbtCloudJob === undefined) return undefined;
  const client = new DbtCloudClient(dbtCloudConfig(env, opts.dbtCloudRun !== undefined ? "--dbt-cloud-run" : "--dbt-cloud-job"));
  return dbtCloudArtifacts(client, opts.dbtCloudRun !== undefined ? { runId: opts.dbtCloudRun } : { jobId: opts.dbtCloudJob! });
}

export function registerSync(program: Command, context: CommandContext): void {
  syncCommand(program, context, "sync", "Sync every contract whose model built and whose tests passed in the dbt invocation of --target-dir");
  syncCommand(program, context, "plan", "Dry run: per contract, the gate, the rows per class (create / update / unchanged / removed), samples, and what would stop it; writes nothing");
}

function syncCommand(program: Command, { io, setExit, setJson }: CommandContext, name: "sync" | "plan", description: string): void {
  connectionOptions(projectOptions(program.command(name).description(description)))
    .addOption(selectOption("sync only these contracts (names, space or comma separated)"))
    .addOption(new Option("--dbt-cloud-run <id>", "read the artifacts of this dbt Cloud run (its build step) instead of a target path").argParser(cloudId).conflicts(["targetPath", "targetDir", "dbtCloudJob"]))
    .addOption(new Option("--dbt-cloud-job <id>", "read the artifacts of this dbt Cloud job's newest finished run").argParser(cloudId).conflicts(["targetPath", "targetDir"]))
    .option("--full-resync", "treat every eligible row as changed (sends everything once; the ledger is updated as rows land)")
    .option("--allow-large-change", "let a run exceed gates.max_change (needs --reason)")
    .option("--reason <text>", "why the override is intended (recorded in the run log)")
    .option("--shard <i/n>", "only shard i of n (0-based) of the keys, by a stable hash: run n workers to fan out", parseShard)
    .addOption(jsonOption("print the report as JSON on stdout"))
    .addOption(new Option("--markdown <file>", "plan: append a Markdown summary to this file (a pull-request comment, or $GITHUB_STEP_SUMMARY)").hideHelp(name !== "plan"))
    .addHelpText("after", `${EXIT_CODES_HELP}\n${SYNC_ENVIRONMENT_HELP}\n${DBT_CLOUD_ENVIRONMENT_HELP}`)
    .action(async (opts: SyncFlags) => {
      setJson(Boolean(opts.json));
      if (opts.allowLargeChange && !opts.reason?.trim()) throw new BadInputError("--allow-large-change needs --reason \"why this change is intended\" (it goes into the run log)");
      if (opts.markdown !== undefined && name !== "plan") throw new BadInputError("--markdown is a plan option");
      // The artifacts the run read, kept for the Markdown summary (contracts, column meta).
      let read: Artifacts | undefined;
      const inner = cloudSource(opts, io.env) ?? (opts.markdown !== undefined ? localArtifacts(await resolveTargetDir({ projectDir: opts.projectDir, targetPath: targetPathOf(opts), env: io.env, cwd: io.cwd })) : undefined);
      const source: ArtifactSource | undefined = inner && { description: inner.description, read: async () => (read = await inner.read()) };
      const report = await runSync({
        projectDir: opts.projectDir,
        targetPath: targetPathOf(opts),
        artifacts: source,
        profilesDir: opts.profilesDir,
        target: opts.target,
        select: splitList(opts.select),
        env: io.env,
        cwd: io.cwd,
        onProgress: progressPrinter(io.stderr, io.stderrIsTty),
        fullResync: Boolean(opts.fullResync),
        dryRun: name === "plan",
        shard: opts.shard,
        ledgerSchema: opts.ledgerSchema,
        overrides: opts.allowLargeChange ? { allowLargeChange: { reason: opts.reason!.trim() } } : {},
        actor: io.env.USER ?? io.env.LOGNAME,
      });
      io.stdout(`${opts.json ? toJson(report) : formatText(report)}\n`);
      if (opts.markdown !== undefined && read) {
        const path = resolve(io.cwd, opts.markdown);
        await appendFile(path, formatPlanMarkdown(report, loadContracts(read.manifest), read.manifest, inner!.description));
        io.stderr(`plan summary appended to ${path}\n`);
      }
      setExit(report.exitCode);
    });
}
