/**
 * Guards that need the destination's current state, applied per chunk just before sending: the sync mode (update:
 * existing records only; create: new records only), late-arriving protection (never overwrite a destination record
 * whose timestamp field is newer than the row's source timestamp), per-field overwrite policies (if_empty,
 * unless_edited), and keys that match several destination records (never written by guessing). One batched read per
 * chunk; a contract that needs none of these reads nothing.
 */
import type { ContractSpec } from "../contract/schema.ts";
import { fieldMappings } from "../contract/schema.ts";
import type { CurrentRecord } from "../destinations/types.ts";
import { DECIMAL_TEXT } from "../warehouse/types.ts";
import type { PlannedRecord } from "./diff.ts";

export interface GuardSkip {
  key: string;
  reason: string;
  /** Skipped by late-arriving protection (counted across runs: late_arriving.max_skipped_runs). */
  late?: true;
}

export function needsReadBack(spec: ContractSpec): boolean {
  const mode = spec.destination.mode;
  return mode === "update" || mode === "create" || Boolean(spec.late_arriving) || fieldMappings(spec).some((f) => f.overwrite !== "always");
}

function timestamp(value: unknown): number | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  // HubSpot datetimes may come back as epoch milliseconds in a string.
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : Date.parse(String(value));
  return Number.isFinite(n) ? n : undefined;
}

/** A day, or an instant with its zone (a zone-less time would be read in the process's local zone). */
const ISO_INSTANT = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d))?$/;

/**
 * Whether the destination still holds what we last sent. The ledger keeps the warehouse value as JSON (a Date as an
 * ISO instant, a bigint as its digits); the destination answers in its own spelling (Salesforce's
 * 2026-03-08T07:00:00.000+0000, a date field's YYYY-MM-DD, HubSpot's epoch milliseconds, a double for a bigint).
 * The same number or the same instant in another spelling is not a person's edit.
 */
function stillSent(sent: unknown, now: unknown): boolean {
  const a = String(sent ?? "");
  const b = String(now ?? "");
  if (a === b) return true;
  if (a === "" || b === "") return false;
  if (DECIMAL_TEXT.test(a) && DECIMAL_TEXT.test(b)) return Number(a) === Number(b);
  if (ISO_INSTANT.test(a) && (ISO_INSTANT.test(b) || /^-?\d+$/.test(b))) return Date.parse(a) === (ISO_INSTANT.test(b) ? Date.parse(b) : Number(b));
  return false;
}

function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || value === "";
}

/** Decides for one record: send it (possibly with fewer fields), or skip it with the reason. */
export function guardRecord(spec: ContractSpec, record: PlannedRecord, current: CurrentRecord | undefined): PlannedRecord | GuardSkip {
  const mode = spec.destination.mode;
  if (current?.duplicates && current.duplicates.length > 1) {
    return { key: record.key, reason: `matches ${current.duplicates.length} destination records (${current.duplicates.join(", ")}): never written by guessing` };
  }
  if (mode === "update" && !current) return { key: record.key, reason: "no destination record to update (mode: update)" };
  if (mode === "create" && current) return { key: record.key, reason: `destination record ${current.recordId} already exists (mode: create)` };
  const late = spec.late_arriving;
  if (late && current) {
    const destination = timestamp(current.values[late.destination]);
    const source = record.sourceTimestamp?.getTime();
    if (destination !== undefined && (source === undefined || destination > source)) {
      return {
        key: record.key,
        late: true,
        reason: `destination ${late.destination} ${new Date(destination).toISOString()} is newer than the row's ${late.source} ${source === undefined ? "(null)" : new Date(source).toISOString()}`,
      };
    }
  }
  if (!current) return record;
  let fields = record.fields;
  for (const field of fieldMappings(spec)) {
    if (!(field.to in fields) || field.overwrite === "always") continue;
    const now = current.values[field.to];
    const keep =
      field.overwrite === "if_empty"
        ? isEmpty(now)
        : // unless_edited: a person changed it when the value differs from what we last sent and the record moved since.
          !(record.ledger?.lastSent && !stillSent(record.ledger.lastSent[field.to], now) && timestamp(current.modifiedAt)! > (record.ledger.syncedAt?.getTime() ?? 0));
    if (!keep) {
      fields = { ...fields };
      delete fields[field.to];
    }
  }
  if (Object.keys(fields).length === 0) return { key: record.key, reason: "every field is protected by its overwrite policy" };
  return fields === record.fields ? record : { ...record, fields };
}

/** Applies `guardRecord` to a stream, reading the destination once per chunk; skipped rows go to `onSkip`. */
export async function* guardRecords(
  spec: ContractSpec,
  chunks: AsyncIterable<PlannedRecord[]>,
  readBack: (keys: string[], fields: string[]) => Promise<Map<string, CurrentRecord>>,
  onSkip: (skips: GuardSkip[], records: PlannedRecord[]) => void | Promise<void>,
): AsyncIterable<PlannedRecord[]> {
  const fields = [...new Set([...fieldMappings(spec).map((f) => f.to), ...(spec.late_arriving ? [spec.late_arriving.destination] : [])])];
  for await (const chunk of chunks) {
    const current = await readBack(chunk.map((r) => r.key), fields);
    const send: PlannedRecord[] = [];
    const skipped: GuardSkip[] = [];
    const skippedRecords: PlannedRecord[] = [];
    for (const record of chunk) {
      const decided = guardRecord(spec, record, current.get(record.key));
      if ("reason" in decided) {
        skipped.push(decided);
        skippedRecords.push(record);
      } else send.push(decided);
    }
    if (skipped.length > 0) await onSkip(skipped, skippedRecords);
    if (send.length > 0) yield send;
  }
}
