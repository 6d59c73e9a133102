// Records per sObject, with external-id/unique indexes (matched as each field's describe says) and an undo journal for allOrNone.
import { matchText, type FieldDef, type SObjectDef } from "./describe.ts";
import { makeId, sfDateTime } from "./ids.ts";
import type { SalesforceRecord } from "./types.ts";

/** Strictly increasing millisecond clock, so every write moves SystemModstamp forward even within one ms. */
export class Clock {
  private last = 0;
  now(): number {
    this.last = Math.max(Date.now(), this.last + 1);
    return this.last;
  }
  stamp(): string {
    return sfDateTime(this.now());
  }
}

function indexKey(field: FieldDef | undefined, value: unknown): string | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  return field ? matchText(field, value) : String(value);
}

export class Table {
  readonly def: SObjectDef;
  private rows = new Map<string, SalesforceRecord>();
  private indexes = new Map<string, Map<string, Set<string>>>();
  private counter = 0;
  private journal: Map<string, SalesforceRecord | undefined> | undefined;

  constructor(def: SObjectDef) {
    this.def = def;
    for (const f of def.fields) if (f.externalId || f.unique) this.indexes.set(f.name, new Map());
  }

  nextId(): string {
    this.counter += 1;
    return makeId(this.def.keyPrefix, this.counter);
  }

  get(id: string): SalesforceRecord | undefined {
    return this.rows.get(id);
  }

  all(): SalesforceRecord[] {
    return [...this.rows.values()];
  }

  get size(): number {
    return this.rows.size;
  }

  /** Ids of records whose field equals value (case-insensitively where the field's describe says so), in insertion order. */
  find(field: string, value: unknown): string[] {
    const def = this.def.byLower.get(field.toLowerCase());
    const key = indexKey(def, value);
    if (key === undefined) return [];
    if (field === "Id") return this.rows.has(String(value)) ? [String(value)] : [];
    const index = this.indexes.get(field);
    if (index) return [...(index.get(key) ?? [])];
    return this.all()
      .filter((r) => indexKey(def, r[field]) === key)
      .map((r) => r.Id);
  }

  put(record: SalesforceRecord): void {
    const previous = this.rows.get(record.Id);
    this.remember(record.Id, previous);
    if (previous) this.unindex(previous);
    this.rows.set(record.Id, record);
    this.index(record);
  }

  remove(id: string): boolean {
    const previous = this.rows.get(id);
    if (!previous) return false;
    this.remember(id, previous);
    this.unindex(previous);
    this.rows.delete(id);
    return true;
  }

  begin(): void {
    this.journal = new Map();
  }

  commit(): void {
    this.journal = undefined;
  }

  rollback(): void {
    const journal = this.journal;
    this.journal = undefined;
    if (!journal) return;
    for (const [id, previous] of journal) {
      const current = this.rows.get(id);
      if (current) this.unindex(current);
      if (previous) {
        this.rows.set(id, previous);
        this.index(previous);
      } else this.rows.delete(id);
    }
  }

  private remember(id: string, previous: SalesforceRecord | undefined): void {
    if (this.journal && !this.journal.has(id)) this.journal.set(id, previous ? { ...previous } : undefined);
  }

  private index(r: SalesforceRecord): void {
    for (const [field, index] of this.indexes) {
      const key = indexKey(this.def.byLower.get(field.toLowerCase()), r[field]);
      if (key === undefined) continue;
      let ids = index.get(key);
      if (!ids) index.set(key, (ids = new Set()));
      ids.add(r.Id);
    }
  }

  private unindex(r: SalesforceRecord): void {
    for (const [field, index] of this.indexes) {
      const key = indexKey(this.def.byLower.get(field.toLowerCase()), r[field]);
      if (key === undefined) continue;
      const ids = index.get(key);
      ids?.delete(r.Id);
      if (ids?.size === 0) index.delete(key);
    }
  }
}

export class Store {
  private tables = new Map<string, Table>();
  private schema: Map<string, SObjectDef>;

  constructor(schema: Map<string, SObjectDef>) {
    this.schema = schema;
  }

  /** The object's definition, looked up case-insensitively like Salesforce does. */
  sobject(name: string): SObjectDef | undefined {
    return this.schema.get(name.toLowerCase());
  }

  sobjects(): SObjectDef[] {
    return [...this.schema.values()];
  }

  table(def: SObjectDef): Table {
    let t = this.tables.get(def.name);
    if (!t) this.tables.set(def.name, (t = new Table(def)));
    return t;
  }

  clear(): void {
    this.tables.clear();
  }
}
