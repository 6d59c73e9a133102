/**
 * Writes the ledger, dead letters and run log. The ledger is checkpointed as batches are acknowledged, in one
 * transaction per group of batches (src/engine/send.ts), so a run killed at any point and rerun resends at most the
 * batches that were in flight.
 */
import type { DestinationRecord, FailedOutcome, KeyRule, RecordOutcome } from "../destinations/types.ts";
import { failureKind, nextAttemptAt } from "./failures.ts";
import { caseInsensitiveKeySql, type SqlParam, type Warehouse } from "../warehouse/types.ts";
import type { LedgerTables } from "./migrations.ts";

/** JSON text for the warehouse: Dates as ISO strings, bigints as strings. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/** A record as the ledger keeps it once written: what was sent and the row hash it was sent for (the plan's records are these). */
export interface LedgerRecord extends DestinationRecord {
  hash: string;
}

export interface RunStart {
  runId: string;
  contract: string;
  invocationId: string;
  startedAt: Date;
  mode: string;
  actor?: string | undefined;
  /** What the run writes to (src/contract/fingerprint.ts destinationTarget); absent on rows that write nothing. */
  target?: string | undefined;
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
  /** Rows held back by an open permanent dead letter, unchanged since it failed (not attempted). */
  failedUnchanged?: number;
  /** Rows held back by an open transient dead letter whose backoff has not passed (not attempted). */
  retryLater?: number;
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
  kind: "text" | "timestamp" | "integer";
}

const text = (name: string): InsertColumn => ({ name, kind: "text" });
const timestamp = (name: string): InsertColumn => ({ name, kind: "timestamp" });

const DEAD_LETTER_COLUMNS = [
  ...["run_id", "contract_name", "sync_key", "error_class", "error_code", "message", "payload"].map(text),
  timestamp("created_at"),
  ...["failure_kind", "row_hash"].map(text),
  { name: "attempts", kind: "integer" } as const,
  timestamp("next_attempt_at"),
  text("mapping_hash"),
];

/** A removal as the ledger records it: the key, why it left (the excluded-rows model's reasons) and what was done. */
export interface RemovalRecord {
  key: string;
  reason: string;
  action: string;
}

/**
 * Late-arrival skips are kept as dead letters closed when written (error_class LATE_ARRIVAL_CLASS): the history of
 * how many runs in a row a record was skipped, which holds nothing back. After `late_arriving.max_skipped_runs` of
 * them the record is dead-lettered for real, with LATE_ARRIVAL_STUCK_CODE (permanent).
 */
export const LATE_ARRIVAL_CLASS = "late_arrival";
export const LATE_ARRIVAL_STUCK_CODE = "LATE_ARRIVAL_STUCK";
const LATE_SKIP_COLUMNS = [...DEAD_LETTER_COLUMNS, timestamp("closed_at"), text("close_reason")];

/**
 * What a run did to one key, as the change log records it (activation_change_log). `kept`: the key left the
 * eligible set and a declared keep left its record as it was. Rows held back by an open dead letter, unchanged rows
 * and rows never sent because the run ended early get no row: nothing was done to them in that run.
 */
export type ChangeAction = "created" | "updated" | "cleared" | "deleted" | "unlisted" | "kept" | "failed" | "skipped";

/** One change-log row: the names of the fields it changed (never their values), the error code or the reason. */
export interface Change {
  key: string;
  action: ChangeAction;
  fields?: string[] | null | undefined;
  code?: string | undefined;
  reason?: string | undefined;
  recordId?: string | undefined;
}

const CHANGE_LOG_COLUMNS = [...["run_id", "contract_name", "sync_key", "action", "fields", "error_code", "reason", "destination_record_id"].map(text), timestamp("recorded_at")];

const REMOVAL_DONE: Record<string, ChangeAction> = { clear: "cleared", delete: "deleted", unlist: "unlisted", keep: "kept" };

/**
 * The names of the sent fields whose value differs from what was last sent (JSON text of the ledger's
 * last_sent_values); all of them when nothing was sent before. Only names leave: the values may be personal data.
 */
export function changedFields(sent: Record<string, unknown>, lastSent: string | null): string[] {
  let before: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = lastSent === null ? undefined : JSON.parse(lastSent);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) before = parsed as Record<string, unknown>;
  } catch {
    before = undefined;
  }
  return Object.keys(sent)
    .filter((name) => !before || !(name in before) || toJsonText(sent[name] ?? null) !== JSON.stringify(before[name] ?? null))
    .sort();
}

