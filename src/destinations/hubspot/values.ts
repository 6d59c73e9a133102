/** HubSpot takes every property value as a string; this is how warehouse values become those strings. */
import type { WarehouseValue } from "../../warehouse/types.ts";

export function toHubSpotValue(value: WarehouseValue): string {
  if (value === null || value === undefined) return ""; // HubSpot clears a property set to ""
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map((v) => toHubSpotValue(v)).join(";"); // multi-select: `a;b`
  return JSON.stringify(value);
}
