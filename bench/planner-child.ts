/**
 * One planner case in its own process, so its peak RSS is its own: either our streaming diff in the warehouse
 * (the plan materialized once, its counts and every planned record read, and the rejected keys, as `sync` does: partitioned as the engine
 * asks, or in one query for comparison), or a naive diff in Node (both sides loaded into Maps, hashed in Node the
 * same way, compared in memory).
 */
import { createHash } from "node:crypto";
import { eligibleRowsSql, KEY_COLUMN } from "../src/eligible/rows.ts";
import { ledgerTables } from "../src/ledger/migrations.ts";
import { MaterializedPlan, type PlanCounts } from "../src/plan/diff.ts";
import { planPartitions } from "../src/plan/partitions.ts";
import { connectWarehouse, type Warehouse } from "../src/warehouse/index.ts";
import { runAsChild, sampled } from "./lib.ts";
import { PLANNER_COLUMNS, PLANNER_CONTRACT, plannerContract } from "./planner.ts";

/**
 * streaming: what sync does, with the syncer's DuckDB defaults (partitions, memory_limit 256MB); streaming-uncapped:
 * the same partitions under DuckDB's own memory_limit (80 % of RAM); single-query: the diff in one query per step
 * (no partitions) under DuckDB's own limit, as before partitions; naive: a diff in Node; floor: the plan's join
 * (eligible rows left join the contract's synced ledger rows) as one bare `count(*)`, under the syncer's defaults:
 * what DuckDB needs to read both sides and match them once, with nothing classified, written or sent.
 */
export const PLANNER_MODES = ["streaming", "streaming-uncapped", "single-query", "naive", "floor"] as const;
export type PlannerMode = (typeof PLANNER_MODES)[number];

export interface PlannerInput {
  path: string;
  relation: string;
  mode: PlannerMode;
  /** DuckDB's memory_limit, set as a user would in the profile's `settings:` (absent: the syncer's default). */
  memoryLimit?: string | undefined;
}

export interface PlannerResult {
  elapsedMs: number;
  counts: PlanCounts;
  streamed: number;
  /** Null or shared keys found (the naive diff drops them too). */
  rejectedKeys: number;
  /** How many partitions the diff ran in (1 for single-query and naive). */
  partitions: number;
  peakHeapBytes: number;
  /** Streaming modes: where the time went (ms): the plan materialized (partitions counted first), its counts, the rows to send read into Node, the rejected keys. */
  phases?: PlanPhases;
}

export interface PlanPhases {
  materializeMs: number;
  countsMs: number;
  readRowsToSendMs: number;
  rejectedKeysMs: number;
}

type Diffed = Omit<PlannerResult, "elapsedMs" | "peakHeapBytes">;

async function streaming(warehouse: Warehouse, input: PlannerInput): Promise<Diffed> {
  const tables = ledgerTables(warehouse.dialect, warehouse.defaultSchema);
  const contract = plannerContract(input.relation);
  let mark = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const spent = now - mark;
    mark = now;
    return spent;
  };
  // As sync does: the partitions come from the table sizes and the engine (counting them is part of the time).
  const partitions = input.mode === "single-query" ? 1 : await planPartitions(warehouse, contract, tables, undefined, process.env);
  // As sync does: the plan materialized once, its counts and rows to send read from it.
  const plan = await MaterializedPlan.materialize(warehouse, contract, tables, { partitions });
  const materializeMs = lap();
  let counts: PlanCounts;
  let streamed = 0;
  let rejected: unknown[];
  let phases: PlanPhases;
  try {
    counts = await plan.counts();
    const countsMs = lap();
    for await (const chunk of plan.records()) streamed += chunk.length;
    const readRowsToSendMs = lap();
    // As sync does: the rejected keys read from the plan.
    rejected = await plan.rejectedKeys();
    phases = { materializeMs, countsMs, readRowsToSendMs, rejectedKeysMs: lap() };
  } finally {
    await plan.drop();
  }
  return { counts, streamed, rejectedKeys: rejected.length, partitions, phases };
}

