// In-memory Zendesk users and organizations, indexed by their unique values (email, external_id, organization name;
// all compared case-insensitively), with the create-or-update, update-by-id, delete and tag operations the bulk
// jobs run.
import {
  customKey,
  customValueProblem,
  normalizeUnique,
  STANDARD_FIELDS,
  standardValueProblem,
  type ZendeskFieldDefinition,
  type ZendeskObject,
} from "./fields.ts";

export interface ZendeskRecord {
  id: number;
  /** Standard attributes (name, email, external_id, …); absent means never set. */
  attributes: Record<string, unknown>;
  custom: Record<string, unknown>;
  tags: string[];
  created_at: string;
  updated_at: string;
}

/** One object's outcome in a job's results, before the job adds `index`. */
export type WriteResult = { id: number; status: "Created" | "Updated" } | { status: "Failed"; error: string; details: string; id?: number };

const UNIQUE: Record<ZendeskObject, string[]> = {
  users: ["email", "external_id"],
  organizations: ["external_id", "name"],
};

/** Attributes looked up by value (the unique ones, and name for tests' `find`): indexed, not scanned. */
const INDEXED = ["email", "external_id", "name"] as const;

export class ZendeskStore {
  readonly #records: Record<ZendeskObject, Map<number, ZendeskRecord>> = { users: new Map(), organizations: new Map() };
  /** kind → attribute → normalized value → ids of the records holding it. */
  readonly #index: Record<ZendeskObject, Map<string, Map<string, Set<number>>>> = { users: new Map(), organizations: new Map() };
  readonly #fields: Record<ZendeskObject, ZendeskFieldDefinition[]>;
  #nextId = 360_000_000_001;
  #lastStamp = 0;

  constructor(fields: Record<ZendeskObject, ZendeskFieldDefinition[]>) {
    this.#fields = fields;
  }

  fields(kind: ZendeskObject): ZendeskFieldDefinition[] {
    return this.#fields[kind];
  }

  setFields(kind: ZendeskObject, fields: ZendeskFieldDefinition[]): void {
    this.#fields[kind] = fields;
  }

  clear(): void {
    this.#records.users.clear();
    this.#records.organizations.clear();
    this.#index.users.clear();
    this.#index.organizations.clear();
  }

