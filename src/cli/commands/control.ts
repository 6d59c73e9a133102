/** `pause`, `resume` and `status`: the kill switch and what the syncer's tables say about each contract. */
import type { Command } from "commander";
import { ALL_CONTRACTS, contractScope, readStatus, setKillSwitch } from "../../pipeline/control.ts";
import type { SessionOptions } from "../../pipeline/session.ts";
import { EXIT } from "../../exit-codes.ts";
import type { CommandContext } from "../io.ts";

interface ConnectionFlags {
  projectDir: string;
  profilesDir?: string;
  target?: string;
  ledgerSchema?: string;
}

function connectionOptions(command: Command): Command {
  return command
    .requiredOption("--project-dir <dir>", "the dbt project (its profile names the warehouse)")
    .option("--profiles-dir <dir>", "the directory of profiles.yml")
    .option("--target <name>", "the profile target")
    .option("--ledger-schema <schema>", "where the syncer's tables live (default: the profile target's schema)");
}

function sessionOptions(flags: ConnectionFlags, context: CommandContext): SessionOptions {
  return { ...flags, env: context.io.env, cwd: context.io.cwd };
}

export function registerControl(program: Command, context: CommandContext): void {
  const { io, setExit, setJson } = context;
  for (const [name, paused] of [["pause", true], ["resume", false]] as const) {
    connectionOptions(
      program
        .command(name)
        .description(paused ? "Throw the kill switch: the contract (or all) stops before its next batch and does not run until resumed" : "Lift the kill switch"),
    )
      .option("--contract <name>", "the contract")
      .option("--all", "every contract")
      .option("--reason <text>", "why (recorded with the switch)")
      .action(async (opts: ConnectionFlags & { contract?: string; all?: boolean; reason?: string }) => {
        const scope = contractScope(opts);
        await setKillSwitch(sessionOptions(opts, context), scope, paused, opts.reason, io.env.USER ?? io.env.LOGNAME);
        io.stdout(`${scope === ALL_CONTRACTS ? "every contract" : scope}: ${paused ? "paused" : "resumed"}\n`);
        setExit(EXIT.ok);
      });
  }

  connectionOptions(program.command("status").description("Per contract: the last run, the ledger, dead letters waiting for replay, and the kill switch"))
    .option("--json", "print as JSON")
    .action(async (opts: ConnectionFlags & { json?: boolean }) => {
      setJson(Boolean(opts.json));
      const { contracts, paused } = await readStatus(sessionOptions(opts, context));
      if (opts.json) io.stdout(`${JSON.stringify({ contracts, paused }, null, 2)}\n`);
      else {
        if (contracts.length === 0) io.stdout("no runs recorded yet\n");
        for (const c of contracts) {
          const r = c.lastRun;
          const at = (t: unknown): string => (t instanceof Date ? t.toISOString() : String(t));
          const last = !r
            ? "never run"
            : r.status === "running"
              ? `a run has been going since ${at(r.startedAt)} (or its runner died: the next run marks it abandoned)`
              : `last run ${String(r.status)} at ${at(r.finishedAt ?? r.startedAt)} (${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${r.failed} failed)`;
          io.stdout(`${c.contract}: ${c.paused ? "PAUSED" : "active"}; ${last}; ${c.ledgerRows} rows in the ledger; ${c.deadLettersPending} dead letters to replay\n`);
        }
        for (const p of paused.filter((x) => x.contract === ALL_CONTRACTS)) io.stdout(`every contract is paused${p.reason ? `: ${p.reason}` : ""}\n`);
      }
      setExit(EXIT.ok);
    });
}
