/**
 * Writes the ledger, dead letters and run log. The ledger is checkpointed after every acknowledged batch, in one
 * transaction per batch, so a run killed at any point and rerun resends at most the batch that was in flight.
 */
import type { RecordOutcome } from "../destinations/types.ts";
import type { PlannedRecord } from "../plan/diff.ts";
import type { SqlParam, Warehouse } from "../warehouse/types.ts";
import type { LedgerTables } from "./migrations.ts";

/** JSON text for the warehouse: Dates as ISO strings, bigints as strings. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

export interface RunStart {
  runId: string;
  contract: string;
  invocationId: string;
  startedAt: Date;
  mode: string;
  actor?: string | undefined;
}

/** Rows per class, as the run log keeps them. */
export interface RunCounts {
  eligible: number;
  created: number;
  updated: number;
  unchanged: number;
  removed: number;
  failed: number;
  rejected: number;
  skipped?: number;
  notSent?: number;
}

export interface RunEnd {
  runId: string;
  contract: string;
  finishedAt: Date;
  /** success | partial | interrupted | paused | stopped | error */
  status: string;
  counts: RunCounts;
  stopReason?: string | undefined;
  overrideReason?: string | undefined;
}

export class Ledger {
  readonly tables: LedgerTables;
  readonly #warehouse: Warehouse;

  constructor(warehouse: Warehouse, tables: LedgerTables) {
    this.#warehouse = warehouse;
    this.tables = tables;
  }

