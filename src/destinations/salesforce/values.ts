/** How warehouse values become Salesforce JSON and CSV values, by the field's described type when known. */
import { valueJson, type WarehouseValue } from "../../warehouse/types.ts";

const NUMERIC = new Set(["double", "int", "long", "percent", "currency"]);

export function toSalesforceValue(value: WarehouseValue, type: string | undefined): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return type === "date" ? value.toISOString().slice(0, 10) : value.toISOString();
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map((v) => String(toSalesforceValue(v, undefined))).join(";"); // multi-select picklist
  if (typeof value === "number" || typeof value === "boolean") return type !== undefined && !NUMERIC.has(type) && type !== "boolean" ? String(value) : value;
  if (typeof value === "string") return value;
  return valueJson(value);
}

/** One CSV cell for Bulk API 2.0: `#N/A` clears a field, an empty cell leaves it alone. */
export function toCsvCell(value: WarehouseValue | undefined, type: string | undefined): string {
  if (value === undefined) return "";
  const v = toSalesforceValue(value, type);
  if (v === null) return "#N/A";
  const text = String(v);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