  /** Adds (or takes out) a record's indexed values. */
  #indexRecord(kind: ZendeskObject, record: ZendeskRecord, add: boolean): void {
    for (const attribute of INDEXED) {
      const value = record.attributes[attribute];
      if (typeof value !== "string") continue;
      const byValue = this.#index[kind].get(attribute) ?? new Map<string, Set<number>>();
      this.#index[kind].set(attribute, byValue);
      const key = normalizeUnique(value);
      const ids = byValue.get(key) ?? new Set<number>();
      if (add) ids.add(record.id);
      else ids.delete(record.id);
      if (ids.size > 0) byValue.set(key, ids);
      else byValue.delete(key);
    }
  }

  /** Zendesk timestamps have second precision; the emulator keeps them strictly increasing at millisecond precision. */
  #stamp(): string {
    this.#lastStamp = Math.max(Date.now(), this.#lastStamp + 1);
    return new Date(this.#lastStamp).toISOString();
  }

  all(kind: ZendeskObject): ZendeskRecord[] {
    return [...this.#records[kind].values()];
  }

  get(kind: ZendeskObject, id: number): ZendeskRecord | undefined {
    return this.#records[kind].get(id);
  }

  /** Every record whose unique attribute equals `value` (case-insensitively). */
  findBy(kind: ZendeskObject, attribute: string, value: string): ZendeskRecord[] {
    const wanted = normalizeUnique(value);
    if ((INDEXED as readonly string[]).includes(attribute)) {
      const ids = [...(this.#index[kind].get(attribute)?.get(wanted) ?? [])].sort((a, b) => a - b);
      return ids.map((id) => this.#records[kind].get(id)).filter((r) => r !== undefined);
    }
    return this.all(kind).filter((r) => typeof r.attributes[attribute] === "string" && normalizeUnique(r.attributes[attribute]) === wanted);
  }

  #owner(kind: ZendeskObject, attribute: string, value: unknown): ZendeskRecord | undefined {
    return typeof value === "string" && value !== "" ? this.findBy(kind, attribute, value)[0] : undefined;
  }

  /** Checks an object's attributes and custom values; the problems are Zendesk's `details` text. */
  #problems(kind: ZendeskObject, input: Record<string, unknown>, creating: boolean): string[] {
    const problems: string[] = [];
    for (const field of STANDARD_FIELDS[kind]) {
      if (field.name in input) {
        const problem = standardValueProblem(field, input[field.name]);
        if (problem) problems.push(problem);
      } else if (creating && field.required) {
        // Zendesk requires a name to create a user or an organization [unverified for create_or_update_many users].
        problems.push(`${field.name.charAt(0).toUpperCase()}${field.name.slice(1)}: cannot be blank`);
      }
    }
    const custom = input[customKey(kind)];
    if (custom !== undefined && (custom === null || typeof custom !== "object" || Array.isArray(custom))) problems.push(`${customKey(kind)}: is invalid`);
    else if (custom) {
      for (const [key, value] of Object.entries(custom as Record<string, unknown>)) {
        // Unknown custom keys are ignored, as Zendesk does [unverified]: the destination's mapping check catches them first.
        const field = this.#fields[kind].find((f) => f.key === key && f.active !== false);
        const problem = field && customValueProblem(field, value);
        if (problem) problems.push(problem);
      }
    }
    return problems;
  }

  #apply(kind: ZendeskObject, record: ZendeskRecord, input: Record<string, unknown>): void {
    this.#indexRecord(kind, record, false);
    this.#applyValues(kind, record, input);
    this.#indexRecord(kind, record, true);
  }

  #applyValues(kind: ZendeskObject, record: ZendeskRecord, input: Record<string, unknown>): void {
    for (const field of STANDARD_FIELDS[kind]) {
      if (!(field.name in input)) continue;
      const value = input[field.name];
      if (value === null || value === "") delete record.attributes[field.name];
      else record.attributes[field.name] = field.name === "email" && typeof value === "string" ? value.toLowerCase() : value;
    }
    const custom = input[customKey(kind)] as Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(custom ?? {})) {
      if (!this.#fields[kind].some((f) => f.key === key && f.active !== false)) continue;
      record.custom[key] = value;
    }
    if (Array.isArray(input.tags)) record.tags = [...new Set(input.tags.map(String))];
  }

  /** Writes a record as given (tests and demos seed state with it); `updated_at` may be set to simulate a later edit. */
  seed(kind: ZendeskObject, input: Record<string, unknown>, updatedAt?: string): ZendeskRecord {
    const match = UNIQUE[kind].map((a) => this.#owner(kind, a, input[a])).find(Boolean);
    const record = match ?? this.#create(kind);
    this.#apply(kind, record, input);
    record.updated_at = updatedAt ?? this.#stamp();
    return record;
  }

  #create(kind: ZendeskObject): ZendeskRecord {
    const at = this.#stamp();
    const record: ZendeskRecord = { id: this.#nextId++, attributes: {}, custom: {}, tags: [], created_at: at, updated_at: at };
    this.#records[kind].set(record.id, record);
    return record;
  }

  /**
   * One object of a create_or_update_many job: matched by external_id, else by email (users) or name (organizations)
   * as Zendesk documents; created when nothing matches.
   */
  createOrUpdate(kind: ZendeskObject, input: Record<string, unknown>): WriteResult {
    const label = kind === "users" ? "User" : "Organization";
    const byExternal = this.#owner(kind, "external_id", input.external_id);
    // Users match by external_id or email (documented); organizations by name only when no external_id is given
    // [unverified]: an organization named like another keeps failing on the unique name instead.
    const secondary = kind === "users" ? "email" : input.external_id === undefined ? "name" : undefined;
    const match = byExternal ?? (secondary === undefined ? undefined : this.#owner(kind, secondary, input[secondary]));
    const problems = this.#problems(kind, input, match === undefined);
    // Another record already holds a unique value this object would take.
    for (const attribute of UNIQUE[kind]) {
      const owner = this.#owner(kind, attribute, input[attribute]);
      if (owner && owner.id !== match?.id) problems.push(`${attribute === "name" ? "Name" : attribute === "email" ? "Email" : "External"}: ${String(input[attribute])} has already been taken`);
    }
    if (problems.length > 0) return { status: "Failed", error: `${label}${match ? "Update" : "Create"}Error`, details: problems.join(", "), ...(match ? { id: match.id } : {}) };
    const record = match ?? this.#create(kind);
    this.#apply(kind, record, input);
    record.updated_at = this.#stamp();
    return { id: record.id, status: match ? "Updated" : "Created" };
  }

  /** One object of an update_many job addressed by id: never creates. */
  updateById(kind: ZendeskObject, id: number, input: Record<string, unknown>): { id: number; success: boolean; status: string; action: "update"; error?: string; details?: string } {
    const record = this.get(kind, id);
    if (!record) return { id, action: "update", success: false, status: "Failed", error: "RecordNotFound", details: "Not found" };
    const problems = this.#problems(kind, input, false);
    for (const attribute of UNIQUE[kind]) {
      const owner = this.#owner(kind, attribute, input[attribute]);
      if (owner && owner.id !== id) problems.push(`${attribute}: ${String(input[attribute])} has already been taken`);
    }
    if (problems.length > 0) return { id, action: "update", success: false, status: "Failed", error: `${kind === "users" ? "User" : "Organization"}UpdateError`, details: problems.join(", ") };
    const { additional_tags: add, remove_tags: remove, ...rest } = input;
    this.#apply(kind, record, rest);
    if (Array.isArray(add)) record.tags = [...new Set([...record.tags, ...add.map(String)])];
    if (Array.isArray(remove)) record.tags = record.tags.filter((t) => !remove.map(String).includes(t));
    record.updated_at = this.#stamp();
    return { id, action: "update", success: true, status: "Updated" };
  }

  /** destroy_many: Zendesk soft-deletes users; the emulator drops them (they no longer match or appear). */
  destroy(kind: ZendeskObject, id: number): { id: number; action: "delete"; success: boolean; status: string; error?: string } {
    const record = this.#records[kind].get(id);
    if (record) this.#indexRecord(kind, record, false);
    const found = this.#records[kind].delete(id);
    return found ? { id, action: "delete", success: true, status: "Deleted" } : { id, action: "delete", success: false, status: "Failed", error: "RecordNotFound" };
  }

  /** The record as the API shows it. */
  view(kind: ZendeskObject, record: ZendeskRecord): Record<string, unknown> {
    const standard = Object.fromEntries(STANDARD_FIELDS[kind].map((f) => [f.name, record.attributes[f.name] ?? (f.type === "array" ? [] : null)]));
    const custom = Object.fromEntries(this.#fields[kind].map((f) => [f.key, record.custom[f.key] ?? null]));
    return {
      id: record.id,
      url: `/api/v2/${kind}/${record.id}.json`,
      ...standard,
      ...(kind === "users" ? { role: record.attributes.role ?? "end-user", active: true } : {}),
      tags: [...record.tags],
      [customKey(kind)]: custom,
      created_at: record.created_at,
      updated_at: record.updated_at,
    };
  }
}
