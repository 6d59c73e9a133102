// Standard and custom fields of Zendesk users and organizations, and the checks the emulator applies to values.
// Custom field types follow Zendesk's user/organization field API: text, textarea, checkbox, date, integer, decimal,
// regexp, dropdown (tagger), multiselect, lookup. Values of standard fields are checked only as far as the emulator
// needs (required name, email shape, unique email / external_id / organization name).

export type ZendeskObject = "users" | "organizations";

export const CUSTOM_FIELD_TYPES = ["text", "textarea", "checkbox", "date", "integer", "decimal", "regexp", "dropdown", "multiselect", "lookup"] as const;
export type ZendeskFieldType = (typeof CUSTOM_FIELD_TYPES)[number];

export interface ZendeskFieldDefinition {
  key: string;
  type: ZendeskFieldType;
  /** Dropdown and multiselect: the option values (Zendesk's tags for the options). */
  options?: string[];
  /** Inactive fields are listed but take no values. Default true. */
  active?: boolean;
  title?: string;
}

/** Standard attributes the API accepts on create/update, with how the emulator checks them. */
export interface StandardField {
  name: string;
  type: "text" | "checkbox" | "integer" | "array" | "role";
  unique?: boolean;
  required?: boolean;
}

export const STANDARD_FIELDS: Record<ZendeskObject, StandardField[]> = {
  users: [
    { name: "name", type: "text", required: true },
    { name: "email", type: "text", unique: true },
    { name: "external_id", type: "text", unique: true },
    { name: "phone", type: "text" },
    { name: "notes", type: "text" },
    { name: "details", type: "text" },
    { name: "alias", type: "text" },
    { name: "time_zone", type: "text" },
    { name: "locale", type: "text" },
    { name: "role", type: "role" },
    { name: "organization_id", type: "integer" },
    { name: "verified", type: "checkbox" },
  ],
  organizations: [
    { name: "name", type: "text", required: true, unique: true },
    { name: "external_id", type: "text", unique: true },
    { name: "details", type: "text" },
    { name: "notes", type: "text" },
    { name: "domain_names", type: "array" },
    { name: "group_id", type: "integer" },
    { name: "shared_tickets", type: "checkbox" },
    { name: "shared_comments", type: "checkbox" },
  ],
};

/** The JSON key holding custom values: `user_fields` or `organization_fields`. */
export function customKey(kind: ZendeskObject): "user_fields" | "organization_fields" {
  return kind === "users" ? "user_fields" : "organization_fields";
}

/**
 * Zendesk compares emails and external ids case-insensitively (external ids: "not case sensitive", developer docs).
 * [unverified] How characters outside ASCII compare is not documented: toLowerCase() is this emulator's choice.
 */
export function normalizeUnique(value: string): string {
  return value.toLowerCase();
}

function isIntegerLike(v: unknown): boolean {
  return (typeof v === "number" && Number.isInteger(v)) || (typeof v === "string" && /^-?\d+$/.test(v));
}

/** Why a value does not fit a custom field (the text Zendesk puts in `details`), or undefined when it fits. */
export function customValueProblem(field: ZendeskFieldDefinition, value: unknown): string | undefined {
  if (value === null) return undefined; // null empties the field
  const label = field.title ?? field.key;
  const invalid = `${label}: is invalid`; // Zendesk's wording for a refused custom value is [unverified]
  switch (field.type) {
    case "text":
    case "textarea":
    case "regexp":
      return typeof value === "string" ? undefined : invalid;
    case "checkbox":
      return typeof value === "boolean" ? undefined : invalid;
    case "integer":
    case "lookup":
      return isIntegerLike(value) ? undefined : invalid;
    case "decimal":
      return (typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) ? undefined : invalid;
    case "date":
      return typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value) && Number.isFinite(Date.parse(value)) ? undefined : invalid;
    case "dropdown":
      return typeof value === "string" && (field.options ?? []).includes(value) ? undefined : `${label}: ${String(value)} is not a valid option`;
    case "multiselect":
      return Array.isArray(value) && value.every((v) => typeof v === "string" && (field.options ?? []).includes(v)) ? undefined : invalid;
  }
}

/** Why a value does not fit a standard attribute, or undefined. */
export function standardValueProblem(field: StandardField, value: unknown): string | undefined {
  const label = field.name.charAt(0).toUpperCase() + field.name.slice(1).replace(/_/g, " ");
  if (value === null || value === "") return field.required ? `${label}: cannot be blank` : undefined;
  switch (field.type) {
    case "text":
      if (typeof value !== "string") return `${label}: is invalid`;
      if (field.name === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) return `Email: ${value} is not properly formatted`;
      return undefined;
    case "checkbox":
      return typeof value === "boolean" ? undefined : `${label}: is invalid`;
    case "integer":
      return isIntegerLike(value) ? undefined : `${label}: is invalid`;
    case "array":
      return Array.isArray(value) && value.every((v) => typeof v === "string") ? undefined : `${label}: is invalid`;
    case "role":
      return value === "end-user" || value === "agent" || value === "admin" ? undefined : `Role: is invalid`;
  }
}

/** Wire shape of one custom field in GET /api/v2/user_fields (or organization_fields). */
export function fieldResponse(field: ZendeskFieldDefinition, id: number, position: number, stamp: string): Record<string, unknown> {
  const hasOptions = field.type === "dropdown" || field.type === "multiselect";
  return {
    id,
    url: `/api/v2/fields/${id}.json`,
    key: field.key,
    type: field.type === "dropdown" ? "dropdown" : field.type,
    title: field.title ?? field.key,
    raw_title: field.title ?? field.key,
    description: "",
    position,
    active: field.active ?? true,
    system: false,
    regexp_for_validation: null,
    created_at: stamp,
    updated_at: stamp,
    ...(hasOptions ? { custom_field_options: (field.options ?? []).map((value, i) => ({ id: id * 1000 + i, name: value, raw_name: value, value })) } : {}),
  };
}
