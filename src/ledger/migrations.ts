/**
 * The syncer's own tables in the warehouse, created on first run and changed only by numbered migrations, so a
 * newer syncer upgrades an older ledger in place. Column lists match the `activation` dbt package's sources.
 */
import type { Dialect, Warehouse } from "../warehouse/types.ts";

export interface LedgerTables {
  schema: string;
  ledger: string;
  runLog: string;
  deadLetters: string;
  snapshot: string;
  migrations: string;
  controls: string;
  leases: string;
  cloudRuns: string;
  alerts: string;
  changeLog: string;
}

export function ledgerTables(dialect: Dialect, schema: string): LedgerTables {
  const q = (name: string): string => `${dialect.quoteIdentifier(schema)}.${dialect.quoteIdentifier(name)}`;
  return {
    schema,
    ledger: q("activation_ledger"),
    runLog: q("activation_run_log"),
    deadLetters: q("activation_dead_letters"),
    snapshot: q("activation_destination_snapshot"),
    migrations: q("activation_migrations"),
    controls: q("activation_controls"),
    leases: q("activation_leases"),
    cloudRuns: q("activation_cloud_runs"),
    alerts: q("activation_alerts"),
    changeLog: q("activation_change_log"),
  };
}

type Migration = (t: LedgerTables, d: Dialect) => string[];

const MIGRATIONS: Migration[] = [
  // 1: the ledger, the run log, dead letters and the destination snapshot.
  (t, { types: x, primaryKey }) => [
    `create table if not exists ${t.ledger} (contract_name ${x.text} not null, sync_key ${x.text} not null, row_hash ${x.text},
      destination_record_id ${x.text}, last_sent_values ${x.text}, previous_values ${x.text}, source_updated_at ${x.timestamp},
      synced_at ${x.timestamp}, run_id ${x.text}, status ${x.text}, ${primaryKey(["contract_name", "sync_key"])})`,
    `create table if not exists ${t.runLog} (run_id ${x.text} not null, contract_name ${x.text} not null, invocation_id ${x.text},
      started_at ${x.timestamp}, finished_at ${x.timestamp}, status ${x.text}, mode ${x.text}, rows_eligible ${x.integer},
      rows_created ${x.integer}, rows_updated ${x.integer}, rows_unchanged ${x.integer}, rows_removed ${x.integer},
      rows_failed ${x.integer}, rows_rejected ${x.integer}, gate_passed ${x.boolean}, gate_reasons ${x.text}, stop_reason ${x.text},
      override_reason ${x.text}, actor ${x.text})`,
    `create table if not exists ${t.deadLetters} (run_id ${x.text} not null, contract_name ${x.text} not null, sync_key ${x.text},
      error_class ${x.text}, error_code ${x.text}, message ${x.text}, payload ${x.text}, created_at ${x.timestamp}, replayed_at ${x.timestamp})`,
    `create table if not exists ${t.snapshot} (contract_name ${x.text} not null, sync_key ${x.text}, destination_record_id ${x.text},
      values_json ${x.text}, destination_updated_at ${x.timestamp}, captured_at ${x.timestamp})`,
  ],
  // 2: the kill switch (pause / resume per contract, or `*` for all) and the one-runner-per-sync lease.
  // The primary keys are table constraints through the dialect: BigQuery takes them only as `… not enforced`.
  (t, { types: x, primaryKey }) => [
    `create table if not exists ${t.controls} (contract_name ${x.text} not null, paused ${x.boolean} not null,
      reason ${x.text}, actor ${x.text}, updated_at ${x.timestamp}, ${primaryKey(["contract_name"])})`,
    `create table if not exists ${t.leases} (contract_name ${x.text} not null, holder ${x.text} not null,
      acquired_at ${x.timestamp}, expires_at ${x.timestamp}, ${primaryKey(["contract_name"])})`,
  ],
  // 3: the run log counts every class: rows the guards skipped and rows never sent (the run ended early).
  (t, { types: x }) => [`alter table ${t.runLog} add column rows_skipped ${x.integer}`, `alter table ${t.runLog} add column rows_not_sent ${x.integer}`],
  // 4: the dead-letter lifecycle (src/engine/failures.ts). Each letter knows its kind, the row hash that failed, how
  // many times the key has failed and when it may be tried again; it stays open until the key is written, replayed,
  // superseded by a newer letter, or no longer eligible (closed_at, close_reason). The run log counts the rows held
  // back by an open letter. Letters replayed before this version are closed as replayed.
  (t, { types: x }) => [
    ...[
      ["failure_kind", x.text],
      ["row_hash", x.text],
      ["attempts", x.integer],
      ["next_attempt_at", x.timestamp],
      ["closed_at", x.timestamp],
      ["close_reason", x.text],
    ].map(([name, type]) => `alter table ${t.deadLetters} add column ${name} ${type}`),
    `update ${t.deadLetters} set closed_at = replayed_at, close_reason = 'replayed' where replayed_at is not null`,
    `alter table ${t.runLog} add column rows_failed_unchanged ${x.integer}`,
    `alter table ${t.runLog} add column rows_retry_later ${x.integer}`,
  ],
  // 5 (serve): the dbt Cloud runs a webhook delivered, one row per run, so duplicate deliveries sync once and a
  // restarted server resumes the runs it had accepted.
  (t, { types: x, primaryKey }) => [
    `create table if not exists ${t.cloudRuns} (account_id ${x.text} not null, run_id ${x.text} not null, job_id ${x.text},
      event_id ${x.text}, status ${x.text} not null, received_at ${x.timestamp}, updated_at ${x.timestamp}, attempts ${x.integer},
      exit_code ${x.integer}, detail ${x.text}, ${primaryKey(["account_id", "run_id"])})`,
  ],
  // 6: the open alert per contract (one incident at a time), so a condition that holds run after run alerts once,
  // and the first good run after it resolves it.
  (t, { types: x, primaryKey }) => [
    `create table if not exists ${t.alerts} (contract_name ${x.text} not null, kind ${x.text} not null, fingerprint ${x.text} not null,
      summary ${x.text}, dedup_key ${x.text} not null, run_id ${x.text}, opened_at ${x.timestamp}, last_alerted_at ${x.timestamp},
      ${primaryKey(["contract_name"])})`,
  ],
  // 7: why a synced row left the eligible set and what was done to its destination record (clear, delete, unlist,
  // keep), so reconcile and the reconciliation model can tell a withdrawn consent that still holds activated values.
  // Set when the removal is done (status removed) and when it fails (status stays synced until it is done).
  (t, { types: x }) => [`alter table ${t.ledger} add column removal_reason ${x.text}`, `alter table ${t.ledger} add column removal_action ${x.text}`],
  // 8: parity (the dbt package's <contract>__parity models). Per captured record: the ledger row hash whose sent values
  // the destination held at capture (null when it held other values, or a record we never wrote), and whether any
  // mapped field held a value (a record with its fields cleared holds nothing of ours).
  (t, { types: x }) => [`alter table ${t.snapshot} add column row_hash ${x.text}`, `alter table ${t.snapshot} add column holds_values ${x.boolean}`],
  // 9: the change log, append-only: per run and key what was done (created, updated, cleared, deleted, unlisted, kept,
  // failed, skipped), the names of the fields it changed (never their values), the error code or the reason. Written
  // in the transaction that records the outcome (src/ledger/ledger.ts); pruned by DBT_ACTIVATION_CHANGE_LOG_DAYS.
  (t, { types: x }) => [
    `create table if not exists ${t.changeLog} (run_id ${x.text} not null, contract_name ${x.text} not null, sync_key ${x.text},
      action ${x.text} not null, fields ${x.text}, error_code ${x.text}, reason ${x.text}, destination_record_id ${x.text}, recorded_at ${x.timestamp})`,
  ],
  // 10: the key rule a run compared keys by (Salesforce reads it from the match field's describe), with the field it
  // is for: a later run with nothing to send plans with it and asks the destination nothing (zero calls).
  (t, { types: x }) => [`alter table ${t.runLog} add column key_field ${x.text}`, `alter table ${t.runLog} add column key_rule ${x.text}`],
  // 11: what a write was made under (src/contract/fingerprint.ts). Per ledger row the fingerprint of the contract's
  // field mapping it was written with: a row written under another mapping is planned as an update, so a renamed
  // field reaches every record (null, rows written before this version: taken as today's mapping, nothing resent).
  // Per run the target it wrote to (`hubspot contacts by email`): a sync whose target differs from the last run's
  // while the ledger holds synced rows is refused (null, runs before this version: nothing to compare with). A dead
  // letter keeps the mapping its row failed under: it holds the row back only while the mapping is the same.
  (t, { types: x }) => [
    `alter table ${t.ledger} add column mapping_hash ${x.text}`,
    `alter table ${t.runLog} add column target ${x.text}`,
    `alter table ${t.deadLetters} add column mapping_hash ${x.text}`,
  ],
];

