/**
 * Launch readiness: the checks that should pause a launch (unclear grain or key, matching untested, no destination
 * owner, no suppression, no freshness, no pause rule or rollback path, only data-team owners). A contract with
 * `status: launch` must pass them all; `caveats` runs alert-only or as a limited rollout; `paused` never runs.
 */
import type { Manifest } from "../dbt/artifacts.ts";
import type { Contract } from "./load.ts";

export interface Readiness {
  ready: boolean;
  /** Each reason names the contract field to add or fix. */
  reasons: string[];
}

const KEY_TESTS = { unique: ["unique", "unique_key"], notNull: ["not_null", "unique_key"] };

/** Per model and column (lower case), the names of the tests on it; indexed once per manifest. */
const testIndex = new WeakMap<Manifest, Map<string, Set<string>>>();

function columnTests(manifest: Manifest, modelId: string, column: string): Set<string> {
  let index = testIndex.get(manifest);
  if (!index) {
    index = new Map();
    for (const node of Object.values(manifest.nodes)) {
      if (node.resource_type !== "test" || !node.attached_node || !node.test_metadata) continue;
      const testColumn = (node as { column_name?: unknown }).column_name ?? (node.test_metadata as { kwargs?: { column_name?: unknown } }).kwargs?.column_name;
      if (typeof testColumn !== "string") continue;
      const id = `${node.attached_node}\u0000${testColumn.toLowerCase()}`;
      index.set(id, (index.get(id) ?? new Set()).add(node.test_metadata.name));
    }
    testIndex.set(manifest, index);
  }
  return index.get(`${modelId}\u0000${column.toLowerCase()}`) ?? new Set();
}

export function launchReadiness(contract: Contract, manifest?: Manifest): Readiness {
  const c = contract.spec;
  const reasons: string[] = [];
  if (!c.decision) reasons.push("decision: no business decision stated");
  if (!c.grain) reasons.push("grain: unclear grain (say what one row is)");
  if (manifest) {
    const tests = columnTests(manifest, contract.model.uniqueId, c.key);
    const unique = KEY_TESTS.unique.some((t) => tests.has(t));
    const notNull = KEY_TESTS.notNull.some((t) => tests.has(t));
    if (!unique || !notNull) reasons.push(`key: column ${c.key} is not tested ${[!unique && "unique", !notNull && "not_null"].filter(Boolean).join(" and ")}`);
  }
  // A rate of 0 passes whatever matches: it tests nothing, like no rate at all.
  if (!c.gates?.match_rate_not_needed) {
    if (c.gates?.min_match_rate === undefined) reasons.push("gates.min_match_rate: the matching rule is untested (declare the share of rows that must match)");
    else if (c.gates.min_match_rate === 0) {
      reasons.push("gates.min_match_rate: 0 tests nothing (declare a positive share of rows that must match, or gates.match_rate_not_needed with the reason)");
    }
  }
  if (!c.owners?.destination) reasons.push("owners.destination: no destination owner");
  if (!c.suppression) reasons.push("suppression: none declared (declare exclusions, consent, holdout, review, or not_needed with the reason)");
  if (!c.freshness) reasons.push("freshness: none declared");
  if (!c.monitoring?.pause_if) reasons.push("monitoring.pause_if: no pause rule");
  if (!c.monitoring?.rollback) reasons.push("monitoring.rollback: no rollback path");
  const business = [c.owners?.field, c.owners?.destination, c.owners?.workflow].filter((o): o is string => Boolean(o) && o !== c.owners?.model);
  if (business.length === 0) reasons.push("owners: only data-team owners (name field, destination or workflow owners beyond the model owner)");
  return { ready: reasons.length === 0, reasons };
}
