/**
 * `reconcile`: reads the destination records of every key the ledger knows for a contract, writes them to the
 * destination snapshot table (which the dbt package's `activation_reconciliation` model and `parity` / `match_rate`
 * tests read), and classifies each discrepancy: missing in the destination, value mismatch (the destination holds
 * something other than what we last sent), suppressed but present (removed from the eligible set, still there),
 * stale (the eligible row changed since it was sent), in dead letters.
 */
import { loadContracts, selectContracts } from "../contract/load.ts";
import { fieldMappings } from "../contract/schema.ts";
import { readManifest } from "../dbt/artifacts.ts";
import type { CurrentRecord } from "../destinations/types.ts";
import { knownKeyRule } from "../destinations/index.ts";
import { openDestination } from "./destination.ts";
import { retrying } from "../engine/retry.ts";
import { toJsonText } from "../ledger/ledger.ts";
import { plannedRecords } from "../plan/diff.ts";
import { planOptionsFor } from "../plan/partitions.ts";
import { join } from "node:path";
import { resolveTargetDir } from "../dbt/project.ts";
import type { SqlParam } from "../warehouse/types.ts";
import type { RecoverOptions } from "./recover.ts";
import { openLedgerSession } from "./session.ts";

export const DISCREPANCIES = ["missing_in_destination", "value_mismatch", "suppressed_but_present", "stale", "in_dead_letters"] as const;
export type Discrepancy = (typeof DISCREPANCIES)[number];

export interface ReconcileResult {
  contract: string;
  checked: number;
  snapshotRows: number;
  counts: Record<Discrepancy, number>;
  samples: { key: string; discrepancy: Discrepancy; detail: string }[];
}

const READ_CHUNK = 500;

export async function runReconcile(options: RecoverOptions): Promise<ReconcileResult> {
  const manifest = await readManifest(join(await resolveTargetDir(options), "manifest.json"));
  const [contract] = selectContracts(loadContracts(manifest), [options.contract]);
  const session = await openLedgerSession(options);
  try {
    const { warehouse, tables } = session;
    const p = warehouse.dialect.param;
    const name = contract!.spec.name;
    const fields = fieldMappings(contract!.spec).map((f) => f.to);
    const destination = openDestination(contract!, options.env ?? process.env);
    const counters = { requests: 0, retries: 0 };
    const result: ReconcileResult = { contract: name, checked: 0, snapshotRows: 0, counts: Object.fromEntries(DISCREPANCIES.map((d) => [d, 0])) as Record<Discrepancy, number>, samples: [] };
    const note = (key: string, discrepancy: Discrepancy, detail: string): void => {
      result.counts[discrepancy] += 1;
      if (result.samples.length < 20) result.samples.push({ key, discrepancy, detail });
    };

    const ledgerRows = await warehouse.query(`select sync_key, status, last_sent_values from ${tables.ledger} where contract_name = ${p(1)} order by sync_key`, [name]);
    await warehouse.execute(`delete from ${tables.snapshot} where contract_name = ${p(1)}`, [name]);
    const capturedAt = new Date();
    for (let start = 0; start < ledgerRows.length; start += READ_CHUNK) {
      const chunk = ledgerRows.slice(start, start + READ_CHUNK);
      const current: Map<string, CurrentRecord> = await retrying(() => destination.readBack(chunk.map((r) => String(r.sync_key)), fields), {}, counters);
      const snapshot: SqlParam[] = [];
      for (const row of chunk) {
        const key = String(row.sync_key);
        const record = current.get(key);
        result.checked += 1;
        if (record) snapshot.push(name, key, record.recordId, toJsonText(record.values), record.modifiedAt ? new Date(record.modifiedAt) : null, capturedAt);
        if (row.status === "removed") {
          if (record && fields.some((f) => record.values[f] !== null && record.values[f] !== "")) note(key, "suppressed_but_present", "left the eligible set; the destination still holds its values");
          continue;
        }
        if (!record) {
          note(key, "missing_in_destination", "the ledger says it was synced; the destination has no such record");
          continue;
        }
        const sent = JSON.parse(String(row.last_sent_values ?? "{}")) as Record<string, unknown>;
        const differing = Object.keys(sent).filter((f) => String(record.values[f] ?? "") !== String(sent[f] ?? ""));
        if (differing.length > 0) note(key, "value_mismatch", `destination differs from what was sent on ${differing.join(", ")}`);
      }
      const rows = snapshot.length / 6;
      if (rows > 0) {
        const values = Array.from({ length: rows }, (_, r) => `(${Array.from({ length: 6 }, (_, c) => p(r * 6 + c + 1)).join(", ")})`).join(", ");
        await warehouse.execute(
          `insert into ${tables.snapshot} (contract_name, sync_key, destination_record_id, values_json, destination_updated_at, captured_at) values ${values}`,
          snapshot,
        );
        result.snapshotRows += rows;
      }
    }
    // Stale: eligible rows whose values changed since they were last sent (the next sync sends them).
    for await (const chunk of plannedRecords(warehouse, contract!, tables, await planOptionsFor(warehouse, contract!, tables, { env: options.env, keyRule: knownKeyRule(contract!) ?? (await retrying(() => destination.keyRule(), {}, counters)) }))) {
      for (const record of chunk) if (record.change === "update") note(record.key, "stale", "the eligible row changed since it was sent");
    }
    // Records (keys) with an open dead letter: not yet written, replayed, or closed as no longer eligible.
    for (const key of await session.ledger.openDeadLetterKeys(name)) note(key, "in_dead_letters", "failed at the destination; its dead letter is open");
    return result;
  } finally {
    await session.close();
  }
}
