import { Option, type Command } from "commander";
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { BadInputError, errorMessage } from "../../errors.ts";
import { buildHtmlReport } from "../../pipeline/report.ts";
import type { SendSample } from "../../report/html.ts";
import type { Shard } from "../../eligible/rows.ts";
import { runSync } from "../../pipeline/sync.ts";
import { formatText, toJson } from "../../report/format.ts";
import { EXIT_CODES_HELP, SYNC_ENVIRONMENT_HELP } from "../help.ts";
import type { CommandContext } from "../io.ts";
import { createProgress, PROGRESS_INTERVAL_ENV } from "../progress.ts";

/** DBT_ACTIVATION_PROGRESS_INTERVAL_MS: how often a progress line is logged when stderr is not a terminal (default 5000). */
function progressInterval(env: NodeJS.ProcessEnv): number {
  const raw = env[PROGRESS_INTERVAL_ENV]?.trim();
  if (!raw) return 5_000;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0) throw new BadInputError(`${PROGRESS_INTERVAL_ENV} must be a whole number of milliseconds (got ${raw})`);
  return ms;
}

interface SyncFlags {
  projectDir: string;
  targetDir?: string;
  profilesDir?: string;
  target?: string;
  select: string[];
  fullResync?: boolean;
  allowLargeChange?: boolean;
  reason?: string;
  ledgerSchema?: string;
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

export function registerSync(program: Command, context: CommandContext): void {
  syncCommand(program, context, "sync", "Sync every contract whose model built and whose tests passed in the dbt invocation of --target-dir");
  syncCommand(program, context, "plan", "Dry run: per contract, the gate, the rows per class (create / update / unchanged / removed), samples, and what would stop it; writes nothing");
}

function syncCommand(program: Command, { io, setExit, setJson, log, logFormat }: CommandContext, name: "sync" | "plan", description: string): void {
  program
    .command(name)
    .description(description)
    .requiredOption("--project-dir <dir>", "the dbt project (holds dbt_project.yml)")
    .option("--target-dir <dir>", "where dbt wrote manifest.json and run_results.json (default: <project-dir>/target)")
    .option("--profiles-dir <dir>", "the directory of profiles.yml (default: as dbt: $DBT_PROFILES_DIR, ., <project-dir>, ~/.dbt)")
    .option("--target <name>", "the profile target to read the warehouse from (default: the profile's target)")
    .addOption(new Option("--select <contract...>", "sync only these contracts (names, space or comma separated)").default([]))
    .option("--full-resync", "treat every eligible row as changed (sends everything once; the ledger is updated as rows land)")
    .option("--allow-large-change", "let a run exceed gates.max_change (needs --reason)")
    .option("--reason <text>", "why the override is intended (recorded in the run log)")
    .option("--ledger-schema <schema>", "where the ledger, run log and dead letters live (default: the profile target's schema)")
    .option("--shard <i/n>", "only shard i of n (0-based) of the keys, by a stable hash: run n workers to fan out", parseShard)
    .option("--json", "print the report as JSON on stdout")
    .option("--quiet", "no progress display (the report and log lines still print)")
    .option("--report <file.html>", "also write the run report as one self-contained HTML file (charts inline, no network)")
    .addHelpText("after", `${EXIT_CODES_HELP}\n${SYNC_ENVIRONMENT_HELP}`)
    .action(async (opts: SyncFlags) => {
      setJson(Boolean(opts.json));
      if (opts.allowLargeChange && !opts.reason?.trim()) throw new BadInputError("--allow-large-change needs --reason \"why this change is intended\" (it goes into the run log)");
      const progress = createProgress({
        // A live display needs a terminal, and JSON logs want lines a collector can parse.
        mode: opts.quiet ? "none" : io.stderrIsTty && logFormat === "text" ? "bar" : "lines",
        log,
        stream: io.stderrStream,
        everyMs: progressInterval(io.env),
      });
      // Samples of each contract's send for the HTML report's charts over time.
      const samples = new Map<string, SendSample[]>();
      const started = new Map<string, number>();
      let report: Awaited<ReturnType<typeof runSync>>;
      try {
        report = await runSync({
        projectDir: opts.projectDir,
        targetDir: opts.targetDir,
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
        actor: io.env.USER ?? io.env.LOGNAME,
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
      setExit(report.exitCode);
    });
}

/** `--select a,b c` → [a, b, c]. */
export function splitList(values: string[]): string[] {
  return values.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
}
