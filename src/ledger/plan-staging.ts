/**
 * The plan's staging table: one run's diff of eligible rows against the ledger, written once per partition and read
 * for counts, rows to send and removed keys (src/plan/diff.ts). A table beside the ledger under a name of its own
 * (on DuckDB in the in-memory database the driver attaches: Dialect.scratchSchema), dropped when the plan is done.
 * Not a temporary table: PostgreSQL's pool and DuckDB's streams read on other connections than the one that wrote
 * it, and BigQuery keeps temporary tables only inside scripts.
 */
import { randomUUID } from "node:crypto";
import type { Warehouse } from "../warehouse/types.ts";
import type { LedgerTables } from "./migrations.ts";

/** Prefix of every staging table's name: a plan killed before it dropped its own leaves one behind, named so. */
export const PLAN_STAGING_PREFIX = "activation_plan_";

export interface PlanStaging {
  /** The table, as SQL. */
  readonly table: string;
  /** `create table … as <select>` for this table. */
  createAs(select: string): string;
  drop(): Promise<void>;
}

export function planStaging(warehouse: Warehouse, tables: LedgerTables): PlanStaging {
  const d = warehouse.dialect;
  const name = `${PLAN_STAGING_PREFIX}${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const table = `${d.scratchSchema ?? d.quoteIdentifier(tables.schema)}.${d.quoteIdentifier(name)}`;
  return {
    table,
    createAs: (select) => `create table ${table} as ${select}`,
    drop: () => warehouse.execute(`drop table if exists ${table}`),
  };
}
