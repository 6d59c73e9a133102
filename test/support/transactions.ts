/**
 * Checks, on any engine, that a statement sent from outside an open transaction is not part of it: the plan writes
 * and drops its staging table while the ledger's checkpoints are in a transaction. On one session (DuckDB, Snowflake)
 * such a statement would read the transaction's uncommitted rows, be rolled back with it, commit it halfway
 * (Snowflake's DDL), or fail it (DuckDB: one transaction writes to one attached database, and the staging table
 * lives in another). Shared by the DuckDB plan tests and the warehouse suite (PostgreSQL, Snowflake, BigQuery).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "vitest";
import type { Warehouse } from "../../src/warehouse/types.ts";

/** Time for a statement from outside to run, if nothing holds it back (it must not run inside the transaction). */
const OUTSIDE_CHANCE_MS = 150;

export async function expectOutsideStatementsApart(warehouse: Warehouse, schema: string, suffix: string): Promise<void> {
  const d = warehouse.dialect;
  const p = d.param;
  const ledgerLike = `${d.quoteIdentifier(schema)}.${d.quoteIdentifier(`tx_apart_${suffix}`)}`;
  // Where the plan's staging table goes: the scratch database on DuckDB, the ledger's schema elsewhere.
  const stagingLike = `${d.scratchSchema ?? d.quoteIdentifier(schema)}.${d.quoteIdentifier(`tx_apart_staging_${suffix}`)}`;
  await warehouse.execute(`create table ${ledgerLike} (k ${d.types.text})`);
  await warehouse.execute(`insert into ${ledgerLike} (k) values (${p(1)})`, ["committed"]);
  try {
    let opened!: () => void;
    const isOpen = new Promise<void>((resolve) => (opened = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const transaction = warehouse.transaction(async () => {
      await warehouse.execute(`insert into ${ledgerLike} (k) values (${p(1)})`, ["uncommitted"]);
      opened();
      await released;
      // Written after the statements from outside were sent: on DuckDB this fails if one of them joined.
      await warehouse.execute(`insert into ${ledgerLike} (k) values (${p(1)})`, ["uncommitted too"]);
      throw new Error("rolled back on purpose");
    });
    await isOpen;
    // From outside the transaction, while it is open: a read, a staging table written, then dropped.
    const read = warehouse.query(`select k from ${ledgerLike} order by k`);
    const staged = warehouse.execute(`create table ${stagingLike} as select 1 as n`);
    // Awaited below; failing before that is reported there, not as an unhandled rejection.
    read.catch(() => undefined);
    staged.catch(() => undefined);
    await sleep(OUTSIDE_CHANCE_MS);
    release();
    await expect(transaction).rejects.toThrow("rolled back on purpose");
    // The read saw only committed rows; the staging table outlived the rollback.
    expect((await read).map((r) => String(Object.values(r)[0]))).toEqual(["committed"]);
    await staged;
    expect((await warehouse.query(`select n from ${stagingLike}`)).map((r) => Number(Object.values(r)[0]))).toEqual([1]);
    expect((await warehouse.query(`select k from ${ledgerLike} order by k`)).map((r) => String(Object.values(r)[0]))).toEqual(["committed"]);
  } finally {
    await warehouse.execute(`drop table if exists ${stagingLike}`);
    await warehouse.execute(`drop table if exists ${ledgerLike}`);
  }
}
