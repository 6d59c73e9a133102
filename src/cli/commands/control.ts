/** `pause`, `resume` and `status`: the kill switch and what the syncer's tables say about each contract. */
import { Option, type Command } from "commander";
import { resolveProjectDir } from "../../dbt/project.ts";
import type { SessionOptions } from "../../pipeline/session.ts";
import { EXIT } from "../../exit-codes.ts";
import { connectionOptions, jsonOption, projectOptions, targetPathOf, type ConnectionFlags, type ProjectFlags } from "../flags.ts";
import type { CommandContext } from "../io.ts";
import { actorFromEnv } from "../../config/env.ts";

function controlOptions(command: Command): Command {
  return connectionOptions(command.addOption(new Option("--project-dir <dir>", "the dbt project, whose profile names the warehouse (default, as dbt: the working directory or its nearest parent with dbt_project.yml)")));
}

function sessionOptions(flags: ConnectionFlags, context: CommandContext): SessionOptions {
  return { ...flags, projectDir: resolveProjectDir(flags.projectDir, context.io.cwd), env: context.io.env, cwd: context.io.cwd };
}

export function registerControl(program: Command, context: CommandContext): void {
  const { io, setExit, setJson } = context;
  for (const [name, paused] of [["pause", true], ["resume", false]] as const) {
    controlOptions(
      program
        .command(name)
        .description(paused ? "Throw the kill switch: the contract (or all) stops before its next batch and does not run until resumed" : "Lift the kill switch"),
    )
      .option("--contract <name>", "the contract")
      .option("--all", "every contract")
      .option("--reason <text>", "why (recorded with the switch)")
      .option("--json", "print the result as JSON")
      .action(async (opts: ConnectionFlags & { contract?: string; all?: boolean; reason?: string; json?: boolean }) => {
        setJson(Boolean(opts.json));
        const { ALL_CONTRACTS, contractScope, setKillSwitch } = await import("../../pipeline/control.ts");
        const scope = contractScope(opts);
        const actor = actorFromEnv(io.env);
        await setKillSwitch(sessionOptions(opts, context), scope, paused, opts.reason, actor);
        if (opts.json) io.stdout(`${JSON.stringify({ contract: scope, paused, reason: opts.reason?.trim() ?? null, actor: actor ?? null, exitCode: EXIT.ok }, null, 2)}\n`);
        else io.stdout(`${scope === ALL_CONTRACTS ? "every contract" : scope}: ${paused ? "paused" : "resumed"}\n`);
        setExit(EXIT.ok);
      });
  }

  connectionOptions(projectOptions(program.command("status").description("Per contract (every contract of the manifest): the last run, the ledger, records waiting in dead letters, and the kill switch"), "manifest.json, to list every contract"))
    .addOption(jsonOption("print as JSON"))
    .action(async (opts: ConnectionFlags & ProjectFlags & { json?: boolean }) => {
      setJson(Boolean(opts.json));
      const [{ runStatus }, { ALL_CONTRACTS }] = await Promise.all([import("../../pipeline/status.ts"), import("../../pipeline/control.ts")]);
      const { contracts, paused, publishedBy } = await runStatus({ ...sessionOptions(opts, context), targetPath: targetPathOf(opts) });
      if (opts.json) io.stdout(`${JSON.stringify({ contracts, paused, ...(publishedBy ? { publishedBy } : {}) }, null, 2)}\n`);
      else {
        if (publishedBy) {
          const shard = publishedBy.shard ? ` --shard ${publishedBy.shard}` : "";
          io.stdout(`a ${publishedBy.command}${shard} (pid ${publishedBy.pid} on ${publishedBy.host}, since ${publishedBy.since}) holds the DuckDB database: its status as of ${publishedBy.writtenAt}, the kill switch as of now\n`);
        }
        if (contracts.length === 0) io.stdout("no contracts declared and no runs recorded yet\n");
        const at = (t: unknown): string => (t instanceof Date ? t.toISOString() : String(t));
        for (const c of contracts) {
          const r = c.lastRun;
          const held = r && r.failedUnchanged + r.retryLater > 0 ? `, ${r.failedUnchanged + r.retryLater} held by dead letters` : "";
          const last = !r
            ? "never run"
            : r.status === "running" && publishedBy
              ? `running since ${at(r.startedAt)} (${r.created} created, ${r.updated} updated, ${r.failed} failed so far)`
              : r.status === "running"
              ? `a run has been going since ${at(r.startedAt)} (or its runner died: the next run marks it abandoned)`
              : r.status === "gated"
                ? `last run held by the gate at ${at(r.startedAt)}: ${r.stopReason ?? "?"}`
                : r.status === "held"
                  ? `last run held by the kill switch at ${at(r.startedAt)}: ${r.stopReason ?? "?"}`
                : r.status === "refused"
                  ? `last run refused at ${at(r.startedAt)}: ${r.stopReason ?? "?"}`
                : `last run ${r.status} at ${at(r.finishedAt ?? r.startedAt)} (${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${r.failed} failed${held})`;
          const letters = `${c.deadLettersPending} records in dead letters${c.deadLettersPending > 0 ? ` (${c.deadLettersPermanent} permanent, ${c.deadLettersTransient} transient)` : ""}`;
          io.stdout(`${c.contract}: ${c.paused ? "PAUSED" : "active"}; ${last}; ${c.ledgerRows} rows in the ledger; ${letters}${c.declared ? "" : "; not in the manifest"}\n`);
        }
        for (const p of paused.filter((x) => x.contract === ALL_CONTRACTS)) io.stdout(`every contract is paused${p.reason ? `: ${p.reason}` : ""}\n`);
      }
      setExit(EXIT.ok);
    });
}
