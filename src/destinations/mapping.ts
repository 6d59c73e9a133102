/**
 * The mapping check and the drift diff, shared by every destination: each destination describes its fields in one
 * shape (`DestinationSchema`) and says which value kinds each of its types accepts; the rules live here once.
 */
import { DestinationRequestError, type DestinationSchema, type FieldDescription, type ValueKind } from "./types.ts";

/** A mapped field as the contract declares it (destination name, and the contract's `allowed` values if any). */
export interface MappedField {
  to: string;
  allowed?: readonly (string | number | boolean)[] | undefined;
}

export interface MappingTarget {
  /** e.g. `HubSpot contacts`, for messages. */
  label: string;
  matchField: string;
  fields: MappedField[];
  /** Which column kinds a destination type accepts; undefined for a type the destination does not know. */
  accepts: (destinationType: string, kind: ValueKind) => boolean | undefined;
  /** Why a run of the contract may clear its mapped fields (contract/rules.ts, clearingRemovals); absent: none does. */
  clearing?: string | undefined;
}

/**
 * The destination's schema for its mapping check. A retryable failure is thrown (the run retries it, as any call); a
 * permanent one is the check's answer instead: the problem `cannot <what>: <why>`. `toError` turns what the client
 * threw into a request error (by default only a request error is one: anything else is thrown as it is).
 */
export async function describeForCheck(
  describe: () => Promise<DestinationSchema>,
  what: string,
  toError: (error: unknown) => DestinationRequestError = (error) => {
    if (error instanceof DestinationRequestError) return error;
    throw error;
  },
): Promise<{ schema: DestinationSchema } | { problem: string }> {
  try {
    return { schema: await describe() };
  } catch (error) {
    const failure = toError(error);
    if (failure.retryable) throw failure;
    return { problem: `cannot ${what}: ${failure.message}` };
  }
}

export function checkMapping(schema: DestinationSchema, target: MappingTarget, kinds: Record<string, ValueKind> = {}): string[] {
  const problems: string[] = [];
  const match = schema.get(target.matchField);
  if (!match) problems.push(`destination.match.field ${target.matchField} is not a field of ${target.label}`);
  else if (!match.matchable) problems.push(`destination.match.field ${target.matchField} does not have unique values in ${target.label}, so it cannot match records`);
  for (const field of target.fields) {
    const described = schema.get(field.to);
    if (!described) {
      problems.push(`fields: ${field.to} is not a field of ${target.label}`);
      continue;
    }
    if (!described.writable) problems.push(`fields: ${target.label} field ${field.to} is read-only`);
    // A clear that cannot empty a required field fails, and the record keeps every value this project activated.
    if (target.clearing && described.clearable === false) {
      problems.push(`fields: ${field.to} is required in ${target.label}, so it cannot be cleared, yet ${target.clearing}: declare delete (or keep, with a reason) for those removals`);
    }
    const kind = kinds[field.to];
    if (kind && target.accepts(described.type, kind) === false) {
      problems.push(`fields: ${field.to} is a ${described.type} field in ${target.label}; a ${kind} column cannot be written to it`);
    }
    if (described.allowed && field.allowed) {
      const outside = field.allowed.map(String).filter((v) => !described.allowed!.includes(v));
      if (outside.length > 0) {
        problems.push(`fields: ${field.to} allows ${outside.join(", ")} in the contract, which ${target.label} does not accept (its values: ${described.allowed.join(", ")})`);
      }
    }
  }
  return problems;
}

export interface FieldDrift {
  field: string;
  change: "removed" | "added" | "type" | "writable" | "allowed";
  before?: FieldDescription | undefined;
  after?: FieldDescription | undefined;
  /** For `allowed`: values no longer accepted. */
  droppedValues?: string[];
}

/**
 * What changed between two describes of the same object, for the given fields (all when omitted). A value dropped
 * from an allowed list, a type change, a field turned read-only or removed are what break a sync.
 */
export function schemaDrift(before: DestinationSchema, after: DestinationSchema, fields?: string[]): FieldDrift[] {
  const names = fields ?? [...new Set([...before.keys(), ...after.keys()])];
  const drift: FieldDrift[] = [];
  for (const field of names) {
    const was = before.get(field);
    const now = after.get(field);
    if (was && !now) drift.push({ field, change: "removed", before: was });
    else if (!was && now) drift.push({ field, change: "added", after: now });
    else if (was && now) {
      if (was.type !== now.type) drift.push({ field, change: "type", before: was, after: now });
      if (was.writable !== now.writable) drift.push({ field, change: "writable", before: was, after: now });
      const dropped = (was.allowed ?? []).filter((v) => now.allowed !== undefined && !now.allowed.includes(v));
      const newlyRestricted = was.allowed === undefined && now.allowed !== undefined;
      if (dropped.length > 0 || newlyRestricted) drift.push({ field, change: "allowed", before: was, after: now, droppedValues: dropped });
    }
  }
  return drift;
}
