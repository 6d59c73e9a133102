/** How warehouse values become Zendesk JSON values, by the field's described type when known. */
import { DECIMAL_TEXT, exactDecimal, valueJson, type WarehouseValue } from "../../warehouse/types.ts";

const NUMERIC = new Set(["integer", "decimal", "lookup"]);
const TEXT = new Set(["text", "textarea", "regexp", "dropdown"]);

export function toZendeskValue(value: WarehouseValue, type: string | undefined): unknown {
  if (value === null || value === undefined) return null; // null empties the field (on_null: clear)
  if (value instanceof Date) return type === "date" ? value.toISOString().slice(0, 10) : value.toISOString();
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map((v) => String(toZendeskValue(v, undefined))); // multiselect, domain_names
  if (typeof value === "number" || typeof value === "boolean") return type !== undefined && TEXT.has(type) ? String(value) : value;
  if (typeof value === "string") {
    if (type === "date" && /^\d{4}-\d{2}-\d{2}T/.test(value)) return value.slice(0, 10);
    if (type === "checkbox" && (value === "true" || value === "false")) return value === "true";
    // Decimal text only (JavaScript would also read "0x10" as 16), and a number only when a double holds it
    // exactly: an exact decimal's text beyond 15 digits keeps its digits.
    if (type !== undefined && NUMERIC.has(type) && DECIMAL_TEXT.test(value.trim())) return exactDecimal(value.trim());
    return value;
  }
  return valueJson(value);
}
