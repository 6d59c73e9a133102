/** `rollback`, `reconcile` and `replay`. */
import type { Command } from "commander";
import type { SendSummary } from "../../engine/send.ts";
import type { RecoverOptions } from "../../pipeline/recover.ts";
import { connectionOptions, jsonOption, projectOptions, targetPathOf, type ConnectionFlags, type ProjectFlags } from "../flags.ts";
import { EXIT } from "../../exit-codes.ts";
import { formatText, toJson } from "../../report/format.ts";
import type { CommandContext } from "../io.ts";
import { actorFromEnv } from "../../config/env.ts";

interface Flags extends ProjectFlags, ConnectionFlags {
  contract: string;
  json?: boolean;
}

function withFlags(command: Command): Command {
  return connectionOptions(projectOptions(command, "manifest.json")).requiredOption("--contract <name>", "the contract").addOption(jsonOption());
}

function recoverOptions(opts: Flags, io: CommandContext["io"]): RecoverOptions {
  return { ...opts, targetPath: targetPathOf(opts), env: io.env, cwd: io.cwd };
}

function summaryLine(s: SendSummary): string {
  return `${s.created + s.updated} written, ${s.failed} failed, ${s.notSent} not sent (${s.requests} requests)`;
}

export function registerRecover(program: Command, { io, setExit, setJson }: CommandContext): void {
  withFlags(program.command("rollback").description("Undo a run as the contract's monitoring.rollback declares (restore_previous: the values sent before it; clear_fields: empty the fields it wrote; manual: refused); pauses the contract"))
    .requiredOption("--run <id>", "the run to undo (run_id in the run log; see `status`)")
    .action(async (opts: Flags & { run: string }) => {
      setJson(Boolean(opts.json));
      const { runRollback } = await import("../../pipeline/recover.ts");
      const result = await runRollback({ ...recoverOptions(opts, io), runId: opts.run });
      io.stdout(
        opts.json
          ? `${JSON.stringify(result, null, 2)}\n`
          : result.strategy === "clear_fields"
            ? `${result.contract}: cleared the mapped fields of ${result.records} records of run ${opts.run} (monitoring.rollback: clear_fields): ${summaryLine(result.summary)}; ` +
              `the contract is paused until \`dbt-activation resume\`\n`
            : `${result.contract}: restored ${result.records} records of run ${opts.run}: ${summaryLine(result.summary)}; ` +
              `${result.notRestorable} created by that run have no earlier values; the contract is paused until \`dbt-activation resume\`\n`,
      );
      setExit(result.summary.failed + result.summary.notSent > 0 ? EXIT.rowsFailed : EXIT.ok);
    });

  withFlags(program.command("reconcile").description("Read the destination back for every key the ledger knows, write the destination snapshot, and classify discrepancies"))
    .action(async (opts: Flags) => {
      setJson(Boolean(opts.json));
      const { runReconcile } = await import("../../pipeline/reconcile.ts");
      const result = await runReconcile(recoverOptions(opts, io));
      const total = Object.values(result.counts).reduce((a, b) => a + b, 0);
      if (opts.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
      else {
        io.stdout(`${result.contract}: ${result.checked} keys read back, ${result.snapshotRows} rows in the destination snapshot, ${total} discrepancies\n`);
        for (const [kind, n] of Object.entries(result.counts)) if (n > 0) io.stdout(`  ${kind}: ${n}\n`);
        for (const s of result.samples.slice(0, 10)) io.stdout(`  ${s.discrepancy} ${s.key}: ${s.detail}\n`);
      }
      setExit(total > 0 ? EXIT.rowsFailed : EXIT.ok);
    });

  withFlags(program.command("replay").description("Sync the dead-lettered keys of a contract again, as today's eligible rows, through the gate of --target-path's artifacts"))
    .action(async (opts: Flags) => {
      setJson(Boolean(opts.json));
      const { runReplay } = await import("../../pipeline/recover.ts");
      const report = await runReplay({ ...recoverOptions(opts, io), actor: actorFromEnv(io.env) });
      io.stdout(`${opts.json ? toJson(report) : `replay of the dead letters of ${opts.contract}\n${formatText(report)}`}\n`);
      setExit(report.exitCode);
    });
}
