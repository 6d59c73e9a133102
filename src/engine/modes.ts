/**
 * How each sync mode reaches the destination. upsert, update and create write records (update and create differ only
 * in which rows the guards let through: src/plan/guards.ts); audience adds the records to the contract's list, so
 * the engine's batching, pacing, retries and checkpoints serve it unchanged; removals clear, delete or unlist the
 * records of rows that left the eligible set.
 */
import type { ContractSpec } from "../contract/schema.ts";
import type { BulkWriter, Destination, DestinationRecord, FailedOutcome, RecordOutcome } from "../destinations/types.ts";
import type { RemovedKey } from "../plan/diff.ts";
import { retrying, type RetryCounters, type RetryPolicy } from "./retry.ts";

/** How the engine writes a contract's records: a description for messages, one batch's write, the bulk path if any. */
export interface Writer {
  readonly description: string;
  write(records: DestinationRecord[]): Promise<RecordOutcome[]>;
  readonly bulk?: BulkWriter | undefined;
}

/** The writer for this contract's mode: the destination itself, or in audience mode its list (no bulk path). */
export function writerFor(destination: Destination, spec: ContractSpec): Writer {
  if (spec.destination.mode !== "audience") return destination;
  return {
    description: `${destination.description} (audience ${spec.destination.list_id})`,
    write: async (records) => {
      const outcomes = await destination.audience(records.map((r) => r.key), []);
      return outcomes.map((o): RecordOutcome => (o.status === "failed" ? o : { key: o.key, status: o.status === "added" ? "created" : "updated", recordId: o.recordId }));
    },
  };
}

export interface RemovalSummary {
  /** Keys handled: cleared, deleted, unlisted, or kept (recorded with the reason). */
  removed: number;
  /** Of `removed`, those kept by a declared `keep` (no destination call). */
  kept: number;
  failed: FailedOutcome[];
}

/**
 * Applies each removed key's action (src/contract/rules.ts: removalAction) chunk by chunk: clear the mapped fields,
 * delete the record, unlist it from the audience, or keep it (no call; recorded all the same). `onDone` gets the
 * keys handled, the failures, and the removals those failures still owe.
 */
export async function applyRemovals(
  destination: Destination,
  spec: ContractSpec,
  keys: AsyncIterable<RemovedKey[]>,
  counters: RetryCounters,
  onDone: (removed: RemovedKey[], failed: FailedOutcome[], owed: RemovedKey[]) => Promise<void>,
  policy: RetryPolicy = {},
): Promise<RemovalSummary> {
  const summary: RemovalSummary = { removed: 0, kept: 0, failed: [] };
  const fields = Object.values(spec.fields).map((f) => (typeof f === "string" ? f : f.to));
  const call = (action: RemovedKey["action"], batch: string[]): Promise<{ key: string; status: string }[]> => {
    if (action === "unlist") return retrying(() => destination.audience([], batch), policy, counters);
    if (action === "clear" || action === "delete") return retrying(() => destination.remove(batch, action, fields), policy, counters);
    return Promise.resolve(batch.map((key) => ({ key, status: "kept" })));
  };
  for await (const chunk of keys) {
    for (const action of ["clear", "delete", "unlist", "keep"] as const) {
      const ofAction = chunk.filter((k) => k.action === action);
      for (let start = 0; start < ofAction.length; start += destination.maxBatchSize) {
        const batch = ofAction.slice(start, start + destination.maxBatchSize);
        const outcomes = await call(action, batch.map((k) => k.key));
        const failed = outcomes.filter((o): o is FailedOutcome => o.status === "failed");
        const done = new Set(outcomes.filter((o) => o.status !== "failed").map((o) => o.key));
        summary.removed += done.size;
        if (action === "keep") summary.kept += done.size;
        summary.failed.push(...failed);
        const failedKeys = new Set(failed.map((o) => o.key));
        await onDone(batch.filter((k) => done.has(k.key)), failed, batch.filter((k) => failedKeys.has(k.key)));
      }
    }
  }
  return summary;
}
