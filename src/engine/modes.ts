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
  removed: number;
  failed: FailedOutcome[];
}

/** Applies the contract's on_removed (or audience removal) to keys that left the eligible set, chunk by chunk. */
export async function applyRemovals(
  destination: Destination,
  spec: ContractSpec,
  keys: AsyncIterable<RemovedKey[]>,
  counters: RetryCounters,
  onDone: (removedKeys: string[], failed: FailedOutcome[]) => Promise<void>,
  policy: RetryPolicy = {},
): Promise<RemovalSummary> {
  const summary: RemovalSummary = { removed: 0, failed: [] };
  const how = spec.destination.on_removed === "delete" ? "delete" : "clear";
  const fields = Object.values(spec.fields).map((f) => (typeof f === "string" ? f : f.to));
  for await (const chunk of keys) {
    for (let start = 0; start < chunk.length; start += destination.maxBatchSize) {
      const batch = chunk.slice(start, start + destination.maxBatchSize).map((k) => k.key);
      const outcomes =
        spec.destination.mode === "audience"
          ? await retrying(() => destination.audience([], batch), policy, counters)
          : await retrying(() => destination.remove(batch, how, fields), policy, counters);
      const failed = outcomes.filter((o): o is FailedOutcome => o.status === "failed");
      const done = outcomes.filter((o) => o.status !== "failed").map((o) => o.key);
      summary.removed += done.length;
      summary.failed.push(...failed);
      await onDone(done, failed);
    }
  }
  return summary;
}
