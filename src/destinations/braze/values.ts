/** How warehouse values become Braze attribute values: JSON types as they are, times as ISO 8601, null removes. */
import { valueJson, type WarehouseValue } from "../../warehouse/types.ts";

export type BrazeValue = string | number | boolean | null | BrazeValue[];

export function toBrazeValue(value: WarehouseValue): BrazeValue {
  if (value === null || value === undefined) return null; // Braze removes an attribute set to null
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  // Integers beyond 2^53 keep their digits as text rather than being rounded.
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map((v) => toBrazeValue(v));
  return valueJson(value);
}

/** A value read back from Braze, in the shape `CurrentRecord.values` holds. */
export function fromBrazeValue(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map(String).join(";");
  return valueJson(value);
}
