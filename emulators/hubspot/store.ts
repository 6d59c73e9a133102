// In-memory CRM records per object type, with an index per unique property so
// upserts by idProperty and conflict checks are O(1).
import type { Schemas } from "./properties.ts";

export interface HubSpotRecord {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/**
 * HubSpot treats email addresses case-insensitively; every other unique value is exact. [unverified] How characters
 * outside ASCII compare is not documented: JavaScript's toLowerCase() here is this emulator's choice.
 */
export function normalizeUnique(property: string, value: string): string {
  return property === "email" ? value.toLowerCase() : value;
}

interface TypeStore {
  byId: Map<string, HubSpotRecord>;
  unique: Map<string, Map<string, string>>; // property -> normalized value -> record id
}

export class RecordStore {
  private readonly types = new Map<string, TypeStore>();
  private readonly schemas: Schemas;
  private nextId = 0;
  private lastStamp = 0;

  constructor(schemas: Schemas) {
    this.schemas = schemas;
    this.clear();
  }

  clear(): void {
    this.types.clear();
    for (const [type, schema] of this.schemas) {
      const unique = new Map<string, Map<string, string>>();
      for (const p of schema.values()) if (p.hasUniqueValue) unique.set(p.name, new Map());
      this.types.set(type, { byId: new Map(), unique });
    }
    // Numeric ids in HubSpot's style; far from 0 so they never look like array indexes.
    this.nextId = 100_000_001;
  }

  /** Strictly increasing timestamps, so an update in the same millisecond still moves updatedAt. */
  stamp(): string {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return new Date(this.lastStamp).toISOString();
  }

  private of(type: string): TypeStore {
    const t = this.types.get(type);
    if (!t) throw new Error(`unknown object type ${type}`);
    return t;
  }

  get(type: string, id: string): HubSpotRecord | undefined {
    return this.of(type).byId.get(id);
  }

  all(type: string): HubSpotRecord[] {
    return [...this.of(type).byId.values()];
  }

  isUnique(type: string, property: string): boolean {
    return this.of(type).unique.has(property);
  }

  /** Record id holding `value` in unique `property`, if any. */
  ownerOf(type: string, property: string, value: string): string | undefined {
    return this.of(type).unique.get(property)?.get(normalizeUnique(property, value));
  }

  create(type: string, properties: Record<string, string>): HubSpotRecord {
    const id = String(this.nextId++);
    const at = this.stamp();
    const record: HubSpotRecord = { id, properties: { ...properties, hs_object_id: id }, createdAt: at, updatedAt: at };
    this.of(type).byId.set(id, record);
    this.index(type, record, {});
    return record;
  }

  update(type: string, id: string, properties: Record<string, string>): HubSpotRecord {
    const record = this.of(type).byId.get(id);
    if (!record) throw new Error(`no ${type} record ${id}`);
    const before = { ...record.properties };
    Object.assign(record.properties, properties, { hs_object_id: id });
    record.updatedAt = this.stamp();
    this.index(type, record, before);
    return record;
  }

  /** Archives (deletes) a record; false when there was none. */
  remove(type: string, id: string): boolean {
    const record = this.of(type).byId.get(id);
    if (!record) return false;
    this.of(type).byId.delete(id);
    for (const [property, values] of this.of(type).unique) {
      const value = record.properties[property];
      if (value && values.get(normalizeUnique(property, value)) === id) values.delete(normalizeUnique(property, value));
    }
    return true;
  }

  private index(type: string, record: HubSpotRecord, before: Record<string, string>): void {
    for (const [property, values] of this.of(type).unique) {
      const old = before[property];
      const now = record.properties[property];
      if (old === now) continue;
      if (old) values.delete(normalizeUnique(property, old));
      // Empty means "cleared": it holds no unique value.
      if (now) values.set(normalizeUnique(property, now), record.id);
    }
  }
}