export const LEDGER_VERSION = MIGRATIONS.length;

/**
 * Brings the syncer's tables to the newest version; each migration runs once, in its own transaction. Where the
 * engine has a lock for it (PostgreSQL's advisory lock), the whole upgrade runs under that lock, so two first runs
 * started at once take turns instead of racing in `create … if not exists` (which PostgreSQL does not make atomic).
 */
export async function migrate(warehouse: Warehouse, tables: LedgerTables): Promise<number> {
  const lock = warehouse.dialect.migrationLock;
  if (!lock) return upgrade(warehouse, tables);
  return warehouse.transaction(async () => {
    await warehouse.execute(lock);
    return upgrade(warehouse, tables);
  });
}

async function upgrade(warehouse: Warehouse, tables: LedgerTables): Promise<number> {
  const d = warehouse.dialect;
  await warehouse.execute(`create schema if not exists ${d.quoteIdentifier(tables.schema)}`);
  await warehouse.execute(`create table if not exists ${tables.migrations} (version ${d.types.integer} not null, applied_at ${d.types.timestamp})`);
  const [row] = await warehouse.query(`select max(version) as version from ${tables.migrations}`);
  const current = Number(row?.version ?? 0);
  for (let version = current + 1; version <= MIGRATIONS.length; version += 1) {
    await warehouse.transaction(async () => {
      for (const statement of MIGRATIONS[version - 1]!(tables, d)) await warehouse.execute(statement);
      await warehouse.execute(`insert into ${tables.migrations} (version, applied_at) values (${d.param(1)}, ${d.param(2)})`, [version, new Date()]);
    });
  }
  return MIGRATIONS.length;
}
