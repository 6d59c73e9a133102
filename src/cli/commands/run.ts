/** `run [-- dbt build args]`: dbt build, then sync what it proved. */
import type { Command } from "commander";
import type { RunReport } from "../../pipeline/run.ts";
import { formatText } from "../../report/format.ts";
import { connectionOptions, jsonOption, projectOptions, selectOption, splitList, targetPathOf, type ConnectionFlags, type ProjectFlags } from "../flags.ts";
import { EXIT_CODES_HELP, SYNC_ENVIRONMENT_HELP } from "../help.ts";
import type { CommandContext } from "../io.ts";
import { actorFromEnv } from "../../config/env.ts";

interface RunFlags extends ProjectFlags, ConnectionFlags {
  select: string[];
  json?: boolean;
}

/** Resolves when the process is asked to stop, so dbt is stopped too (an orchestrator's SIGTERM reaches us only). */
function stopSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return { signal: controller.signal, dispose: () => (process.off("SIGINT", stop), process.off("SIGTERM", stop)) };
}

export function formatRunText(report: RunReport): string {
  const lines = [`dbt build exited with ${report.dbt.exitCode}${report.dbt.invocationId ? ` (invocation ${report.dbt.invocationId})` : ""}`];
  if (report.dbt.problem) lines.push(report.dbt.problem);
  lines.push(...report.notes);
  if (report.sync) lines.push("", formatText(report.sync));
  else if (!report.dbt.problem) lines.push("no contract's model ran in this build: nothing to sync");
  lines.push(`run: exit code ${report.exitCode}`);
  return lines.join("\n");
}

export function registerRun(program: Command, { io, setExit, setJson, log, logFormat }: CommandContext): void {
  connectionOptions(projectOptions(program.command("run"), "manifest.json and run_results.json (passed to dbt as --target-path)"))
    .description("Run the project's dbt build (arguments after -- go to it), then sync the contracts that build proved")
    .argument("[dbt-args...]", "after --: dbt build's own flags (--select, --exclude, --selector, --vars, --full-refresh, --target, …)")
    .addOption(selectOption("sync only these contracts (default: every contract whose model ran in the build); dbt's --select goes after --"))
    .addOption(jsonOption("print the report as JSON on stdout (dbt's output then goes to stderr)"))
    .addHelpText("after", `\nExample:\n  dbt-activation run -- --select +tag:activation --vars '{day: 2026-11-29}' --target prod\n${EXIT_CODES_HELP}\n${SYNC_ENVIRONMENT_HELP}`)
    .action(async (dbtArgs: string[], opts: RunFlags) => {
      setJson(Boolean(opts.json));
      const [{ runBuildAndSync }, { createProgress }] = await Promise.all([import("../../pipeline/run.ts"), import("../progress.ts")]);
      const stop = stopSignal();
      const progress = createProgress({ mode: io.stderrIsTty && logFormat === "text" ? "bar" : "lines", log, stream: io.stderrStream });
      try {
        const report = await runBuildAndSync({
          dbtArgs,
          projectDir: opts.projectDir,
          targetPath: targetPathOf(opts),
          profilesDir: opts.profilesDir,
          target: opts.target,
          ledgerSchema: opts.ledgerSchema,
          select: splitList(opts.select),
          env: io.env,
          cwd: io.cwd,
          onDbtOutput: opts.json ? io.stderr : io.stdout,
          onSendStart: (contract, rows) => progress.start(contract, rows),
          onProgress: (contract, summary) => progress.update(contract, summary),
          actor: actorFromEnv(io.env),
          signal: stop.signal,
        });
        io.stdout(`${opts.json ? JSON.stringify(report, null, 2) : formatRunText(report)}\n`);
        setExit(report.exitCode);
      } finally {
        progress.stop();
        stop.dispose();
      }
    });
}
