/**
 * Checks, on any engine, that a plan run in partitions is the plan run in one query: the same counts, the same rows
 * to send, the same removed and rejected keys, each exactly once, alone and within a shard. Shared by the DuckDB
 * plan tests and the warehouse suite (PostgreSQL, Snowflake, BigQuery), so every engine's bucket is exercised.
 */
import { expect } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { rejectedKeys } from "../../src/eligible/rows.ts";
import { BadInputError } from "../../src/errors.ts";
import type { LedgerTables } from "../../src/ledger/migrations.ts";
import { MaterializedPlan, planCounts, plannedRecords, removedKeys, type PlanOptions } from "../../src/plan/diff.ts";
import { PARTITION_ROWS_ENV, planPartitions } from "../../src/plan/partitions.ts";
import type { Warehouse } from "../../src/warehouse/types.ts";

async function collect<T>(stream: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const chunk of stream) out.push(...chunk);
  return out;
}

const byKey = <T extends { key: string | null }>(rows: T[]): T[] => [...rows].sort((a, b) => String(a.key).localeCompare(String(b.key)));

/** The plan's every output for the options, keyed rows sorted (partitions give key order only within each). */
async function planOf(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions) {
  return {
    counts: await planCounts(warehouse, contract, tables, options),
    records: byKey(await collect(plannedRecords(warehouse, contract, tables, options))),
    removed: byKey(await collect(removedKeys(warehouse, contract, tables, options))),
    rejected: byKey(await rejectedKeys(warehouse, contract, options)),
    planRejected: byKey(await rejectedOfPlan(warehouse, contract, tables, options)),
  };
}

/** The rejected keys as a run reads them: from its materialized plan. */
async function rejectedOfPlan(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions) {
  const plan = await MaterializedPlan.materialize(warehouse, contract, tables, options);
  try {
    return await plan.rejectedKeys();
  } finally {
    await plan.drop();
  }
}

/**
 * Asserts that partitioned plans equal the one-query plan. The caller's ledger should hold updates and removals
 * so that every class is non-empty somewhere; `fullResync` makes every eligible row a record to compare.
 */
export async function expectPartitionedPlanEqual(warehouse: Warehouse, contract: Contract, tables: LedgerTables, partitionCounts: readonly number[] = [3, 7]): Promise<void> {
  for (const base of [{ fullResync: true }, {}, { fullResync: true, shard: { index: 1, count: 4 } }] as PlanOptions[]) {
    const whole = await planOf(warehouse, contract, tables, base);
    if (base.fullResync) expect(whole.records.length).toBeGreaterThan(0);
    // The plan's rejected keys (its shared rows, the null keys counted) are the relation's, a null and a shared key.
    expect(whole.planRejected).toEqual(whole.rejected);
    expect(new Set(whole.rejected.map((r) => r.reason))).toEqual(new Set(["null_key", "duplicate_key"]));
    for (const partitions of partitionCounts) {
      const parts = await planOf(warehouse, contract, tables, { ...base, partitions });
      // Equal lists, so no key is lost and none comes twice (a filter that did nothing would repeat every key).
      expect(parts).toEqual(whole);
    }
  }
}

/** Asserts how many partitions a plan runs in: the larger of the relation and the ledger over the rows per partition. */
export async function expectPartitionCount(warehouse: Warehouse, contract: Contract, tables: LedgerTables, largerSide: number): Promise<void> {
  const env = (rows: string): NodeJS.ProcessEnv => ({ [PARTITION_ROWS_ENV]: rows });
  expect(await planPartitions(warehouse, contract, tables, undefined, env("40"))).toBe(Math.ceil(largerSide / 40));
  // A shard holds a quarter of the keys: fewer partitions.
  expect(await planPartitions(warehouse, contract, tables, { index: 0, count: 4 }, env("40"))).toBe(Math.ceil(largerSide / 4 / 40));
  expect(await planPartitions(warehouse, contract, tables, undefined, env(String(largerSide)))).toBe(1);
  // The engine's own default: a million rows on DuckDB, none on a server engine; small tables run in one query.
  expect(await planPartitions(warehouse, contract, tables, undefined, {})).toBe(1);
  await expect(planPartitions(warehouse, contract, tables, undefined, env("0"))).rejects.toThrow(BadInputError);
  await expect(planPartitions(warehouse, contract, tables, undefined, env("lots"))).rejects.toThrow(new RegExp(`${PARTITION_ROWS_ENV} must be a whole number`));
}
