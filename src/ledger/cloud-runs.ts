/**
 * The dbt Cloud runs `serve` accepted (activation_cloud_runs): claimed once per run id, so a duplicate delivery
 * (dbt Cloud retries a delivery up to five times) syncs nothing, and what a stopped server had accepted but not
 * finished is taken up again when it starts.
 */
import type { Warehouse } from "../warehouse/types.ts";
import type { LedgerTables } from "./migrations.ts";

/** queued → syncing → done | failed | interrupted (stopped by shutdown: resumed on the next start). */
export type CloudRunStatus = "queued" | "syncing" | "done" | "failed" | "interrupted";

export interface CloudRunRow {
  runId: string;
  jobId: string | null;
  status: CloudRunStatus;
  attempts: number;
  exitCode: number | null;
  detail: string | null;
}

/** Statuses a new delivery or a restart takes up again. */
const RESUMABLE: CloudRunStatus[] = ["queued", "syncing", "interrupted"];

export class CloudRuns {
  readonly #w: Warehouse;
  readonly #t: LedgerTables;

  constructor(warehouse: Warehouse, tables: LedgerTables) {
    this.#w = warehouse;
    this.#t = tables;
  }

  async get(accountId: string, runId: string): Promise<CloudRunRow | undefined> {
    const p = this.#w.dialect.param;
    const [row] = await this.#w.query(`select run_id, job_id, status, attempts, exit_code, detail from ${this.#t.cloudRuns} where account_id = ${p(1)} and run_id = ${p(2)}`, [accountId, runId]);
    return row ? toRow(row) : undefined;
  }

  /**
   * Records a delivered run as queued, once: true when this delivery claimed it, false when the run was already
   * known (a duplicate). A run that failed is claimed again, so a redelivery retries it. The primary key decides a
   * race between two servers on engines that enforce it.
   */
  async claim(accountId: string, runId: string, jobId: string, eventId: string): Promise<boolean> {
    const p = this.#w.dialect.param;
    const now = new Date();
    const known = await this.get(accountId, runId);
    if (known) {
      if (known.status !== "failed") return false;
      await this.#w.execute(`update ${this.#t.cloudRuns} set status = 'queued', event_id = ${p(1)}, updated_at = ${p(2)} where account_id = ${p(3)} and run_id = ${p(4)} and status = 'failed'`, [eventId, now, accountId, runId]);
      return (await this.get(accountId, runId))?.status === "queued";
    }
    try {
      await this.#w.execute(
        `insert into ${this.#t.cloudRuns} (account_id, run_id, job_id, event_id, status, received_at, updated_at, attempts) values (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, 'queued', ${p(5)}, ${p(6)}, 0)`,
        [accountId, runId, jobId, eventId, now, now],
      );
      return true;
    } catch (error) {
      if (await this.get(accountId, runId)) return false;
      throw error;
    }
  }

  async setStatus(accountId: string, runId: string, status: CloudRunStatus, result: { exitCode?: number; detail?: string } = {}): Promise<void> {
    const p = this.#w.dialect.param;
    await this.#w.execute(
      `update ${this.#t.cloudRuns} set status = ${p(1)}, updated_at = ${p(2)}, exit_code = ${p(3)}, detail = ${p(4)},
         attempts = attempts + ${status === "syncing" ? "1" : "0"} where account_id = ${p(5)} and run_id = ${p(6)}`,
      [status, new Date(), result.exitCode ?? null, result.detail?.slice(0, 4000) ?? null, accountId, runId],
    );
  }

  /** Runs accepted but not finished (a server stopped or died meanwhile), oldest first. */
  async unfinished(accountId: string): Promise<CloudRunRow[]> {
    const p = this.#w.dialect.param;
    const rows = await this.#w.query(
      `select run_id, job_id, status, attempts, exit_code, detail from ${this.#t.cloudRuns} where account_id = ${p(1)} and status in (${RESUMABLE.map((_s, i) => p(i + 2)).join(", ")}) order by received_at`,
      [accountId, ...RESUMABLE],
    );
    return rows.map(toRow);
  }
}

function toRow(row: Record<string, unknown>): CloudRunRow {
  return {
    runId: String(row.run_id),
    jobId: row.job_id === null || row.job_id === undefined ? null : String(row.job_id),
    status: String(row.status) as CloudRunStatus,
    attempts: Number(row.attempts ?? 0),
    exitCode: row.exit_code === null || row.exit_code === undefined ? null : Number(row.exit_code),
    detail: row.detail === null || row.detail === undefined ? null : String(row.detail),
  };
}
