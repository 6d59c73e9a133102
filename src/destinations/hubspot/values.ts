/** HubSpot takes every property value as a string; this is how warehouse values become those strings. */
import { valueJson, type WarehouseValue } from "../../warehouse/types.ts";

export function toHubSpotValue(value: WarehouseValue): string {
  // A null reaches here only from `on_null: clear`: an empty string is how HubSpot empties a property.
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map((v) => toHubSpotValue(v)).join(";"); // multi-select: `a;b`
  return valueJson(value);
}
