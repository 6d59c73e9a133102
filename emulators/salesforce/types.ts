// Public types of the Salesforce emulator (re-exported by index.ts; other modules code against these).

export type SalesforceFieldType =
  | "id"
  | "string"
  | "email"
  | "picklist"
  | "double"
  | "int"
  | "boolean"
  | "date"
  | "datetime"
  | "reference"
  | "textarea"
  | "phone"
  | "url"
  | "percent"
  | "currency";

export interface SalesforceFieldDefinition {
  name: string;
  type: SalesforceFieldType;
  length?: number;
  externalId?: boolean;
  unique?: boolean;
  /**
   * Whether a unique field tells 'ABC' from 'abc' (describe's `caseSensitive`; default false, Salesforce's default
   * for a unique text field). Keys match case-insensitively only on unique fields that are not case-sensitive.
   */
  caseSensitive?: boolean;
  updateable?: boolean;
  createable?: boolean;
  nillable?: boolean;
  restrictedPicklist?: boolean;
  picklistValues?: string[];
  label?: string;
}

export interface FaultOptions {
  serverErrorRate?: number;
  throttleRate?: number;
  timeoutRate?: number;
  timeoutMs?: number;
  dropConnectionRate?: number;
  /** Whether a dropped connection happens before the request's write ("before-write", default) or after it. */
  dropConnectionPhase?: "before-write" | "after-write";
  recordRejectRate?: number;
  lockRowRate?: number;
  seed?: number;
}

export interface SalesforceLimitOptions {
  dailyApiRequests?: number;
  perWindow?: number;
  windowMs?: number;
  throttleStatus?: 403 | 429;
  maxConcurrent?: number;
}

export interface SalesforceEmulatorOptions {
  port?: number;
  apiVersion?: string;
  clientId?: string;
  clientSecret?: string;
  accessTokenTtlMs?: number;
  limits?: SalesforceLimitOptions;
  sobjects?: Record<string, SalesforceFieldDefinition[]>;
  bulk?: { processingDelayMs?: number };
  faults?: FaultOptions;
  /**
   * Default true: describes carry Last-Modified and If-Modified-Since gets 304. Salesforce's docs do not confirm it
   * for every describe, so a client must also work when it is absent (false).
   */
  describeLastModified?: boolean;
}

export interface EmulatorCall {
  method: string;
  path: string;
  endpoint: string;
  /** 0 when no response was sent (timeout or dropped connection). */
  status: number;
  records?: number;
  /** Bytes of the request's body, when it had one that was read (a Bulk API upload's CSV). */
  bytes?: number;
  at: number;
}

export interface SalesforceRecord {
  Id: string;
  [field: string]: unknown;
}

/** What an admin can change on an existing field in Setup (what the emulator models of it). */
export interface FieldEdit {
  unique?: boolean;
  caseSensitive?: boolean;
  length?: number;
  label?: string;
}

export interface SalesforceEmulator {
  url: string;
  port: number;
  /** A token issued at start that never expires, for `new Connection({ instanceUrl, accessToken })`. */
  accessToken: string;
  calls(): EmulatorCall[];
  callCount(endpoint?: string): number;
  records(sobject: string): SalesforceRecord[];
  insertRecord(sobject: string, fields: Record<string, unknown>): SalesforceRecord;
  editAsPerson(sobject: string, id: string, fields: Record<string, unknown>): void;
  touchDescribe(sobject: string): void;
  /** Edits a field's definition as an admin would in Setup (uniqueness, case sensitivity, length, label). */
  editField(sobject: string, field: string, changes: FieldEdit): void;
  setFaults(f: FaultOptions): void;
  reset(): void;
  close(): Promise<void>;
}

export interface SaveError {
  statusCode: string;
  message: string;
  fields: string[];
}

export interface SaveResult {
  id: string | null;
  success: boolean;
  errors: SaveError[];
  created?: boolean;
}