async function floor(warehouse: Warehouse, input: PlannerInput): Promise<Diffed> {
  const tables = ledgerTables(warehouse.dialect, warehouse.defaultSchema);
  const contract = plannerContract(input.relation);
  const q = warehouse.dialect.quoteIdentifier;
  const [row] = await warehouse.query(
    `select count(*) as n from (${eligibleRowsSql(contract, warehouse.dialect)}) as e
     left join (select sync_key, row_hash from ${tables.ledger} where contract_name = $1 and status = 'synced') as l on l.sync_key = e.${q(KEY_COLUMN)}`,
    [PLANNER_CONTRACT],
  );
  const counts: PlanCounts = { eligible: Number(row?.n ?? 0), create: 0, update: 0, unchanged: 0, removed: 0, failedUnchanged: 0, retryLater: 0, removable: 0 };
  return { counts, streamed: 0, rejectedKeys: 0, partitions: 1 };
}

/** activation.row_hash in Node: md5 of the values joined by chr(31), chr(30) for null. */
function rowHash(values: unknown[]): string {
  return createHash("md5")
    .update(values.map((v) => (v === null || v === undefined ? "\x1e" : String(v))).join("\x1f"))
    .digest("hex");
}

async function naive(warehouse: Warehouse, input: PlannerInput): Promise<Diffed> {
  const tables = ledgerTables(warehouse.dialect, warehouse.defaultSchema);
  // What a hand-written diff does: read the model and the ledger whole, hash and compare in memory.
  const rows = new Map<string, { fields: Record<string, unknown>; hash: string }>();
  const seen = new Map<string, number>();
  // rejectedKeys reports every null key as one entry.
  let nullKeys = 0;
  for await (const chunk of warehouse.stream(`select email, ${PLANNER_COLUMNS.join(", ")} from ${input.relation}`)) {
    for (const row of chunk) {
      if (row.email === null || row.email === undefined) {
        nullKeys = 1;
        continue;
      }
      const key = String(row.email);
      seen.set(key, (seen.get(key) ?? 0) + 1);
      const fields: Record<string, unknown> = {};
      for (const c of PLANNER_COLUMNS) fields[c] = row[c];
      rows.set(key, { fields, hash: rowHash(PLANNER_COLUMNS.map((c) => row[c])) });
    }
  }
  let rejected = nullKeys;
  for (const [key, n] of seen) {
    if (n > 1) {
      rows.delete(key);
      rejected += 1;
    }
  }
  const ledger = new Map<string, string>();
  for await (const chunk of warehouse.stream(`select sync_key, row_hash from ${tables.ledger} where contract_name = $1 and status = 'synced'`, [PLANNER_CONTRACT])) {
    for (const row of chunk) ledger.set(String(row.sync_key), String(row.row_hash));
  }
  const counts: PlanCounts = { eligible: rows.size, create: 0, update: 0, unchanged: 0, removed: 0, failedUnchanged: 0, retryLater: 0, removable: 0 };
  const changed: { key: string; fields: Record<string, unknown> }[] = [];
  for (const [key, row] of rows) {
    const previous = ledger.get(key);
    if (previous === undefined) counts.create += 1;
    else if (previous !== row.hash) counts.update += 1;
    else {
      counts.unchanged += 1;
      continue;
    }
    changed.push({ key, fields: row.fields });
  }
  for (const key of ledger.keys()) if (!rows.has(key)) counts.removed += 1;
  changed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { counts, streamed: changed.length, rejectedKeys: rejected, partitions: 1 };
}

runAsChild<PlannerInput, PlannerResult>(async (input) => {
  // memory_limit as a user sets it: the dbt-duckdb profile's `settings:`, which the syncer applies.
  const settings = input.memoryLimit ? { settings: { memory_limit: input.memoryLimit } } : {};
  const warehouse = await connectWarehouse({ profile: "bench", target: "bench", profilesPath: "profiles.yml", config: { type: "duckdb", path: input.path, ...settings } });
  try {
    const started = performance.now();
    const { value, peakHeapBytes } = await sampled(() => (input.mode === "naive" ? naive(warehouse, input) : input.mode === "floor" ? floor(warehouse, input) : streaming(warehouse, input)));
    return { elapsedMs: performance.now() - started, ...value, peakHeapBytes };
  } finally {
    await warehouse.close();
  }
});