  #placeholders(rows: number, columns: number, offset = 0): string {
    const p = this.#warehouse.dialect.param;
    return Array.from({ length: rows }, (_, r) => `(${Array.from({ length: columns }, (_, c) => p(offset + r * columns + c + 1)).join(", ")})`).join(", ");
  }

  /** Records one acknowledged batch: written rows into the ledger, failed rows into dead letters. */
  async checkpoint(contract: string, runId: string, records: PlannedRecord[], outcomes: RecordOutcome[]): Promise<void> {
    const w = this.#warehouse;
    const p = w.dialect.param;
    const now = new Date();
    const byKey = new Map(records.map((r) => [r.key, r]));
    const written = outcomes.filter((o): o is Extract<RecordOutcome, { recordId: string }> => o.status !== "failed");
    const failed = outcomes.filter((o): o is Extract<RecordOutcome, { status: "failed" }> => o.status === "failed");
    await w.transaction(async () => {
      if (written.length > 0) {
        const keys = written.map((o) => o.key);
        const keyList = keys.map((_, i) => p(i + 2)).join(", ");
        // What we sent before this write becomes previous_values: `rollback` restores it.
        const previous = new Map(
          (await w.query(`select sync_key, last_sent_values from ${this.tables.ledger} where contract_name = ${p(1)} and sync_key in (${keyList})`, [contract, ...keys])).map(
            (r) => [String(r.sync_key), (r.last_sent_values as string | null) ?? null],
          ),
        );
        await w.execute(`delete from ${this.tables.ledger} where contract_name = ${p(1)} and sync_key in (${keyList})`, [contract, ...keys]);
        const params: SqlParam[] = written.flatMap((o) => [
          contract,
          o.key,
          byKey.get(o.key)?.hash ?? null,
          o.recordId,
          toJsonText(byKey.get(o.key)?.fields ?? {}),
          previous.get(o.key) ?? null,
          now,
          runId,
          "synced",
        ]);
        await w.execute(
          `insert into ${this.tables.ledger} (contract_name, sync_key, row_hash, destination_record_id, last_sent_values, previous_values, synced_at, run_id, status) values ${this.#placeholders(written.length, 9)}`,
          params,
        );
      }
      if (failed.length > 0) {
        const params: SqlParam[] = failed.flatMap((o) => [runId, contract, o.key, "rejected", o.code, o.message, toJsonText(byKey.get(o.key)?.fields ?? {}), now]);
        await w.execute(
          `insert into ${this.tables.deadLetters} (run_id, contract_name, sync_key, error_class, error_code, message, payload, created_at) values ${this.#placeholders(failed.length, 8)}`,
          params,
        );
      }
    });
  }

  /** Records keys whose destination records were cleared, deleted or left a list: their ledger rows become `removed`. */
  async markRemoved(contract: string, runId: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const p = this.#warehouse.dialect.param;
    await this.#warehouse.execute(
      `update ${this.tables.ledger} set status = 'removed', run_id = ${p(1)}, synced_at = ${p(2)} where contract_name = ${p(3)} and sync_key in (${keys.map((_, i) => p(i + 4)).join(", ")})`,
      [runId, new Date(), contract, ...keys],
    );
  }

  /** Dead letters for requests that failed outside a write batch (removals, audience membership). */
  async deadLetters(contract: string, runId: string, failures: { key: string; code: string; message: string }[], errorClass = "rejected"): Promise<void> {
    if (failures.length === 0) return;
    const now = new Date();
    const params: SqlParam[] = failures.flatMap((f) => [runId, contract, f.key, errorClass, f.code, f.message, "{}", now]);
    await this.#warehouse.execute(
      `insert into ${this.tables.deadLetters} (run_id, contract_name, sync_key, error_class, error_code, message, payload, created_at) values ${this.#placeholders(failures.length, 8)}`,
      params,
    );
  }

  /**
   * The run's row in the run log, written before anything is planned or sent: a run killed at any point leaves its
   * row behind with status `running` and no finish time (the next runner marks it `abandoned`).
   */
  async startRun(run: RunStart): Promise<void> {
    const values: SqlParam[] = [run.runId, run.contract, run.invocationId, run.startedAt, "running", run.mode, true, "[]", run.actor ?? null];
    await this.#warehouse.execute(
      `insert into ${this.tables.runLog} (run_id, contract_name, invocation_id, started_at, status, mode, gate_passed, gate_reasons, actor)
        values ${this.#placeholders(1, values.length)}`,
      values,
    );
  }

  /** Completes the run's row: how it ended, the rows per class, why it stopped and what was overridden. */
  async finishRun(entry: RunEnd): Promise<void> {
    const c = entry.counts;
    const p = this.#warehouse.dialect.param;
    const values: SqlParam[] = [
      entry.finishedAt, entry.status, c.eligible, c.created, c.updated, c.unchanged, c.removed, c.failed, c.rejected, c.skipped ?? 0, c.notSent ?? 0,
      entry.stopReason ?? null, entry.overrideReason ?? null, entry.runId, entry.contract,
    ];
    await this.#warehouse.execute(
      `update ${this.tables.runLog} set finished_at = ${p(1)}, status = ${p(2)}, rows_eligible = ${p(3)}, rows_created = ${p(4)}, rows_updated = ${p(5)},
        rows_unchanged = ${p(6)}, rows_removed = ${p(7)}, rows_failed = ${p(8)}, rows_rejected = ${p(9)}, rows_skipped = ${p(10)}, rows_not_sent = ${p(11)},
        stop_reason = ${p(12)}, override_reason = ${p(13)}
        where run_id = ${p(14)} and contract_name = ${p(15)}`,
      values,
    );
  }

  /**
   * Marks the contract's runs still `running` whose runner is gone (it holds no lease) as `abandoned`: killed, or
   * its machine lost. Called by the runner that has just taken the contract's lease.
   */
  async abandonRuns(contract: string, liveRunIds: string[]): Promise<number> {
    const p = this.#warehouse.dialect.param;
    const running = await this.#warehouse.query(`select run_id from ${this.tables.runLog} where contract_name = ${p(1)} and status = 'running'`, [contract]);
    const dead = running.map((r) => String(r.run_id)).filter((id) => !liveRunIds.includes(id));
    if (dead.length === 0) return 0;
    await this.#warehouse.execute(
      `update ${this.tables.runLog} set status = 'abandoned', stop_reason = ${p(1)} where contract_name = ${p(2)} and status = 'running' and run_id in (${dead.map((_, i) => p(i + 3)).join(", ")})`,
      ["the runner stopped without finishing (killed?); the next run resent what its ledger did not record", contract, ...dead],
    );
    return dead.length;
  }
}
