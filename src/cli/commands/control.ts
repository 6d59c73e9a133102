/** `pause`, `resume` and `status`: the kill switch and what the syncer's tables say about each contract. */
import type { Command } from "commander";
import { BadInputError } from "../../errors.ts";
import { ALL_CONTRACTS } from "../../ledger/controls.ts";
import { openLedgerSession, type SessionOptions } from "../../pipeline/session.ts";
import { EXIT } from "../../report/exit-codes.ts";
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

function contractScope(opts: { contract?: string; all?: boolean }): string {
  if (Boolean(opts.contract) === Boolean(opts.all)) throw new BadInputError("name one --contract, or --all");
  return opts.all ? ALL_CONTRACTS : opts.contract!;
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
      .option("--json", "print the result as JSON")
      .action(async (opts: ConnectionFlags & { contract?: string; all?: boolean; reason?: string; json?: boolean }) => {
        setJson(Boolean(opts.json));
        const scope = contractScope(opts);
        if (paused && !opts.reason?.trim()) throw new BadInputError("pause needs --reason \"why\": the next runner and the status command show it");
        const session = await openLedgerSession(sessionOptions(opts, context));
        const actor = io.env.USER ?? io.env.LOGNAME;
        try {
          await session.controls.setPaused(scope, paused, opts.reason?.trim(), actor);
        } finally {
          await session.close();
        }
        if (opts.json) io.stdout(`${JSON.stringify({ contract: scope, paused, reason: opts.reason?.trim() ?? null, actor: actor ?? null, exitCode: EXIT.ok }, null, 2)}\n`);
        else io.stdout(`${scope === ALL_CONTRACTS ? "every contract" : scope}: ${paused ? "paused" : "resumed"}\n`);
        setExit(EXIT.ok);
      });
  }

  connectionOptions(program.command("status").description("Per contract: the last run, the ledger, dead letters waiting for replay, and the kill switch"))
    .option("--json", "print as JSON")
    .action(async (opts: ConnectionFlags & { json?: boolean }) => {
      setJson(Boolean(opts.json));
      const session = await openLedgerSession(sessionOptions(opts, context));
      try {
        const { warehouse, tables } = session;
        const lastRuns = await warehouse.query(
          // The latest run by start: a run still going (or killed) has no finish time yet.
          `select r.contract_name, r.run_id, r.status, r.started_at, r.finished_at, r.rows_created, r.rows_updated, r.rows_unchanged, r.rows_failed, r.stop_reason
           from ${tables.runLog} as r
           where r.started_at = (select max(started_at) from ${tables.runLog} as x where x.contract_name = r.contract_name)
           order by r.contract_name`,
        );
        const ledgerRows = await warehouse.query(`select contract_name, count(*) as n from ${tables.ledger} where status = 'synced' group by contract_name`);
        const pending = await warehouse.query(`select contract_name, count(*) as n from ${tables.deadLetters} where replayed_at is null group by contract_name`);
        const paused = await session.controls.pausedContracts();
        const count = (rows: Record<string, unknown>[], contract: string): number => Number(rows.find((r) => r.contract_name === contract)?.n ?? 0);
        const names = [...new Set([...lastRuns, ...ledgerRows, ...pending].map((r) => String(r.contract_name)))].sort();
        const contracts = names.map((contract) => {
          const run = lastRuns.find((r) => r.contract_name === contract);
          return {
            contract,
            paused: paused.find((p) => p.contract === contract || p.contract === ALL_CONTRACTS) ?? null,
            lastRun: run
              ? { runId: run.run_id, status: run.status, startedAt: run.started_at, finishedAt: run.finished_at, created: Number(run.rows_created), updated: Number(run.rows_updated), unchanged: Number(run.rows_unchanged), failed: Number(run.rows_failed), stopReason: run.stop_reason }
              : null,
            ledgerRows: count(ledgerRows, contract),
            deadLettersPending: count(pending, contract),
          };
        });
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
      } finally {
        await session.close();
      }
    });
}
