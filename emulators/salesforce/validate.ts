// Per-field coercion and validation shared by every write path (collections, single upsert, Bulk 2.0, seeding).
import type { FieldDef, SObjectDef } from "./describe.ts";
import { normalizeId, sfDateTime } from "./ids.ts";
import type { SaveError } from "./types.ts";

/** JSON bodies carry typed values; Bulk CSV carries strings where "" means "leave alone" and "#N/A" means null. */
export type ValueSource = "json" | "csv";
export type WriteMode = "create" | "update";

function err(statusCode: string, message: string, fields: string[] = []): SaveError {
  return { statusCode, message, fields };
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** Converts a wire value to the stored representation, or explains why it is not of the field's type. */
export function coerce(f: FieldDef, raw: unknown): { value: unknown } | { error: SaveError } {
  if (raw === null) return { value: null };
  const bad = () => ({ error: err("INVALID_TYPE_ON_FIELD_IN_RECORD", `${f.label}: value not of required type: ${String(raw)}`, [f.name]) });
  if (typeof raw === "object") return bad();
  const text = String(raw);
  switch (f.type) {
    case "double":
    case "percent":
    case "currency":
    case "int": {
      const n = typeof raw === "number" ? raw : text.trim() === "" ? NaN : Number(text);
      if (!Number.isFinite(n) || (f.type === "int" && !Number.isInteger(n))) return bad();
      return { value: n };
    }
    case "boolean":
      if (typeof raw === "boolean") return { value: raw };
      if (/^(true|1)$/i.test(text)) return { value: true };
      if (/^(false|0)$/i.test(text)) return { value: false };
      return bad();
    case "date": {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(Date.parse(`${text}T00:00:00Z`))) return bad();
      return { value: text };
    }
    case "datetime": {
      // Salesforce writes "+0000"; JavaScript wants "+00:00".
      const ms = Date.parse(text.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
      if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(ms)) return bad();
      return { value: sfDateTime(ms) };
    }
    case "id":
    case "reference": {
      const id = normalizeId(text);
      if (!id) return { error: err("MALFORMED_ID", `${f.label}: id value of incorrect type: ${text}`, [f.name]) };
      return { value: id };
    }
    case "email":
      if (!EMAIL.test(text)) return { error: err("INVALID_EMAIL_ADDRESS", `${f.label}: invalid email address: ${text}`, [f.name]) };
      return { value: text };
    default:
      return { value: text };
  }
}

function checkValue(f: FieldDef, value: unknown): SaveError | undefined {
  if (value === null) {
    if (!f.nillable) return err("REQUIRED_FIELD_MISSING", `Required fields are missing: [${f.name}]`, [f.name]);
    return undefined;
  }
  if (f.type === "picklist" && f.restrictedPicklist && !f.picklistValues.includes(String(value))) {
    return err("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", `${f.label}: bad value for restricted picklist field: ${String(value)}`, [f.name]);
  }
  if (typeof value === "string" && f.length > 0 && value.length > f.length) {
    return err("STRING_TOO_LONG", `${f.label}: data value too large: ${value} (max length=${f.length})`, [f.name]);
  }
  return undefined;
}

export interface ResolvedFields {
  values: Map<FieldDef, unknown>;
  errors: SaveError[];
  /** Fields the input supplied, valid or not: a bad value is not also a missing one. */
  present: string[];
}

/**
 * Maps wire keys to fields (case-insensitively), coerces and validates them for a create or an update.
 * `skip` names keys the caller handles itself (the match key, "attributes", an update's Id).
 */
export function resolveFields(o: SObjectDef, input: Record<string, unknown>, source: ValueSource, mode: WriteMode, skip: string[] = []): ResolvedFields {
  const values = new Map<FieldDef, unknown>();
  const errors: SaveError[] = [];
  const skipped = new Set(["attributes", ...skip.map((s) => s.toLowerCase())]);
  const notWritable: string[] = [];
  const present: string[] = [];
  for (const [key, raw] of Object.entries(input)) {
    if (skipped.has(key.toLowerCase())) continue;
    const f = o.byLower.get(key.toLowerCase());
    if (!f) {
      errors.push(err("INVALID_FIELD", `No such column '${key}' on sobject of type ${o.name}`, [key]));
      continue;
    }
    if (raw === undefined) continue;
    let wire = raw;
    if (source === "csv") {
      if (raw === "") continue; // Bulk API: empty cells leave the field unchanged.
      if (raw === "#N/A") wire = null;
    }
    present.push(f.name);
    if (mode === "create" ? !f.createable : !f.updateable) {
      notWritable.push(f.name);
      continue;
    }
    const c = coerce(f, wire);
    if ("error" in c) {
      errors.push(c.error);
      continue;
    }
    const problem = checkValue(f, c.value);
    if (problem) errors.push(problem);
    else values.set(f, c.value);
  }
  if (notWritable.length > 0) {
    errors.push(
      err(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        `Unable to ${mode} fields: ${notWritable.join(", ")}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
        notWritable,
      ),
    );
  }
  return { values, errors, present };
}

/** Non-nillable, createable fields without a default that a create leaves empty. */
export function missingRequired(o: SObjectDef, present: string[]): SaveError | undefined {
  const set = new Set(present);
  const missing = o.fields.filter((f) => !f.nillable && f.createable && f.type !== "boolean" && !set.has(f.name)).map((f) => f.name);
  if (missing.length === 0) return undefined;
  return err("REQUIRED_FIELD_MISSING", `Required fields are missing: [${missing.join(", ")}]`, missing);
}
