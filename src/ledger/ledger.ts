/**
 * Writes the ledger, dead letters and run log. The ledger is checkpointed as batches are acknowledged, in one
 * transaction per group of batches (src/engine/send.ts), so a run killed at any point and rerun resends at most the
 * batches that were in flight.
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

/** A column the ledger inserts into, with the kind of value it holds (what an insert casts its text back to). */
interface InsertColumn {
  name: string;
  kind: "text" | "timestamp";
}

const text = (name: string): InsertColumn => ({ name, kind: "text" });
const timestamp = (name: string): InsertColumn => ({ name, kind: "timestamp" });

const DEAD_LETTER_COLUMNS = [...["run_id", "contract_name", "sync_key", "error_class", "error_code", "message", "payload"].map(text), timestamp("created_at")];
const LEDGER_COLUMNS = [
  ...["contract_name", "sync_key", "row_hash", "destination_record_id", "last_sent_values", "previous_values"].map(text),
  timestamp("synced_at"),
  ...["run_id", "status"].map(text),
];

/** A Date as the warehouse's timestamp text: UTC, no zone suffix (the ledger's timestamps are UTC instants). */
function utcTimestampText(date: Date): string {
  return date.toISOString().replace("T", " ").replace("Z", "");
}

/** Rows per statement in a checkpoint: 500 × 9 parameters stays far inside PostgreSQL's 65,535 and BigQuery's limits. */
const CHECKPOINT_SLICE = 500;

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

  /**
   * Records acknowledged batches in one transaction: written rows into the ledger, failed rows into dead letters.
   * Statements go in slices of CHECKPOINT_SLICE rows, inside the bind-parameter limits of every engine.
   */
  async checkpoint(contract: string, runId: string, records: PlannedRecord[], outcomes: RecordOutcome[]): Promise<void> {
    const w = this.#warehouse;
    const now = new Date();
    const byKey = new Map(records.map((r) => [r.key, r]));
    // One outcome per key (the last): a key is never in two batches in flight, but a slice must not hold it twice.
    const latest = [...new Map(outcomes.map((o) => [o.key, o])).values()];
    const written = latest.filter((o): o is Extract<RecordOutcome, { recordId: string }> => o.status !== "failed");
    const failed = latest.filter((o): o is Extract<RecordOutcome, { status: "failed" }> => o.status === "failed");
    await w.transaction(async () => {
      for (let i = 0; i < written.length; i += CHECKPOINT_SLICE) await this.#writeLedgerRows(contract, runId, written.slice(i, i + CHECKPOINT_SLICE), byKey, now);
      for (let i = 0; i < failed.length; i += CHECKPOINT_SLICE) {
        const slice = failed.slice(i, i + CHECKPOINT_SLICE);
        const rows = slice.map((o): SqlParam[] => [runId, contract, o.key, "rejected", o.code, o.message, toJsonText(byKey.get(o.key)?.fields ?? {}), now]);
        await this.#insert(this.tables.deadLetters, DEAD_LETTER_COLUMNS, rows);
      }
    });
  }

  async #writeLedgerRows(contract: string, runId: string, written: Extract<RecordOutcome, { recordId: string }>[], byKey: Map<string, PlannedRecord>, now: Date): Promise<void> {
    const w = this.#warehouse;
    const p = w.dialect.param;
    const keys = this.#keySet(written.map((o) => o.key), 2);
    // What we sent before this write becomes previous_values: `rollback` restores it.
    const previous = new Map(
      (await w.query(`select sync_key, last_sent_values from ${this.tables.ledger} where contract_name = ${p(1)} and sync_key in (${keys.sql})`, [contract, ...keys.params])).map(
        (r) => [String(r.sync_key), (r.last_sent_values as string | null) ?? null],
      ),
    );
    await w.execute(`delete from ${this.tables.ledger} where contract_name = ${p(1)} and sync_key in (${keys.sql})`, [contract, ...keys.params]);
    const rows = written.map((o): SqlParam[] => [
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
    await this.#insert(this.tables.ledger, LEDGER_COLUMNS, rows);
  }

  /** `in (…)` over keys: one JSON parameter where the dialect reads one, else a parameter per key from `first`. */
  #keySet(keys: string[], first: number): { sql: string; params: SqlParam[] } {
    const d = this.#warehouse.dialect;
    if (d.jsonTextRows) return { sql: `select c1 from ${d.jsonTextRows(d.param(first), 1)}`, params: [JSON.stringify(keys.map((k) => [k]))] };
    return { sql: keys.map((_, i) => d.param(first + i)).join(", "), params: keys };
  }

  /** Inserts rows (values in column order). One JSON parameter where the dialect reads one. */
  async #insert(table: string, columns: InsertColumn[], rows: SqlParam[][]): Promise<void> {
    const d = this.#warehouse.dialect;
    const names = columns.map((c) => c.name).join(", ");
    if (!d.jsonTextRows) {
      await this.#warehouse.execute(`insert into ${table} (${names}) values ${this.#placeholders(rows.length, columns.length)}`, rows.flat());
      return;
    }
    // Every value travels as text; each column is cast back by its declared kind.
    const select = columns.map((c, i) => (c.kind === "timestamp" ? `cast(c${i + 1} as ${d.types.timestamp})` : `c${i + 1}`));
    const texts = rows.map((row) => row.map((v) => (v === null ? null : v instanceof Date ? utcTimestampText(v) : String(v))));
    await this.#warehouse.execute(`insert into ${table} (${names}) select ${select.join(", ")} from ${d.jsonTextRows(d.param(1), columns.length)}`, [JSON.stringify(texts)]);
  }

  /** Records keys whose destination records were cleared, deleted or left a list: their ledger rows become `removed`. */
  async markRemoved(contract: string, runId: string, keys: string[]): Promise<void> {
    const p = this.#warehouse.dialect.param;
    for (let i = 0; i < keys.length; i += CHECKPOINT_SLICE) {
      const slice = this.#keySet(keys.slice(i, i + CHECKPOINT_SLICE), 4);
      await this.#warehouse.execute(
        `update ${this.tables.ledger} set status = 'removed', run_id = ${p(1)}, synced_at = ${p(2)} where contract_name = ${p(3)} and sync_key in (${slice.sql})`,
        [runId, new Date(), contract, ...slice.params],
      );
    }
  }

  /** Dead letters for requests that failed outside a write batch (removals, audience membership). */
  async deadLetters(contract: string, runId: string, failures: { key: string; code: string; message: string }[], errorClass = "rejected"): Promise<void> {
    if (failures.length === 0) return;
    const now = new Date();
    for (let i = 0; i < failures.length; i += CHECKPOINT_SLICE) {
      const rows = failures.slice(i, i + CHECKPOINT_SLICE).map((f): SqlParam[] => [runId, contract, f.key, errorClass, f.code, f.message, "{}", now]);
      await this.#insert(this.tables.deadLetters, DEAD_LETTER_COLUMNS, rows);
    }
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

  /**
   * Whether a sync of the contract passed the gate on the given dbt invocation (its run log row; a run is logged only
   * once the gate passed): the proof that rows built by that invocation were tested, when a later invocation reused them.
   */
  async gatedInvocation(contract: string, invocationId: string): Promise<boolean> {
    const p = this.#warehouse.dialect.param;
    const rows = await this.#warehouse.query(
      `select count(*) as ${this.#warehouse.dialect.quoteIdentifier("runs")} from ${this.tables.runLog} where contract_name = ${p(1)} and invocation_id = ${p(2)} and gate_passed`,
      [contract, invocationId],
    );
    return Number(rows[0]?.runs ?? 0) > 0;
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
