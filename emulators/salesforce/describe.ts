// sObject schemas (defaults + caller overrides) and the describe resource built from them.
import type { SalesforceFieldDefinition, SalesforceFieldType } from "./types.ts";

export interface FieldDef {
  name: string;
  label: string;
  type: SalesforceFieldType;
  length: number;
  externalId: boolean;
  unique: boolean;
  caseSensitive: boolean;
  updateable: boolean;
  createable: boolean;
  nillable: boolean;
  restrictedPicklist: boolean;
  picklistValues: string[];
  idLookup: boolean;
  custom: boolean;
}

export interface SObjectDef {
  name: string;
  label: string;
  keyPrefix: string;
  custom: boolean;
  fields: FieldDef[];
  /** Lower-cased API name -> field: Salesforce field names are case-insensitive on the wire. */
  byLower: Map<string, FieldDef>;
  describeModifiedMs: number;
}

const DEFAULT_LENGTH: Partial<Record<SalesforceFieldType, number>> = {
  id: 18,
  reference: 18,
  string: 255,
  email: 80,
  phone: 40,
  url: 255,
  picklist: 255,
  textarea: 32768,
};

const KNOWN_PREFIXES: Record<string, string> = { Account: "001", Contact: "003", Lead: "00Q", Opportunity: "006" };

// System fields every object has; the API can never write them.
const SYSTEM_FIELDS: SalesforceFieldDefinition[] = [
  { name: "Id", type: "id", label: "Record ID", createable: false, updateable: false, nillable: false },
  { name: "IsDeleted", type: "boolean", label: "Deleted", createable: false, updateable: false, nillable: false },
  { name: "CreatedDate", type: "datetime", label: "Created Date", createable: false, updateable: false, nillable: false },
  { name: "CreatedById", type: "reference", label: "Created By ID", createable: false, updateable: false, nillable: false },
  { name: "LastModifiedDate", type: "datetime", label: "Last Modified Date", createable: false, updateable: false, nillable: false },
  { name: "LastModifiedById", type: "reference", label: "Last Modified By ID", createable: false, updateable: false, nillable: false },
  { name: "SystemModstamp", type: "datetime", label: "System Modstamp", createable: false, updateable: false, nillable: false },
];

const EXTERNAL_IDS: SalesforceFieldDefinition[] = [
  // Not unique on purpose: duplicates must be seedable to provoke DUPLICATE_EXTERNAL_ID.
  { name: "Billing_Customer_Id__c", type: "string", length: 80, externalId: true, label: "Billing Customer Id" },
  { name: "Ext_Id__c", type: "string", length: 255, externalId: true, label: "Ext Id" },
];

export const DEFAULT_SOBJECTS: Record<string, SalesforceFieldDefinition[]> = {
  Account: [
    // Name is required in a real org; nillable here so syncs that only map custom fields can create records.
    { name: "Name", type: "string", length: 255, label: "Account Name" },
    ...EXTERNAL_IDS,
    { name: "Churn_Risk_Band__c", type: "picklist", restrictedPicklist: true, picklistValues: ["low", "medium", "high"], label: "Churn Risk Band" },
    { name: "Churn_Risk_Score__c", type: "double", label: "Churn Risk Score" },
    { name: "Risk_Reason_Code__c", type: "string", length: 80, label: "Risk Reason Code" },
    { name: "Risk_Last_Refreshed_At__c", type: "datetime", label: "Risk Last Refreshed At" },
    { name: "Industry", type: "picklist", picklistValues: ["Agriculture", "Banking", "Technology", "Retail"], label: "Industry" },
    { name: "AnnualRevenue", type: "currency", label: "Annual Revenue" },
    { name: "NumberOfEmployees", type: "int", label: "Employees" },
    { name: "Website", type: "url", label: "Website" },
    { name: "Phone", type: "phone", label: "Account Phone" },
    { name: "Description", type: "textarea", label: "Account Description" },
    { name: "Is_Test_Account__c", type: "boolean", label: "Is Test Account" },
    { name: "Renewal_Date__c", type: "date", label: "Renewal Date" },
  ],
  Contact: [
    { name: "FirstName", type: "string", length: 40, label: "First Name" },
    { name: "LastName", type: "string", length: 80, nillable: false, label: "Last Name" },
    { name: "Email", type: "email", length: 80, label: "Email" },
    { name: "Phone", type: "phone", label: "Business Phone" },
    { name: "Title", type: "string", length: 128, label: "Title" },
    { name: "AccountId", type: "reference", label: "Account ID" },
    ...EXTERNAL_IDS,
    { name: "Lead_Score__c", type: "double", label: "Lead Score" },
    { name: "HasOptedOutOfEmail", type: "boolean", label: "Email Opt Out" },
    { name: "Birthdate", type: "date", label: "Birthdate" },
  ],
};

/**
 * The text a field's value is matched by: Salesforce matches an external id (and finds a unique value's duplicates)
 * case-insensitively only when the field is unique and not case-sensitive; otherwise exactly. [unverified] How
 * characters outside ASCII compare is not documented: toLowerCase() is this emulator's choice.
 */
export function matchText(f: Pick<FieldDef, "unique" | "caseSensitive">, value: unknown): string {
  return f.unique && !f.caseSensitive ? String(value).toLowerCase() : String(value);
}

