// Lists v3 memberships (audiences): lists declared in the emulator's options, membership changes by record id.
// Only MANUAL and SNAPSHOT lists accept membership writes, as in HubSpot.
import { z } from "zod";
import { errorReply, type Reply } from "./errors.ts";
import { canonicalObjectType } from "./properties.ts";
import type { RecordStore } from "./store.ts";

export interface HubSpotListDefinition {
  listId: string;
  name: string;
  /** contacts (default), companies or a custom object type. */
  objectType?: string;
  processingType?: "MANUAL" | "SNAPSHOT" | "DYNAMIC";
}

interface EmulatedList extends Required<HubSpotListDefinition> {
  members: Map<string, string>; // record id -> membership timestamp
}

const OBJECT_TYPE_IDS: Record<string, string> = { contacts: "0-1", companies: "0-2" };

const AddAndRemove = z.object({ recordIdsToAdd: z.array(z.string()).default([]), recordIdsToRemove: z.array(z.string()).default([]) });
const Ids = z.array(z.string());

export class Lists {
  private readonly lists = new Map<string, EmulatedList>();
  private readonly store: () => RecordStore;

  constructor(definitions: HubSpotListDefinition[], store: () => RecordStore) {
    this.store = store;
    for (const d of definitions) {
      this.lists.set(d.listId, { listId: d.listId, name: d.name, objectType: canonicalObjectType(d.objectType ?? "contacts"), processingType: d.processingType ?? "MANUAL", members: new Map() });
    }
  }

  clear(): void {
    for (const list of this.lists.values()) list.members.clear();
  }

  members(listId: string): string[] {
    const list = this.lists.get(listId);
    if (!list) throw new Error(`HubSpot emulator: unknown list "${listId}"`);
    return [...list.members.keys()];
  }

  private find(listId: string): EmulatedList | Reply {
    const list = this.lists.get(listId);
    return list ?? errorReply(404, `List ${listId} does not exist.`, "OBJECT_NOT_FOUND");
  }

  get(listId: string): Reply {
    const list = this.find(listId);
    if ("status" in list) return list;
    return {
      status: 200,
      body: {
        list: {
          listId: list.listId,
          name: list.name,
          objectTypeId: OBJECT_TYPE_IDS[list.objectType] ?? list.objectType,
          processingType: list.processingType,
          processingStatus: "COMPLETE",
          listVersion: 1,
          size: list.members.size,
        },
      },
    };
  }

  page(listId: string, query: URLSearchParams): Reply {
    const list = this.find(listId);
    if ("status" in list) return list;
    const limit = Math.min(250, Math.max(1, Number(query.get("limit") ?? 100) || 100));
    const after = Number(query.get("after") ?? 0) || 0;
    const all = [...list.members.entries()];
    const results = all.slice(after, after + limit).map(([recordId, membershipTimestamp]) => ({ recordId, membershipTimestamp }));
    return { status: 200, body: { results, ...(after + limit < all.length ? { paging: { next: { after: String(after + limit) } } } : {}) } };
  }

  change(listId: string, kind: "add" | "remove" | "add-and-remove", body: unknown): Reply {
    const list = this.find(listId);
    if ("status" in list) return list;
    if (list.processingType === "DYNAMIC") {
      return errorReply(400, `List ${listId} is a DYNAMIC list; memberships can only be changed on MANUAL or SNAPSHOT lists.`, "VALIDATION_ERROR");
    }
    let toAdd: string[] = [];
    let toRemove: string[] = [];
    if (kind === "add-and-remove") {
      const parsed = AddAndRemove.safeParse(body);
      if (!parsed.success) return errorReply(400, "Invalid input JSON: expected {recordIdsToAdd, recordIdsToRemove}", "VALIDATION_ERROR");
      ({ recordIdsToAdd: toAdd, recordIdsToRemove: toRemove } = parsed.data);
    } else {
      const parsed = Ids.safeParse(body);
      if (!parsed.success) return errorReply(400, "Invalid input JSON: expected an array of record ids", "VALIDATION_ERROR");
      if (kind === "add") toAdd = parsed.data;
      else toRemove = parsed.data;
    }
    const added: string[] = [];
    const removed: string[] = [];
    const missing: string[] = [];
    const now = new Date().toISOString();
    for (const id of toAdd) {
      if (!this.store().get(list.objectType, id)) missing.push(id);
      else if (!list.members.has(id)) {
        list.members.set(id, now);
        added.push(id);
      }
    }
    for (const id of toRemove) {
      if (list.members.delete(id)) removed.push(id);
      else if (!this.store().get(list.objectType, id)) missing.push(id);
    }
    // HubSpot's own spelling: `recordsIdsAdded`.
    return { status: 200, body: { recordsIdsAdded: added, recordIdsRemoved: removed, recordIdsMissing: missing } };
  }
}
