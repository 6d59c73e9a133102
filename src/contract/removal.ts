/** What a contract does with a row that left the eligible set: one rule for plan, generate and the pipeline. */
import type { ContractSpec } from "./schema.ts";

/** Whether the sync acts on rows that left the eligible set (mirror, audience, or an on_removed other than keep). */
export function actsOnRemoved(spec: ContractSpec): boolean {
  return spec.destination.mode === "mirror" || spec.destination.mode === "audience" || spec.destination.on_removed !== "keep";
}
