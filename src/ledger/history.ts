/** Reads of the run log and dead letters for reports: a contract's last runs, and a run's failures by reason. */
import type { Warehouse } from "../warehouse/types.ts";
import type { LedgerTables } from "./migrations.ts";

export interface HistoryRun {
  runId: string;
  contract: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  status: string;
  counts: { eligible: number; created: number; updated: number; unchanged: number; removed: number; failed: number; rejected: number; skipped: number; notSent: number };
  stopReason: string | null;
}

export interface FailureReason {
  reason: string;
  count: number;
  /** A few keys that failed for it (the report is the operator's own file; alerts never carry keys). */
  samples: { key: string; message: string }[];
}

const n = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const date = (v: unknown): Date | null => (v instanceof Date ? v : v ? new Date(String(v)) : null);

/** The last `limit` runs per contract (all contracts, or those named), newest first. */
export async function runHistory(warehouse: Warehouse, tables: LedgerTables, options: { contracts?: string[]; limit: number; runId?: string }): Promise<HistoryRun[]> {
  const p = warehouse.dialect.param;
  const where: string[] = [];
  const params: string[] = [];
  if (options.runId) {
    params.push(options.runId);
    where.push(`run_id = ${p(params.length)}`);
  }
  const rows = await warehouse.query(
    `select run_id, contract_name, started_at, finished_at, status, rows_eligible, rows_created, rows_updated, rows_unchanged, rows_removed,
            rows_failed, rows_rejected, rows_skipped, rows_not_sent, stop_reason
     from ${tables.runLog} ${where.length ? `where ${where.join(" and ")}` : ""} order by contract_name, started_at desc`,
    params,
  );
  const perContract = new Map<string, number>();
  const runs: HistoryRun[] = [];
  for (const r of rows) {
    const contract = String(r.contract_name);
    if (options.contracts?.length && !options.contracts.includes(contract)) continue;
    const seen = perContract.get(contract) ?? 0;
    if (seen >= options.limit) continue;
    perContract.set(contract, seen + 1);
    runs.push({
      runId: String(r.run_id),
      contract,
      startedAt: date(r.started_at),
      finishedAt: date(r.finished_at),
      status: String(r.status ?? "running"),
      counts: {
        eligible: n(r.rows_eligible),
        created: n(r.rows_created),
        updated: n(r.rows_updated),
        unchanged: n(r.rows_unchanged),
        removed: n(r.rows_removed),
        failed: n(r.rows_failed),
        rejected: n(r.rows_rejected),
        skipped: n(r.rows_skipped),
        notSent: n(r.rows_not_sent),
      },
      stopReason: (r.stop_reason as string | null) ?? null,
    });
  }
  return runs;
}

/** A run's dead letters grouped by error code, most frequent first, with three sample keys each. */
export async function failureReasons(warehouse: Warehouse, tables: LedgerTables, runId: string): Promise<FailureReason[]> {
  const p = warehouse.dialect.param;
  const rows = await warehouse.query(`select error_code, sync_key, message from ${tables.deadLetters} where run_id = ${p(1)} order by error_code, sync_key`, [runId]);
  const byReason = new Map<string, FailureReason>();
  for (const r of rows) {
    const reason = String(r.error_code ?? "unknown");
    const entry = byReason.get(reason) ?? { reason, count: 0, samples: [] };
    entry.count += 1;
    if (entry.samples.length < 3) entry.samples.push({ key: String(r.sync_key), message: String(r.message ?? "").slice(0, 300) });
    byReason.set(reason, entry);
  }
  return [...byReason.values()].sort((a, b) => b.count - a.count);
}
