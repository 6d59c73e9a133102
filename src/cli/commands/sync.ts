import { InvalidArgumentError, Option, type Command } from "commander";
import { dbtCloudConfig, envValue, actorFromEnv } from "../../config/env.ts";
import { appendFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { ArtifactSource, Artifacts } from "../../dbt/artifacts.ts";
import { BadInputError, errorMessage } from "../../errors.ts";
import type { SendSample } from "../../report/html.ts";
import type { Shard } from "../../eligible/rows.ts";
import type { SyncReport } from "../../report/types.ts";
import { formatText, toJson } from "../../report/format.ts";
import { EXIT_CODES_HELP, SYNC_ENVIRONMENT_HELP } from "../help.ts";
import { acceptNewTargetOption, connectionOptions, jsonOption, projectOptions, selectOption, splitList, targetPathOf, type ConnectionFlags, type ProjectFlags } from "../flags.ts";
import type { CommandContext } from "../io.ts";

interface SyncFlags extends ProjectFlags, ConnectionFlags {
  select: string[];
  dbtCloudRun?: number;
  markdown?: string;
  dbtCloudJob?: number;
  fullResync?: boolean;
  allowLargeChange?: boolean;
  reason?: string;
  acceptNewTarget?: boolean;
  shard?: Shard;
  json?: boolean;
  quiet?: boolean;
  report?: string;
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

async function cloudSource(opts: SyncFlags, env: NodeJS.ProcessEnv): Promise<ArtifactSource | undefined> {
  if (opts.dbtCloudRun === undefined && opts.dbtCloudJob === undefined) return undefined;
  const { dbtCloudArtifacts, DbtCloudClient } = await import("../../dbt/cloud.ts");
  const client = new DbtCloudClient(dbtCloudConfig(env, opts.dbtCloudRun !== undefined ? "--dbt-cloud-run" : "--dbt-cloud-job"));
  return dbtCloudArtifacts(client, opts.dbtCloudRun !== undefined ? { runId: opts.dbtCloudRun } : { jobId: opts.dbtCloudJob! });
}

export function registerSync(program: Command, context: CommandContext): void {
  syncCommand(program, context, "sync", "Sync every contract whose model built and whose tests passed in the dbt invocation of --target-dir");
  syncCommand(program, context, "plan", "Dry run: per contract, the gate, the rows per class (create / update / unchanged / removed), samples, and what would stop it; writes nothing");
}

function syncCommand(program: Command, { io, setExit, setJson, log, logFormat }: CommandContext, name: "sync" | "plan", description: string): void {
  connectionOptions(projectOptions(program.command(name).description(description)))
    .addOption(selectOption("sync only these contracts (names, space or comma separated)"))
    .addOption(new Option("--dbt-cloud-run <id>", "read the artifacts of this dbt Cloud run (its build step) instead of a target path").argParser(cloudId).conflicts(["targetPath", "targetDir", "dbtCloudJob"]))
    .addOption(new Option("--dbt-cloud-job <id>", "read the artifacts of this dbt Cloud job's newest finished run").argParser(cloudId).conflicts(["targetPath", "targetDir"]))
    .option("--full-resync", "treat every eligible row as changed (sends everything once; the ledger is updated as rows land)")
    .option("--allow-large-change", "let a run exceed gates.max_change (needs --reason)")
    .option("--reason <text>", "why the override is intended (recorded in the run log)")
    .addOption(acceptNewTargetOption())
    .option("--shard <i/n>", "only shard i of n (0-based) of the keys, by a stable hash: run n workers to fan out; each paces at 1/n of the destination's rate limit, so together they stay under it", parseShard)
    .addOption(jsonOption("print the report as JSON on stdout"))
    .option("--quiet", "no progress display (the report and log lines still print)")
    .option("--report <file.html>", "also write the run report as one self-contained HTML file (charts inline, no network)")
    .addOption(new Option("--markdown <file>", "plan: append a Markdown summary to this file (a pull-request comment, or $GITHUB_STEP_SUMMARY)").hideHelp(name !== "plan"))
    .addHelpText("after", `${EXIT_CODES_HELP}\n${SYNC_ENVIRONMENT_HELP}`)
    .action(async (opts: SyncFlags) => {
      setJson(Boolean(opts.json));
      if (opts.allowLargeChange && !opts.reason?.trim()) throw new BadInputError("--allow-large-change needs --reason \"why this change is intended\" (it goes into the run log)");
      if (opts.markdown !== undefined && name !== "plan") throw new BadInputError("--markdown is a plan option");
      // The artifacts the run read, kept for the Markdown summary (contracts, column meta).
      let read: Artifacts | undefined;
      const [{ localArtifacts }, { resolveTargetDir }] = await Promise.all([import("../../dbt/artifacts.ts"), import("../../dbt/project.ts")]);
      const inner = (await cloudSource(opts, io.env)) ?? (opts.markdown !== undefined ? localArtifacts(await resolveTargetDir({ projectDir: opts.projectDir, targetPath: targetPathOf(opts), env: io.env, cwd: io.cwd })) : undefined);
      const source: ArtifactSource | undefined = inner && { description: inner.description, read: async () => (read = await inner.read()) };
      // The run's modules (destination clients among them) load only when a sync runs: `--help` stays fast.
      const [{ runSync }, { buildHtmlReport }, { createProgress, PROGRESS_INTERVAL_ENV }] = await Promise.all([import("../../pipeline/sync.ts"), import("../../pipeline/report.ts"), import("../progress.ts")]);
      const progress = createProgress({
        // A live display needs a terminal, and JSON logs want lines a collector can parse.
        mode: opts.quiet ? "none" : io.stderrIsTty && logFormat === "text" ? "bar" : "lines",
        log,
        stream: io.stderrStream,
        everyMs: envValue(io.env, PROGRESS_INTERVAL_ENV),
      });
      // Samples of each contract's send for the HTML report's charts over time.
      const samples = new Map<string, SendSample[]>();
      const started = new Map<string, number>();
      let report: SyncReport;
      try {
        report = await runSync({
        projectDir: opts.projectDir,
        targetPath: targetPathOf(opts),
        artifacts: source,
        profilesDir: opts.profilesDir,
        target: opts.target,
        select: splitList(opts.select),
        env: io.env,
        cwd: io.cwd,
        onProgress: (contract, summary) => {
          progress.update(contract, summary);
          if (opts.report) {
            const t = Date.now() - (started.get(contract) ?? Date.now());
            samples.get(contract)?.push({ t, done: summary.created + summary.updated + summary.failed + summary.notSent, requests: summary.requests, retries: summary.retries, throttled: summary.throttled });
          }
        },
        onSendStart: (contract, rows) => {
          progress.start(contract, rows);
          started.set(contract, Date.now());
          samples.set(contract, []);
        },
        log: (line) => log(line, { logger: "alerts" }),
        fullResync: Boolean(opts.fullResync),
        dryRun: name === "plan",
        shard: opts.shard,
        ledgerSchema: opts.ledgerSchema,
        overrides: opts.allowLargeChange ? { allowLargeChange: { reason: opts.reason!.trim() } } : {},
        acceptNewTarget: Boolean(opts.acceptNewTarget),
        actor: actorFromEnv(io.env),
        });
      } finally {
        progress.stop();
      }
      if (opts.report && name === "sync") {
        const path = resolve(io.cwd, opts.report);
        try {
          const { html } = await buildHtmlReport({ projectDir: opts.projectDir, profilesDir: opts.profilesDir, target: opts.target, ledgerSchema: opts.ledgerSchema, env: io.env, cwd: io.cwd, sync: { report, samples } });
          await writeFile(path, html);
          log(`wrote the run report ${path}`, { path });
        } catch (error) {
          // The sync is done and reported: a report that cannot be written does not change its outcome.
          log(`the run report was not written to ${path}: ${errorMessage(error)}`, { level: "error", path });
        }
      }
      io.stdout(`${opts.json ? toJson(report) : formatText(report)}\n`);
      if (opts.markdown !== undefined && read) {
        const path = resolve(io.cwd, opts.markdown);
        const [{ formatPlanMarkdown }, { loadContracts }] = await Promise.all([import("../../report/markdown.ts"), import("../../contract/load.ts")]);
        await appendFile(path, formatPlanMarkdown(report, loadContracts(read.manifest), inner!.description));
        io.stderr(`plan summary appended to ${path}\n`);
      }
      setExit(report.exitCode);
    });
}
