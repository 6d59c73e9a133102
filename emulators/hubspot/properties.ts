// Property schemas per object type: HubSpot's defaults for contacts/companies plus
// whatever the emulator's options declare (custom object types come only from options).

export type HubSpotPropertyType = "string" | "number" | "date" | "datetime" | "enumeration" | "bool";

export interface HubSpotPropertyDefinition {
  name: string;
  type: HubSpotPropertyType;
  fieldType?: string;
  options?: string[];
  hasUniqueValue?: boolean;
  readOnlyValue?: boolean;
  label?: string;
}

/** A property as the emulator uses it: defaults filled in, origin remembered. */
export interface PropertySchema extends HubSpotPropertyDefinition {
  hubspotDefined: boolean;
  displayOrder: number;
}

export type ObjectSchema = Map<string, PropertySchema>;
export type Schemas = Map<string, ObjectSchema>;

// HubSpot accepts the numeric object type ids interchangeably with the names.
const ALIASES: Record<string, string> = { "0-1": "contacts", "0-2": "companies" };

const str = (name: string): HubSpotPropertyDefinition => ({ name, type: "string" });
const objectId: HubSpotPropertyDefinition = { name: "hs_object_id", type: "number", readOnlyValue: true, label: "Record ID" };

const DEFAULTS: Record<string, HubSpotPropertyDefinition[]> = {
  contacts: [
    { name: "email", type: "string", hasUniqueValue: true, label: "Email" },
    str("firstname"),
    str("lastname"),
    str("jobtitle"),
    { name: "phone", type: "string", fieldType: "phonenumber" },
    str("company"),
    {
      name: "lifecyclestage",
      type: "enumeration",
      label: "Lifecycle Stage",
      options: ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"],
    },
    objectId,
  ],
  companies: [str("name"), str("domain"), str("industry"), { name: "numberofemployees", type: "number" }, objectId],
};

const DEFAULT_FIELD_TYPE: Record<HubSpotPropertyType, string> = {
  string: "text",
  number: "number",
  date: "date",
  datetime: "date",
  enumeration: "select",
  bool: "booleancheckbox",
};

export function canonicalObjectType(raw: string): string {
  const lower = raw.toLowerCase();
  return ALIASES[lower] ?? (lower === "contacts" || lower === "companies" ? lower : raw);
}

export function buildSchemas(extra: Record<string, HubSpotPropertyDefinition[]> = {}): Schemas {
  const schemas: Schemas = new Map();
  const merged = new Map<string, { defs: HubSpotPropertyDefinition[]; defaults: Set<string> }>();
  for (const [type, defs] of Object.entries(DEFAULTS)) {
    merged.set(type, { defs: [...defs], defaults: new Set(defs.map((d) => d.name)) });
  }
  for (const [rawType, defs] of Object.entries(extra)) {
    const type = canonicalObjectType(rawType);
    // Every object type has a read-only record id property, custom ones included.
    const entry = merged.get(type) ?? { defs: [objectId], defaults: new Set([objectId.name]) };
    for (const def of defs) {
      const at = entry.defs.findIndex((d) => d.name === def.name);
      if (at >= 0) entry.defs[at] = def;
      else entry.defs.push(def);
    }
    merged.set(type, entry);
  }
  for (const [type, { defs, defaults }] of merged) {
    const schema: ObjectSchema = new Map();
    defs.forEach((def, i) => schema.set(def.name, { ...def, hubspotDefined: defaults.has(def.name), displayOrder: i }));
    schemas.set(type, schema);
  }
  return schemas;
}

export function resolveObjectType(schemas: Schemas, raw: string): string | undefined {
  const type = canonicalObjectType(raw);
  return schemas.has(type) ? type : undefined;
}

/** The name HubSpot uses in messages, e.g. "CONTACT". */
export function objectTypeLabel(type: string): string {
  if (type === "contacts") return "CONTACT";
  if (type === "companies") return "COMPANY";
  return type.toUpperCase();
}

function labelFor(name: string): string {
  return name.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}

function groupFor(type: string): string {
  if (type === "contacts") return "contactinformation";
  if (type === "companies") return "companyinformation";
  return `${type}_information`;
}

/** Wire shape of GET /crm/v3/properties/{objectType}; fields match the SDK's Property model. */
export function propertyResponse(type: string, p: PropertySchema, stamp: string): Record<string, unknown> {
  const values = p.type === "bool" ? ["true", "false"] : (p.options ?? []);
  return {
    name: p.name,
    label: p.label ?? labelFor(p.name),
    type: p.type,
    fieldType: p.fieldType ?? DEFAULT_FIELD_TYPE[p.type],
    description: "",
    groupName: groupFor(type),
    options: values.map((value, displayOrder) => ({ label: p.type === "bool" ? labelFor(value) : value, value, hidden: false, displayOrder })),
    displayOrder: p.displayOrder,
    calculated: false,
    externalOptions: false,
    hasUniqueValue: p.hasUniqueValue ?? false,
    hidden: false,
    archived: false,
    hubspotDefined: p.hubspotDefined,
    formField: !p.readOnlyValue,
    modificationMetadata: {
      archivable: !p.hubspotDefined,
      readOnlyDefinition: p.hubspotDefined,
      readOnlyValue: p.readOnlyValue ?? false,
    },
    createdAt: stamp,
    updatedAt: stamp,
  };
}