/** Why a dead letter stopped being open (close_reason). */
export type CloseReason = "written" | "superseded" | "unchanged" | "retired" | `not eligible: ${string}`;

/**
 * Told after each run-log and checkpoint write has committed (the live status of a sync on DuckDB, which other
 * processes cannot read from the database it holds: src/pipeline/status.ts).
 */
export interface LedgerListener {
  runStarted(run: RunStart): Promise<void>;
  acknowledged(contract: string, runId: string, outcomes: RecordOutcome[]): Promise<void>;
  runFinished(entry: RunEnd): Promise<void>;
}

export interface LedgerOptions {
  /** The first cross-run backoff of a transient dead letter (src/engine/failures.ts). */
  backoffBaseMs?: number;
}
const LEDGER_COLUMNS = [
  ...["contract_name", "sync_key", "row_hash", "destination_record_id", "last_sent_values", "previous_values"].map(text),
  timestamp("synced_at"),
  ...["run_id", "status", "mapping_hash"].map(text),
];

/** A Date as the warehouse's timestamp text: UTC, no zone suffix (the ledger's timestamps are UTC instants). */
function utcTimestampText(date: Date): string {
  return date.toISOString().replace("T", " ").replace("Z", "");
}

/** Rows per statement in a checkpoint: 500 × 9 parameters stays far inside PostgreSQL's 65,535 and BigQuery's limits. */
const CHECKPOINT_SLICE = 500;
/**
 * Where a dialect binds a slice's rows as one JSON parameter (DuckDB) there is no parameter limit: a checkpoint's
 * group goes in fewer statements (each costs a round of parsing and planning whatever its size).
 */
const JSON_CHECKPOINT_SLICE = 5000;

export class Ledger {
  readonly tables: LedgerTables;
  readonly #warehouse: Warehouse;
  readonly #backoffBaseMs: number;
  #listener: LedgerListener | undefined;
  /** The last transaction begun here: the next one waits for it (see #transaction). */
  #serial: Promise<unknown> = Promise.resolve();

  constructor(warehouse: Warehouse, tables: LedgerTables, options: LedgerOptions = {}) {
    this.#warehouse = warehouse;
    this.tables = tables;
    this.#backoffBaseMs = options.backoffBaseMs ?? 15 * 60_000;
  }

  /** One listener at a time (the run's live status). */
  listen(listener: LedgerListener | undefined): void {
    this.#listener = listener;
  }

