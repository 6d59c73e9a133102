/**
 * Plan partitions. On an engine that runs inside the syncer's process (DuckDB), the diff's hash join, the window
 * that drops shared keys and the sort by key hold every row at once, so the process grows with the table. Split
 * into k stable key buckets run one after another, each query holds about one bucket, whatever the table's size,
 * for the price of k scans. Rows sharing a key share its bucket, so each bucket's diff is exact on its own.
 */
import type { Contract } from "../contract/load.ts";
import type { KeyRule } from "../contract/rules.ts";
import { hasModelHash, relationRows, type Shard } from "../eligible/rows.ts";
import type { LedgerTables } from "../ledger/migrations.ts";
import type { Warehouse } from "../warehouse/types.ts";
import type { PlanOptions } from "./diff.ts";
import { envValue } from "../config/env.ts";

/** Overrides the engine's rows per partition (any engine; tests use it to run partitioned plans on small tables). */
export const PARTITION_ROWS_ENV = "DBT_ACTIVATION_PLAN_PARTITION_ROWS";

function partitionRows(warehouse: Warehouse, env: NodeJS.ProcessEnv): number | undefined {
  return envValue(env, PARTITION_ROWS_ENV) ?? warehouse.dialect.planPartitionRows;
}

/**
 * How many partitions a contract's plan runs in: the larger of its relation and its ledger, over the rows per
 * partition (a shard already holds 1/n of the keys).
 */
export async function planPartitions(
  warehouse: Warehouse,
  contract: Contract,
  tables: LedgerTables,
  shard: Shard | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const perPartition = partitionRows(warehouse, env);
  if (perPartition === undefined) return 1;
  const [ledger] = await warehouse.query(
    `select count(*) as ${warehouse.dialect.quoteIdentifier("rows")} from ${tables.ledger} where contract_name = ${warehouse.dialect.param(1)} and status = 'synced'`,
    [contract.spec.name],
  );
  const rows = Math.max(await relationRows(warehouse, contract), Number(ledger?.rows ?? 0));
  return Math.max(1, Math.ceil(rows / Math.max(1, shard?.count ?? 1) / perPartition));
}

/** The plan options a run uses: the model's own row hash when it has one, the shard, and the partitions. */
export async function planOptionsFor(
  warehouse: Warehouse,
  contract: Contract,
  tables: LedgerTables,
  options: { fullResync?: boolean | undefined; shard?: Shard | undefined; env?: NodeJS.ProcessEnv | undefined; builtBy?: string | undefined; keyRule?: KeyRule | undefined } = {},
): Promise<PlanOptions> {
  return {
    builtBy: options.builtBy,
    keyRule: options.keyRule,
    modelHash: await hasModelHash(warehouse, contract),
    fullResync: options.fullResync ?? false,
    shard: options.shard,
    partitions: await planPartitions(warehouse, contract, tables, options.shard, options.env),
    // One clock for the run: every query agrees on which rows `freshness.expire_after` leaves out.
    now: new Date(),
    excluded: await readableExcluded(warehouse, contract),
  };
}

/**
 * The excluded-rows model's relation when the warehouse can read it (a build that selected only some models may
 * not have built it): removals then know why each row left. Unreadable, a contract with consent or exclude items
 * treats every removal as a possible withdrawn consent (src/contract/rules.ts: removalCause).
 */
async function readableExcluded(warehouse: Warehouse, contract: Contract): Promise<string | undefined> {
  const relation = contract.excludedModel?.relation;
  if (!relation) return undefined;
  try {
    const columns = (await warehouse.columns(relation)).map((c) => c.toLowerCase());
    return columns.includes("reasons") && columns.includes(contract.spec.key.toLowerCase()) ? relation : undefined;
  } catch {
    return undefined;
  }
}
