/** What the syncer's tables say about each contract, for `status`: its latest run, its ledger and its dead letters. */
import type { Warehouse } from "../warehouse/types.ts";
import type { LedgerTables } from "./migrations.ts";

export interface LastRun {
  runId: unknown;
  status: unknown;
  startedAt: unknown;
  finishedAt: unknown;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  stopReason: unknown;
}

export interface ContractLedgerState {
  contract: string;
  lastRun: LastRun | null;
  /** Records the ledger holds as synced. */
  ledgerRows: number;
  deadLettersPending: number;
}

/** One entry per contract that has a run, a ledger row or a dead letter, by name. */
export async function ledgerStates(warehouse: Warehouse, tables: LedgerTables): Promise<ContractLedgerState[]> {
  const lastRuns = await warehouse.query(
    // The latest run by start: a run still going (or killed) has no finish time yet.
    `select r.contract_name, r.run_id, r.status, r.started_at, r.finished_at, r.rows_created, r.rows_updated, r.rows_unchanged, r.rows_failed, r.stop_reason
     from ${tables.runLog} as r
     where r.started_at = (select max(started_at) from ${tables.runLog} as x where x.contract_name = r.contract_name)
     order by r.contract_name`,
  );
  const ledgerRows = await warehouse.query(`select contract_name, count(*) as n from ${tables.ledger} where status = 'synced' group by contract_name`);
  const pending = await warehouse.query(`select contract_name, count(*) as n from ${tables.deadLetters} where replayed_at is null group by contract_name`);
  const count = (rows: Record<string, unknown>[], contract: string): number => Number(rows.find((r) => r.contract_name === contract)?.n ?? 0);
  const names = [...new Set([...lastRuns, ...ledgerRows, ...pending].map((r) => String(r.contract_name)))].sort();
  return names.map((contract) => {
    const run = lastRuns.find((r) => r.contract_name === contract);
    return {
      contract,
      lastRun: run
        ? {
            runId: run.run_id,
            status: run.status,
            startedAt: run.started_at,
            finishedAt: run.finished_at,
            created: Number(run.rows_created),
            updated: Number(run.rows_updated),
            unchanged: Number(run.rows_unchanged),
            failed: Number(run.rows_failed),
            stopReason: run.stop_reason,
          }
        : null,
      ledgerRows: count(ledgerRows, contract),
      deadLettersPending: count(pending, contract),
    };
  });
}