function labelFromName(name: string): string {
  return name.replace(/__c$/, "").replace(/_/g, " ");
}

function toFieldDef(d: SalesforceFieldDefinition, objectName: string): FieldDef {
  const isId = d.type === "id";
  return {
    name: d.name,
    label: d.label ?? labelFromName(d.name),
    type: d.type,
    length: d.length ?? DEFAULT_LENGTH[d.type] ?? 0,
    externalId: d.externalId ?? false,
    unique: d.unique ?? false,
    caseSensitive: d.caseSensitive ?? false,
    updateable: d.updateable ?? !isId,
    createable: d.createable ?? !isId,
    // Booleans are never nillable in Salesforce (they default to false).
    nillable: d.type === "boolean" ? false : (d.nillable ?? true),
    restrictedPicklist: d.restrictedPicklist ?? false,
    picklistValues: d.picklistValues ?? [],
    idLookup:
      isId || (d.externalId ?? false) || (objectName === "Contact" && d.name === "Email") || (objectName === "Account" && d.name === "Name"),
    custom: d.name.endsWith("__c"),
  };
}

export function buildSObject(name: string, defs: SalesforceFieldDefinition[], index: number, nowMs: number): SObjectDef {
  const byLower = new Map<string, FieldDef>();
  const fields: FieldDef[] = [];
  for (const d of [...SYSTEM_FIELDS, ...defs]) {
    const f = toFieldDef(d, name);
    // Caller definitions override same-named system/default fields.
    const existing = byLower.get(f.name.toLowerCase());
    if (existing) fields.splice(fields.indexOf(existing), 1, f);
    else fields.push(f);
    byLower.set(f.name.toLowerCase(), f);
  }
  const keyPrefix = KNOWN_PREFIXES[name] ?? `a0${"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".charAt(index % 36)}`;
  return { name, label: labelFromName(name), keyPrefix, custom: name.endsWith("__c"), fields, byLower, describeModifiedMs: nowMs };
}

export function buildSchema(extra: Record<string, SalesforceFieldDefinition[]> | undefined, nowMs: number): Map<string, SObjectDef> {
  const merged = { ...DEFAULT_SOBJECTS, ...extra };
  const schema = new Map<string, SObjectDef>();
  Object.entries(merged).forEach(([name, defs], i) => schema.set(name.toLowerCase(), buildSObject(name, defs, i, nowMs)));
  return schema;
}

const SOAP_TYPES: Record<SalesforceFieldType, string> = {
  id: "tns:ID",
  reference: "tns:ID",
  string: "xsd:string",
  email: "xsd:string",
  picklist: "xsd:string",
  textarea: "xsd:string",
  phone: "xsd:string",
  url: "xsd:string",
  double: "xsd:double",
  percent: "xsd:double",
  currency: "xsd:double",
  int: "xsd:int",
  boolean: "xsd:boolean",
  date: "xsd:date",
  datetime: "xsd:dateTime",
};

function describeField(f: FieldDef): Record<string, unknown> {
  const numeric = f.type === "double" || f.type === "percent" || f.type === "currency";
  return {
    name: f.name,
    label: f.label,
    type: f.type,
    soapType: SOAP_TYPES[f.type],
    length: f.length,
    byteLength: f.length * 3,
    precision: numeric ? 18 : 0,
    scale: numeric ? 2 : 0,
    digits: f.type === "int" ? 9 : 0,
    nillable: f.nillable,
    createable: f.createable,
    updateable: f.updateable,
    externalId: f.externalId,
    idLookup: f.idLookup,
    unique: f.unique,
    caseSensitive: f.caseSensitive,
    calculated: false,
    custom: f.custom,
    autoNumber: false,
    defaultedOnCreate: !f.createable || f.type === "boolean",
    filterable: true,
    sortable: f.type !== "textarea",
    nameField: f.name === "Name",
    restrictedPicklist: f.restrictedPicklist,
    picklistValues: f.picklistValues.map((v) => ({ active: true, value: v, label: v, defaultValue: false, validFor: null })),
    referenceTo: f.type === "reference" ? [f.name === "AccountId" ? "Account" : "User"] : [],
    relationshipName: null,
  };
}

export function describeSObject(o: SObjectDef, version: string): Record<string, unknown> {
  const base = `/services/data/${version}/sobjects/${o.name}`;
  return {
    name: o.name,
    label: o.label,
    labelPlural: `${o.label}s`,
    keyPrefix: o.keyPrefix,
    custom: o.custom,
    createable: true,
    updateable: true,
    deletable: true,
    queryable: true,
    searchable: true,
    retrieveable: true,
    undeletable: true,
    fields: o.fields.map(describeField),
    childRelationships: [],
    recordTypeInfos: [],
    urls: { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` },
  };
}

export function describeGlobalEntry(o: SObjectDef, version: string): Record<string, unknown> {
  const base = `/services/data/${version}/sobjects/${o.name}`;
  return {
    name: o.name,
    label: o.label,
    labelPlural: `${o.label}s`,
    keyPrefix: o.keyPrefix,
    custom: o.custom,
    createable: true,
    updateable: true,
    deletable: true,
    queryable: true,
    urls: { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` },
  };
}
