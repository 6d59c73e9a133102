/**
 * `reconcile`: reads the destination records of every key the ledger knows for a contract and every eligible key, writes them to the
 * destination snapshot table (which the dbt package's `activation_reconciliation` model and `parity` / `match_rate`
 * tests read), and classifies each discrepancy: missing in the destination, value mismatch (the destination holds
 * something other than what we last sent), suppressed but present (removed from the eligible set, still there),
 * stale (the eligible row changed since it was sent), in dead letters, and consent revoked but present (the row left
 * for a withdrawn consent, and the destination still holds values this project activated: a clear or delete that
 * failed, or a declared keep), which outranks the others for its key.
 */
import { loadContracts, selectContracts } from "../contract/load.ts";
import { isConsentRemoval } from "../contract/rules.ts";
import { fieldMappings } from "../contract/schema.ts";
import { readManifest } from "../dbt/artifacts.ts";
import type { CurrentRecord } from "../destinations/types.ts";
import { knownKeyRule } from "../destinations/index.ts";
import { openDestination } from "./destination.ts";
import { retrying } from "../engine/retry.ts";
import { DestinationSnapshot, type CapturedRecord } from "../ledger/snapshot.ts";
import { eligibleKeys } from "../eligible/rows.ts";
import { plannedRecords } from "../plan/diff.ts";
import { planOptionsFor } from "../plan/partitions.ts";
import { join } from "node:path";
import { resolveTargetDir } from "../dbt/project.ts";
import type { RecoverOptions } from "./recover.ts";
import { openLedgerSession } from "./session.ts";

export const DISCREPANCIES = ["missing_in_destination", "value_mismatch", "suppressed_but_present", "consent_revoked_but_present", "stale", "in_dead_letters"] as const;
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

    const ledgerRows = await warehouse.query(`select sync_key, status, row_hash, last_sent_values, removal_reason, removal_action from ${tables.ledger} where contract_name = ${p(1)} order by sync_key`, [name]);
    const ledgerByKey = new Map(ledgerRows.map((r) => [String(r.sync_key), r]));
    // The eligible keys are read too, synced or not: parity shows eligible rows missing from the destination, and a
    // contract's match rate counts the records the destination already holds before its first sync.
    const keys = [...new Set([...ledgerByKey.keys(), ...(await eligibleKeys(warehouse, contract!))])].sort();
    const snapshot = new DestinationSnapshot(warehouse, tables);
    const capturedAt = new Date();
    await snapshot.begin(name, capturedAt);
    for (let start = 0; start < keys.length; start += READ_CHUNK) {
      const chunk = keys.slice(start, start + READ_CHUNK);
      const current: Map<string, CurrentRecord> = await retrying(() => destination.readBack(chunk, fields), {}, counters);
      const captured: CapturedRecord[] = [];
      for (const key of chunk) {
        const row = ledgerByKey.get(key);
        const record = current.get(key);
        const sent = row ? (JSON.parse(String(row.last_sent_values ?? "{}")) as Record<string, unknown>) : undefined;
        const differing = sent && record ? Object.keys(sent).filter((f) => String(record.values[f] ?? "") !== String(sent[f] ?? "")) : [];
        const holdsValues = record !== undefined && fields.some((f) => record.values[f] !== null && record.values[f] !== undefined && record.values[f] !== "");
        // The row hash the destination holds: only when it holds exactly what we last sent for it.
        const heldHash = row?.status === "synced" && differing.length === 0 ? String(row.row_hash ?? "") || null : null;
        if (record) captured.push({ key, recordId: record.recordId, values: record.values, modifiedAt: record.modifiedAt, rowHash: heldHash, holdsValues });
        if (!row) continue; // eligible, never synced: the next sync creates it (parity shows it; nothing drifted)
        result.checked += 1;
        const reason = row.removal_reason === null || row.removal_reason === undefined ? undefined : String(row.removal_reason);
        if (isConsentRemoval(reason)) {
          // Whether the removal was done (status removed) or is still owed (its clear or delete failed).
          const what = row.removal_action === "keep" ? "kept by the contract's declared keep" : row.status === "removed" ? `${String(row.removal_action)} done` : `${String(row.removal_action)} failed, still owed`;
          if (holdsValues) note(key, "consent_revoked_but_present", `consent withdrawn (${reason}; ${what}); the destination still holds activated values`);
          if (holdsValues || row.status === "removed") continue;
        }
        if (row.status === "removed") {
          if (holdsValues) note(key, "suppressed_but_present", "left the eligible set; the destination still holds its values");
          continue;
        }
        if (!record) {
          note(key, "missing_in_destination", "the ledger says it was synced; the destination has no such record");
          continue;
        }
        if (differing.length > 0) note(key, "value_mismatch", `destination differs from what was sent on ${differing.join(", ")}`);
      }
      await snapshot.append(name, capturedAt, captured);
      result.snapshotRows += captured.length;
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
