/**
 * What a ledger row was written under. The row hash covers the mapped column values only, so two edits of a contract
 * leave it unchanged while changing what a sync writes: the mapping (a field's `to` or `on_null`) and the target
 * (destination type, object, match field, alias label, list). The ledger keeps the mapping fingerprint per row and
 * the run log the target per run: a changed mapping makes every synced row an update, a changed target is refused.
 */
import { createHash } from "node:crypto";
import { fieldMappings, type ContractSpec } from "./schema.ts";

/**
 * A stable fingerprint (16 hex digits of sha256) of what changes the bytes a row sends: the sorted (column, to,
 * on_null) triples. Declaration order, `allowed`, `overwrite` and everything outside `fields` do not count.
 */
export function mappingFingerprint(spec: ContractSpec): string {
  const triples = fieldMappings(spec)
    .map((m) => [m.column, m.to, m.on_null] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256").update(JSON.stringify(triples), "utf8").digest("hex").slice(0, 16);
}

/**
 * The records a contract's ledger describes, readable and without secrets (no connection, no credential):
 * `hubspot contacts by email`, `braze users by user_alias (label crm_id)`, `hubspot contacts by email in list 42`.
 */
export function destinationTarget(spec: ContractSpec): string {
  const d = spec.destination;
  const label = d.match.alias_label === undefined ? "" : ` (label ${d.match.alias_label})`;
  const list = d.list_id === undefined ? "" : ` in list ${d.list_id}`;
  return `${d.type} ${d.object} by ${d.match.field}${label}${list}`;
}

/**
 * Why a sync may not write to the contract's target: the last run wrote to `last` and the ledger still holds synced
 * rows of it, whose record ids belong there (an update or a removal would act on the wrong records). Undefined when
 * the target is the same, or unknown (runs before the ledger recorded it), or nothing synced is left.
 */
export function targetChangeProblem(spec: ContractSpec, last: { target: string | undefined; syncedRows: boolean }): string | undefined {
  const now = destinationTarget(spec);
  if (!last.syncedRows || last.target === undefined || last.target === now) return undefined;
  return (
    `the destination changed from "${last.target}" to "${now}" since the last sync, and the ledger holds records synced to "${last.target}" ` +
    `(their ids belong there: updates and removals would act on the wrong records). Restore the previous destination, or give the contract ` +
    `a new name so a new ledger starts (the old ledger stays for audit)`
  );
}
