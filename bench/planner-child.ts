/**
 * One planner case in its own process, so its peak RSS is its own: either our streaming diff in the warehouse
 * (`planCounts` + every planned record streamed, as `sync` does), or a naive diff in Node (both sides loaded into
 * Maps, hashed in Node the same way, compared in memory).
 */
import { createHash } from "node:crypto";
import { ledgerTables } from "../src/ledger/migrations.ts";
import { planCounts, plannedRecords, type PlanCounts } from "../src/plan/diff.ts";
import { connectWarehouse, type Warehouse } from "../src/warehouse/index.ts";
import { runAsChild, sampled } from "./lib.ts";
import { PLANNER_COLUMNS, PLANNER_CONTRACT, plannerContract } from "./planner.ts";

export interface PlannerInput {
  path: string;
  relation: string;
  mode: "streaming" | "streaming-capped" | "naive";
  /** DuckDB's memory_limit for the capped mode (it spills joins and sorts to disk beyond it). */
  memoryLimit?: string;
}

export interface PlannerResult {
  elapsedMs: number;
  counts: PlanCounts;
  streamed: number;
  peakHeapBytes: number;
}

async function streaming(warehouse: Warehouse, input: PlannerInput): Promise<{ counts: PlanCounts; streamed: number }> {
  const tables = ledgerTables(warehouse.dialect, warehouse.defaultSchema);
  const contract = plannerContract(input.relation);
  const counts = await planCounts(warehouse, contract, tables);
  let streamed = 0;
  for await (const chunk of plannedRecords(warehouse, contract, tables)) streamed += chunk.length;
  return { counts, streamed };
}

/** activation.row_hash in Node: md5 of the values joined by chr(31), chr(30) for null. */
function rowHash(values: unknown[]): string {
  return createHash("md5")
    .update(values.map((v) => (v === null || v === undefined ? "\x1e" : String(v))).join("\x1f"))
    .digest("hex");
}

async function naive(warehouse: Warehouse, input: PlannerInput): Promise<{ counts: PlanCounts; streamed: number }> {
  const tables = ledgerTables(warehouse.dialect, warehouse.defaultSchema);
  // What a hand-written diff does: read the model and the ledger whole, hash and compare in memory.
  const rows = new Map<string, { fields: Record<string, unknown>; hash: string }>();
  const seen = new Map<string, number>();
  for await (const chunk of warehouse.stream(`select email, ${PLANNER_COLUMNS.join(", ")} from ${input.relation}`)) {
    for (const row of chunk) {
      if (row.email === null || row.email === undefined) continue;
      const key = String(row.email);
      seen.set(key, (seen.get(key) ?? 0) + 1);
      const fields: Record<string, unknown> = {};
      for (const c of PLANNER_COLUMNS) fields[c] = row[c];
      rows.set(key, { fields, hash: rowHash(PLANNER_COLUMNS.map((c) => row[c])) });
    }
  }
  for (const [key, n] of seen) if (n > 1) rows.delete(key);
  const ledger = new Map<string, string>();
  for await (const chunk of warehouse.stream(`select sync_key, row_hash from ${tables.ledger} where contract_name = $1 and status = 'synced'`, [PLANNER_CONTRACT])) {
    for (const row of chunk) ledger.set(String(row.sync_key), String(row.row_hash));
  }
  const counts: PlanCounts = { eligible: rows.size, create: 0, update: 0, unchanged: 0, removed: 0 };
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
  return { counts, streamed: changed.length };
}

runAsChild<PlannerInput, PlannerResult>(async (input) => {
  // The capped mode sets memory_limit as a user would: the dbt-duckdb profile's `settings:`, which the syncer applies.
  const settings = input.mode === "streaming-capped" ? { settings: { memory_limit: input.memoryLimit ?? "1GB" } } : {};
  const warehouse = await connectWarehouse({ profile: "bench", target: "bench", profilesPath: "profiles.yml", config: { type: "duckdb", path: input.path, ...settings } });
  try {
    const started = performance.now();
    const { value, peakHeapBytes } = await sampled(() => (input.mode === "naive" ? naive(warehouse, input) : streaming(warehouse, input)));
    return { elapsedMs: performance.now() - started, ...value, peakHeapBytes };
  } finally {
    await warehouse.close();
  }
});