  /**
   * The ledger's transactions one after another, in the order begun: the group commit's checkpoints run beside the
   * sending, which also records rows failed before the send and guard skips. (The warehouse keeps each transaction
   * apart from other statements: src/warehouse/session-gate.ts.)
   */
  #transaction<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(() => this.#warehouse.transaction(work));
    this.#serial = run.catch(() => undefined);
    return run;
  }

  #placeholders(rows: number, columns: number, offset = 0): string {
    const p = this.#warehouse.dialect.param;
    return Array.from({ length: rows }, (_, r) => `(${Array.from({ length: columns }, (_, c) => p(offset + r * columns + c + 1)).join(", ")})`).join(", ");
  }

  /**
   * Records acknowledged batches in one transaction: written rows into the ledger (closing their open dead letters),
   * failed rows into dead letters. Statements go in slices of CHECKPOINT_SLICE rows, inside the bind-parameter limits
   * of every engine. `mappingHash`: the fingerprint of the field mapping the rows were sent under (migration 11), kept
   * per written row, so a run killed halfway through a remapping leaves the rest still planned as updates, and per
   * dead letter, which then holds its row back only while the mapping stays the same.
   */
  async checkpoint(contract: string, runId: string, records: LedgerRecord[], outcomes: RecordOutcome[], mappingHash: string | null = null): Promise<void> {
    const w = this.#warehouse;
    const now = new Date();
    const byKey = new Map(records.map((r) => [r.key, r]));
    // One outcome per key (the last): a key is never in two batches in flight, but a slice must not hold it twice.
    const latest = [...new Map(outcomes.map((o) => [o.key, o])).values()];
    const written = latest.filter((o): o is Extract<RecordOutcome, { recordId: string }> => o.status !== "failed");
    const failed = latest.filter((o): o is Extract<RecordOutcome, { status: "failed" }> => o.status === "failed");
    // A created record holds every field sent; an update or a failed write, those differing from our last write.
    const fieldsOf = (key: string, created: boolean, previous: Map<string, string | null>): string[] | null => {
      const sent = byKey.get(key)?.fields;
      if (!sent) return null;
      return created ? Object.keys(sent).sort() : changedFields(sent, previous.get(key) ?? null);
    };
    const size = w.dialect.jsonTextRows ? JSON_CHECKPOINT_SLICE : CHECKPOINT_SLICE;
    await this.#transaction(async () => {
      for (let i = 0; i < written.length; i += size) {
        const slice = written.slice(i, i + size);
        const previous = await this.#writeLedgerRows(contract, runId, slice, byKey, now, mappingHash);
        await this.#close(contract, slice.map((o) => o.key), "written", now);
        await this.#logChanges(contract, runId, slice.map((o) => ({ key: o.key, action: o.status, fields: fieldsOf(o.key, o.status === "created", previous), recordId: o.recordId })), now);
      }
      for (let i = 0; i < failed.length; i += size) {
        const slice = failed.slice(i, i + size);
        await this.#deadLetter(contract, runId, slice, byKey, "rejected", now, mappingHash);
        const previous = await this.#lastSent(contract, slice.map((o) => o.key));
        await this.#logChanges(contract, runId, slice.map((o) => ({ key: o.key, action: "failed", fields: fieldsOf(o.key, false, previous), code: o.code })), now);
      }
    });
    await this.#listener?.acknowledged(contract, runId, latest);
  }

  /**
   * Dead-letters failed rows: one open letter per key, superseding the key's earlier open one and counting its
   * attempts on from it; a transient failure gets the time of its next attempt (src/engine/failures.ts).
   */
  async #deadLetter(contract: string, runId: string, failed: FailedOutcome[], byKey: Map<string, LedgerRecord>, errorClass: string, now: Date, mappingHash: string | null = null): Promise<void> {
    const p = this.#warehouse.dialect.param;
    const keys = this.#keySet(failed.map((o) => o.key), 2);
    const earlier = new Map(
      (
        await this.#warehouse.query(
          `select sync_key, max(attempts) as attempts from ${this.tables.deadLetters} where contract_name = ${p(1)} and closed_at is null and sync_key in (${keys.sql}) group by sync_key`,
          [contract, ...keys.params],
        )
      ).map((r) => [String(r.sync_key), Number(r.attempts ?? 1)]),
    );
    await this.#close(contract, failed.map((o) => o.key), "superseded", now);
    const rows = failed.map((o): SqlParam[] => {
      const kind = failureKind(o);
      const attempts = (earlier.get(o.key) ?? 0) + 1;
      const record = byKey.get(o.key);
      return [runId, contract, o.key, errorClass, o.code, o.message, toJsonText(record?.fields ?? {}), now, kind, record?.hash || null, attempts, nextAttemptAt(kind, attempts, now, this.#backoffBaseMs), mappingHash];
    });
    await this.#insert(this.tables.deadLetters, DEAD_LETTER_COLUMNS, rows);
  }

  /** Closes the keys' open dead letters, with the reason. */
  async #close(contract: string, keys: string[], reason: CloseReason, now: Date): Promise<void> {
    if (keys.length === 0) return;
    const p = this.#warehouse.dialect.param;
    const set = this.#keySet(keys, 4);
    await this.#warehouse.execute(
      `update ${this.tables.deadLetters} set closed_at = ${p(1)}, close_reason = ${p(2)} where contract_name = ${p(3)} and closed_at is null and sync_key in (${set.sql})`,
      [now, reason, contract, ...set.params],
    );
  }

  /**
   * Closes the open write-failure letters of the keys `unchangedKeys` selects (a query of the plan's unchanged keys):
   * a row changed back to the values the destination already holds from our last write (an invalid value fixed back
   * to what it was) is not sent, so no write would ever close its letter.
   */
  async closeUnchangedDeadLetters(contract: string, unchangedKeys: string): Promise<void> {
    const p = this.#warehouse.dialect.param;
    await this.#transaction(() =>
      this.#warehouse.execute(
        `update ${this.tables.deadLetters} set closed_at = ${p(1)}, close_reason = 'unchanged' where contract_name = ${p(2)} and closed_at is null and error_class = 'rejected' and sync_key in (${unchangedKeys})`,
        [new Date(), contract],
      ),
    );
  }

  /** Closes the open dead letters of these keys with the reason (e.g. a replayed key that is no longer eligible). */
  async closeDeadLetters(contract: string, keys: string[], reason: CloseReason): Promise<void> {
    const now = new Date();
    for (let i = 0; i < keys.length; i += CHECKPOINT_SLICE) await this.#close(contract, keys.slice(i, i + CHECKPOINT_SLICE), reason, now);
  }

  /** Per key, the values of our last write still in the destination (status synced): JSON text. */
  async #lastSent(contract: string, keys: string[]): Promise<Map<string, string | null>> {
    const p = this.#warehouse.dialect.param;
    const set = this.#keySet(keys, 2);
    const rows = await this.#warehouse.query(`select sync_key, last_sent_values from ${this.tables.ledger} where contract_name = ${p(1)} and status = 'synced' and sync_key in (${set.sql})`, [contract, ...set.params]);
    return new Map(rows.map((r) => [String(r.sync_key), (r.last_sent_values as string | null) ?? null]));
  }

  /** Appends change-log rows (activation_change_log), inside the caller's transaction. */
  async #logChanges(contract: string, runId: string, changes: Change[], now: Date): Promise<void> {
    const rows = changes.map((c): SqlParam[] => [runId, contract, c.key, c.action, c.fields ? JSON.stringify(c.fields) : null, c.code ?? null, c.reason?.slice(0, 2000) ?? null, c.recordId ?? null, now]);
    const size = this.#warehouse.dialect.jsonTextRows ? JSON_CHECKPOINT_SLICE : CHECKPOINT_SLICE;
    for (let i = 0; i < rows.length; i += size) await this.#insert(this.tables.changeLog, CHANGE_LOG_COLUMNS, rows.slice(i, i + size));
  }

  /**
   * Records the rows the guards did not send (mode, late-arriving protection, overwrite policy) as `skipped` with the
   * reason: a decision taken in this run, so it is logged each run it is taken again.
   */
  async recordSkips(contract: string, runId: string, skips: { key: string; reason: string }[]): Promise<void> {
    if (skips.length === 0) return;
    const now = new Date();
    await this.#transaction(() => this.#logChanges(contract, runId, skips.map((s) => ({ key: s.key, action: "skipped", reason: s.reason })), now));
  }

  /**
   * Records a chunk of removals in one transaction: the keys handled (markRemoved), the failures as dead letters of
   * `errorClass`, the removals those failures still owe, and a change-log row per key (a clear names the fields it
   * cleared).
   */
  async recordRemovals(
    contract: string,
    runId: string,
    removals: { done: RemovalRecord[]; failed: FailedOutcome[]; owed: RemovalRecord[] },
    options: { errorClass: string; clearedFields: string[] },
  ): Promise<void> {
    const now = new Date();
    const owed = new Map(removals.owed.map((r) => [r.key, r]));
    await this.#transaction(async () => {
      await this.markRemoved(contract, runId, removals.done);
      await this.deadLetters(contract, runId, removals.failed, options.errorClass);
      await this.notePendingRemoval(contract, removals.owed);
      const done = removals.done.map((r): Change => {
        const action = REMOVAL_DONE[r.action] ?? "kept";
        return { key: r.key, action, fields: action === "cleared" ? [...options.clearedFields].sort() : null, reason: r.reason };
      });
      const failed = removals.failed.map((o): Change => {
        const removal = owed.get(o.key);
        return { key: o.key, action: "failed", code: o.code, reason: removal ? `${removal.action}: ${removal.reason}` : options.errorClass };
      });
      await this.#logChanges(contract, runId, [...done, ...failed], now);
    });
  }

  /**
   * Deletes change-log rows recorded before `before` (DBT_ACTIVATION_CHANGE_LOG_DAYS); returns how many went.
   */
  async pruneChangeLog(before: Date): Promise<number> {
    const w = this.#warehouse;
    const q = w.dialect.quoteIdentifier;
    const [row] = await w.query(`select count(*) as ${q("n")} from ${this.tables.changeLog} where recorded_at < ${w.dialect.param(1)}`, [before]);
    const n = Number(row?.n ?? 0);
    if (n > 0) await w.execute(`delete from ${this.tables.changeLog} where recorded_at < ${w.dialect.param(1)}`, [before]);
    return n;
  }

  async #writeLedgerRows(
    contract: string,
    runId: string,
    written: Extract<RecordOutcome, { recordId: string }>[],
    byKey: Map<string, LedgerRecord>,
    now: Date,
    mappingHash: string | null,
  ): Promise<Map<string, string | null>> {
    const w = this.#warehouse;
    const p = w.dialect.param;
    const keys = this.#keySet(written.map((o) => o.key), 2);
    // What we sent before this write becomes previous_values: `rollback` restores it. A key whose record we cleared
    // or deleted since (status removed) holds nothing of ours any more: this write makes it anew, and rolling it back
    // must not bring back the values of before its removal (after a consent withdrawal, say).
    const previous = await this.#lastSent(contract, written.map((o) => o.key));
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
      mappingHash,
    ]);
    await this.#insert(this.tables.ledger, LEDGER_COLUMNS, rows);
    return previous;
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
    const select = columns.map((c, i) => (c.kind === "text" ? `c${i + 1}` : `cast(c${i + 1} as ${c.kind === "timestamp" ? d.types.timestamp : d.types.integer})`));
    const texts = rows.map((row) => row.map((v) => (v === null ? null : v instanceof Date ? utcTimestampText(v) : String(v))));
    await this.#warehouse.execute(`insert into ${table} (${names}) select ${select.join(", ")} from ${d.jsonTextRows(d.param(1), columns.length)}`, [JSON.stringify(texts)]);
  }

  /**
   * Brings the contract's ledger keys to the canonical form of a case-insensitive key rule (ASCII letters lowered; a
   * key with a character outside ASCII, refused under the rule, as earlier versions stored it), so a key
   * recorded before the rule applied is the same key as today's and is never taken for a removed one (whose
   * removal would clear or delete the record both spell). Where the canonical spelling is already there, the older
   * spelling's row goes. Nothing to do for exact keys.
   */
  async canonicalizeKeys(contract: string, rule: KeyRule): Promise<void> {
    if (rule !== "case_insensitive") return;
    const w = this.#warehouse;
    const p = w.dialect.param;
    const ledger = this.tables.ledger;
    const canonical = caseInsensitiveKeySql("sync_key", w.dialect);
    await this.#transaction(async () => {
      await w.execute(
        `delete from ${ledger} where contract_name = ${p(1)} and sync_key <> ${canonical}
          and ${canonical} in (select sync_key from ${ledger} where contract_name = ${p(2)})`,
        [contract, contract],
      );
      await w.execute(`update ${ledger} set sync_key = ${canonical} where contract_name = ${p(1)} and sync_key <> ${canonical}`, [contract]);
      // Open dead letters follow, so a replay or a settled write finds them under the key the plan now uses.
      await w.execute(
        `update ${this.tables.deadLetters} set sync_key = ${canonical} where contract_name = ${p(1)} and closed_at is null and sync_key <> ${canonical}`,
        [contract],
      );
    });
  }

  /**
   * Records keys that left the eligible set and were handled (cleared, deleted, unlisted, or kept by a declared
   * keep): their ledger rows become `removed` with the reason (which exclusion) and the action, and the open dead
   * letters of an earlier removal that failed are settled.
   */
  async markRemoved(contract: string, runId: string, removed: RemovalRecord[]): Promise<void> {
    await this.closeDeadLetters(contract, removed.map((r) => r.key), "written");
    await this.#setRemoval(contract, removed, { status: "removed", runId });
  }

  /**
   * Records why a removal was attempted for keys whose removal failed: the row stays `synced` (what we sent is still
   * there) with the reason and the action owed, so reconcile can tell a withdrawn consent that still holds values.
   */
  async notePendingRemoval(contract: string, pending: RemovalRecord[]): Promise<void> {
    await this.#setRemoval(contract, pending, undefined);
  }

  async #setRemoval(contract: string, records: RemovalRecord[], done: { status: "removed"; runId: string } | undefined): Promise<void> {
    const p = this.#warehouse.dialect.param;
    const now = new Date();
    // One statement per (reason, action): keys of a chunk share a handful of reasons.
    const groups = new Map<string, RemovalRecord[]>();
    for (const r of records) groups.set(JSON.stringify([r.reason, r.action]), [...(groups.get(JSON.stringify([r.reason, r.action])) ?? []), r]);
    for (const group of groups.values()) {
      const { reason, action } = group[0]!;
      for (let i = 0; i < group.length; i += CHECKPOINT_SLICE) {
        const keys = group.slice(i, i + CHECKPOINT_SLICE).map((r) => r.key);
        if (done) {
          const slice = this.#keySet(keys, 6);
          await this.#warehouse.execute(
            `update ${this.tables.ledger} set status = 'removed', run_id = ${p(1)}, synced_at = ${p(2)}, removal_reason = ${p(3)}, removal_action = ${p(4)} where contract_name = ${p(5)} and sync_key in (${slice.sql})`,
            [done.runId, now, reason, action, contract, ...slice.params],
          );
        } else {
          const slice = this.#keySet(keys, 4);
          await this.#warehouse.execute(
            `update ${this.tables.ledger} set removal_reason = ${p(1)}, removal_action = ${p(2)} where contract_name = ${p(3)} and sync_key in (${slice.sql})`,
            [reason, action, contract, ...slice.params],
          );
        }
      }
    }
  }

  /**
   * Records one late-arrival skip per key and returns, per key, the runs in a row it has now been skipped: skips
   * since the key's last write and since its last LATE_ARRIVAL_STUCK letter (a changed row starts counting again).
   */
  async lateSkips(contract: string, runId: string, skips: { key: string; reason: string; hash: string }[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (skips.length === 0) return counts;
    const p = this.#warehouse.dialect.param;
    const now = new Date();
    const rows = skips.map((s): SqlParam[] => [runId, contract, s.key, LATE_ARRIVAL_CLASS, "LATE_ARRIVAL_SKIPPED", s.reason, "{}", now, "permanent", s.hash, 1, null, null, now, "skipped"]);
    for (let i = 0; i < rows.length; i += CHECKPOINT_SLICE) await this.#insert(this.tables.deadLetters, LATE_SKIP_COLUMNS, rows.slice(i, i + CHECKPOINT_SLICE));
    for (let i = 0; i < skips.length; i += CHECKPOINT_SLICE) {
      const keys = this.#keySet(skips.slice(i, i + CHECKPOINT_SLICE).map((s) => s.key), 2);
      const since = new Map<string, number>();
      const later = (key: string, at: unknown): void => {
        const time = at instanceof Date ? at.getTime() : at === null || at === undefined ? 0 : Date.parse(`${String(at).replace(" ", "T")}Z`);
        since.set(key, Math.max(since.get(key) ?? 0, time));
      };
      for (const r of await this.#warehouse.query(`select sync_key, synced_at from ${this.tables.ledger} where contract_name = ${p(1)} and sync_key in (${keys.sql})`, [contract, ...keys.params])) later(String(r.sync_key), r.synced_at);
      const letters = await this.#warehouse.query(
        `select sync_key, error_class, created_at from ${this.tables.deadLetters} where contract_name = ${p(1)} and sync_key in (${keys.sql}) and (error_class = '${LATE_ARRIVAL_CLASS}' or error_code = '${LATE_ARRIVAL_STUCK_CODE}')`,
        [contract, ...keys.params],
      );
      for (const r of letters) if (r.error_class !== LATE_ARRIVAL_CLASS) later(String(r.sync_key), r.created_at);
      for (const r of letters) {
        if (r.error_class !== LATE_ARRIVAL_CLASS) continue;
        const key = String(r.sync_key);
        const at = r.created_at instanceof Date ? r.created_at.getTime() : Date.parse(`${String(r.created_at).replace(" ", "T")}Z`);
        if (at > (since.get(key) ?? 0)) counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    return counts;
  }

  /** Dead letters for requests that failed outside a write batch (removals, audience membership). */
  async deadLetters(contract: string, runId: string, failures: FailedOutcome[], errorClass = "rejected"): Promise<void> {
    if (failures.length === 0) return;
    const now = new Date();
    for (let i = 0; i < failures.length; i += CHECKPOINT_SLICE) await this.#deadLetter(contract, runId, failures.slice(i, i + CHECKPOINT_SLICE), new Map(), errorClass, now);
  }

  /**
   * A run-log row for a contract held back before anything was planned or sent, saying why (stop_reason), so `status`,
   * `history` and the dbt package see every scheduled run, not only those that wrote: `gated` (its dbt gate failed,
   * gate_reasons), `held` (the kill switch is on), `busy` (another runner holds its lease) or `refused` (its destination
   * target changed under a ledger of synced rows). Held, busy and refused runs passed the gate. No target is recorded:
   * these runs wrote nothing, so the last target stays the one the ledger's rows were written to.
   */
  async heldRun(run: RunStart, held: { status: "gated" | "held" | "busy" | "refused"; reasons: string[] }): Promise<void> {
    const { status, reasons } = held;
    const gateReasons = status === "gated" ? reasons : [];
    const values: SqlParam[] = [run.runId, run.contract, run.invocationId, run.startedAt, new Date(), status, run.mode, status !== "gated", JSON.stringify(gateReasons), reasons.join("; ").slice(0, 2000), run.actor ?? null];
    await this.#warehouse.execute(
      `insert into ${this.tables.runLog} (run_id, contract_name, invocation_id, started_at, finished_at, status, mode, gate_passed, gate_reasons, stop_reason, actor)
        values ${this.#placeholders(1, values.length)}`,
      values,
    );
  }

  /**
   * The run's row in the run log, written before anything is planned or sent: a run killed at any point leaves its
   * row behind with status `running` and no finish time (the next runner marks it `abandoned`).
   */
  async startRun(run: RunStart): Promise<void> {
    const values: SqlParam[] = [run.runId, run.contract, run.invocationId, run.startedAt, "running", run.mode, true, "[]", run.actor ?? null, run.target ?? null];
    await this.#warehouse.execute(
      `insert into ${this.tables.runLog} (run_id, contract_name, invocation_id, started_at, status, mode, gate_passed, gate_reasons, actor, target)
        values ${this.#placeholders(1, values.length)}`,
      values,
    );
    await this.#listener?.runStarted(run);
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

  /** Records the key rule this run compares keys by, and the destination field it is for (migration 10). */
  async recordKeyRule(runId: string, contract: string, field: string, rule: KeyRule): Promise<void> {
    const p = this.#warehouse.dialect.param;
    await this.#warehouse.execute(`update ${this.tables.runLog} set key_field = ${p(1)}, key_rule = ${p(2)} where run_id = ${p(3)} and contract_name = ${p(4)}`, [field, rule, runId, contract]);
  }

  /** The key rule the contract's latest run recorded for this destination field, if any. */
  async lastKeyRule(contract: string, field: string): Promise<KeyRule | undefined> {
    const p = this.#warehouse.dialect.param;
    const rows = await this.#warehouse.query(
      `select key_rule from ${this.tables.runLog} where contract_name = ${p(1)} and key_field = ${p(2)} and key_rule is not null order by started_at desc limit 1`,
      [contract, field],
    );
    const rule = rows[0]?.key_rule;
    return rule === "exact" || rule === "case_insensitive" ? rule : undefined;
  }

  /**
   * The target the contract's latest run that may have written recorded (migration 11), if any; with whether the
   * ledger still holds synced rows of it (records in that target that removals and updates would act on).
   */
  async lastTarget(contract: string): Promise<{ target: string | undefined; syncedRows: boolean }> {
    const p = this.#warehouse.dialect.param;
    const [last] = await this.#warehouse.query(`select target from ${this.tables.runLog} where contract_name = ${p(1)} and target is not null order by started_at desc limit 1`, [contract]);
    return { target: last?.target === null || last?.target === undefined ? undefined : String(last.target), syncedRows: (await this.#ledgerRows(contract, "status = 'synced'")) > 0 };
  }

  /**
   * `--accept-new-target`: the contract's synced rows describe records in the target it wrote to before, so they are
   * retired (status `retired`: no update, removal or rollback acts on them again; their records are left as they
   * are) and their open dead letters close (`retired`), in one transaction. Returns the rows retired.
   */
  async retireTarget(contract: string): Promise<number> {
    const w = this.#warehouse;
    const p = w.dialect.param;
    return this.#transaction(async () => {
      const retired = await this.#ledgerRows(contract, "status = 'synced'");
      await w.execute(`update ${this.tables.ledger} set status = 'retired' where contract_name = ${p(1)} and status = 'synced'`, [contract]);
      await w.execute(`update ${this.tables.deadLetters} set closed_at = ${p(1)}, close_reason = 'retired' where contract_name = ${p(2)} and closed_at is null`, [new Date(), contract]);
      return retired;
    });
  }

  /**
   * Whether the ledger holds any row of the contract: false before its first sync into the destination (rows retired
   * by `--accept-new-target` belong to another destination: a sync after it is a first sync again).
   */
  async hasRows(contract: string): Promise<boolean> {
    return (await this.#ledgerRows(contract, "status <> 'retired'")) > 0;
  }

  /** How many of the contract's ledger rows meet a fixed condition on their status. */
  async #ledgerRows(contract: string, statusCondition: "status = 'synced'" | "status <> 'retired'"): Promise<number> {
    const q = this.#warehouse.dialect.quoteIdentifier;
    const [row] = await this.#warehouse.query(`select count(*) as ${q("keys")} from ${this.tables.ledger} where contract_name = ${this.#warehouse.dialect.param(1)} and ${statusCondition}`, [contract]);
    return Number(row?.keys ?? 0);
  }

  /** Completes the run's row: how it ended, the rows per class, why it stopped and what was overridden. */
  async finishRun(entry: RunEnd): Promise<void> {
    const c = entry.counts;
    const p = this.#warehouse.dialect.param;
    const values: SqlParam[] = [
      entry.finishedAt, entry.status, c.eligible, c.created, c.updated, c.unchanged, c.removed, c.failed, c.rejected, c.skipped ?? 0, c.notSent ?? 0,
      entry.stopReason ?? null, entry.overrideReason ?? null, c.failedUnchanged ?? 0, c.retryLater ?? 0, entry.runId, entry.contract,
    ];
    await this.#warehouse.execute(
      `update ${this.tables.runLog} set finished_at = ${p(1)}, status = ${p(2)}, rows_eligible = ${p(3)}, rows_created = ${p(4)}, rows_updated = ${p(5)},
        rows_unchanged = ${p(6)}, rows_removed = ${p(7)}, rows_failed = ${p(8)}, rows_rejected = ${p(9)}, rows_skipped = ${p(10)}, rows_not_sent = ${p(11)},
        stop_reason = ${p(12)}, override_reason = ${p(13)}, rows_failed_unchanged = ${p(14)}, rows_retry_later = ${p(15)}
        where run_id = ${p(16)} and contract_name = ${p(17)}`,
      values,
    );
    await this.#listener?.runFinished(entry);
  }

  /**
   * Per contract: the latest run by start (a run still going, or killed, has no finish time yet). A `busy` row (a
   * second runner turned away) is not the contract's last run: the run it met still is (`history` lists both).
   */
  async lastRuns(): Promise<Record<string, unknown>[]> {
    return this.#warehouse.query(
      `select r.contract_name, r.run_id, r.status, r.started_at, r.finished_at, r.rows_created, r.rows_updated, r.rows_unchanged, r.rows_failed,
         r.rows_failed_unchanged, r.rows_retry_later, r.stop_reason
       from ${this.tables.runLog} as r
       where r.status <> 'busy'
         and r.started_at = (select max(started_at) from ${this.tables.runLog} as x where x.contract_name = r.contract_name and x.status <> 'busy')
       order by r.contract_name`,
    );
  }

  /** Per contract: synced ledger rows, and records (keys, not letters) with an open dead letter, by kind. */
  async recordCounts(): Promise<{ contract: string; synced: number; deadLettered: number; permanent: number; transient: number }[]> {
    const synced = await this.#warehouse.query(`select contract_name, count(*) as n from ${this.tables.ledger} where status = 'synced' group by contract_name`);
    const letters = await this.#warehouse.query(
      `select contract_name, count(distinct sync_key) as n,
         count(distinct case when failure_kind = 'permanent' then sync_key end) as permanent,
         count(distinct case when failure_kind = 'permanent' then null else sync_key end) as transient
       from ${this.tables.deadLetters} where closed_at is null group by contract_name`,
    );
    const names = [...new Set([...synced, ...letters].map((r) => String(r.contract_name)))];
    return names.map((contract) => {
      const s = synced.find((r) => r.contract_name === contract);
      const l = letters.find((r) => r.contract_name === contract);
      return { contract, synced: Number(s?.n ?? 0), deadLettered: Number(l?.n ?? 0), permanent: Number(l?.permanent ?? 0), transient: Number(l?.transient ?? 0) };
    });
  }

  /** Keys of the contract with an open dead letter (records, not letters), in key order. */
  async openDeadLetterKeys(contract: string): Promise<string[]> {
    const p = this.#warehouse.dialect.param;
    const rows = await this.#warehouse.query(`select distinct sync_key from ${this.tables.deadLetters} where contract_name = ${p(1)} and closed_at is null order by sync_key`, [contract]);
    return rows.map((r) => String(r.sync_key));
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
