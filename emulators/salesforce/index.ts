// Stateful loopback Salesforce emulator for tests: the real jsforce client talks to it via instanceUrl/loginUrl.
import { PERSON_USER_ID } from "./ids.ts";
import { Org } from "./org.ts";
import { serve } from "./server.ts";
import { coerce } from "./validate.ts";
import type { FaultOptions, FieldEdit, SalesforceEmulator, SalesforceEmulatorOptions, SalesforceRecord } from "./types.ts";

export type {
  EmulatorCall,
  FaultOptions,
  SalesforceEmulator,
  SalesforceEmulatorOptions,
  SalesforceFieldDefinition,
  SalesforceFieldType,
  SalesforceLimitOptions,
  SalesforceRecord,
  SaveError,
  SaveResult,
} from "./types.ts";

function copy(r: SalesforceRecord): SalesforceRecord {
  return { ...r };
}

/** Coerces seed/edit values by field type; unknown fields are a test bug, so they throw. */
function typedFields(org: Org, sobject: string, fields: Record<string, unknown>): { table: ReturnType<Org["store"]["table"]>; values: Record<string, unknown> } {
  const o = org.store.sobject(sobject);
  if (!o) throw new Error(`Unknown sObject ${sobject}`);
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    const f = o.byLower.get(k.toLowerCase());
    if (!f) throw new Error(`No such column '${k}' on sobject of type ${o.name}`);
    const c = coerce(f, v);
    if ("error" in c) throw new Error(c.error.message);
    values[f.name] = c.value;
  }
  return { table: org.store.table(o), values };
}

export async function startSalesforceEmulator(opts: SalesforceEmulatorOptions = {}): Promise<SalesforceEmulator> {
  const org = new Org(opts);
  const server = await serve(org, opts.port ?? 0);
  return {
    url: server.url,
    port: server.port,
    accessToken: org.staticToken,
    calls: () => org.calls.map((c) => ({ ...c })),
    callCount: (endpoint?: string) => (endpoint === undefined ? org.calls.length : org.calls.filter((c) => c.endpoint === endpoint).length),
    records: (sobject: string) => {
      const o = org.store.sobject(sobject);
      if (!o) throw new Error(`Unknown sObject ${sobject}`);
      return org.store.table(o).all().map(copy);
    },
    insertRecord: (sobject: string, fields: Record<string, unknown>) => {
      // Seeding bypasses validation, uniqueness, limits and faults (e.g. two records sharing an external id).
      const { table, values } = typedFields(org, sobject, fields);
      const now = org.clock.stamp();
      const record: SalesforceRecord = {
        Id: table.nextId(),
        IsDeleted: false,
        CreatedDate: now,
        CreatedById: PERSON_USER_ID,
        LastModifiedDate: now,
        LastModifiedById: PERSON_USER_ID,
        SystemModstamp: now,
        ...values,
      };
      table.put(record);
      return copy(record);
    },
    editAsPerson: (sobject: string, id: string, fields: Record<string, unknown>) => {
      const { table, values } = typedFields(org, sobject, fields);
      const existing = table.get(id);
      if (!existing) throw new Error(`No ${sobject} record ${id}`);
      const now = org.clock.stamp();
      table.put({ ...existing, ...values, LastModifiedDate: now, LastModifiedById: PERSON_USER_ID, SystemModstamp: now });
    },
    touchDescribe: (sobject: string) => org.touchDescribe(sobject),
    editField: (sobject: string, field: string, changes: FieldEdit) => {
      // An admin editing the field in Setup: later matching and the describe follow, and the describe is newer.
      const f = org.store.sobject(sobject)?.byLower.get(field.toLowerCase());
      if (!f) throw new Error(`Unknown field ${sobject}.${field}`);
      Object.assign(f, changes);
      org.touchDescribe(sobject);
    },
    setFaults: (f: FaultOptions) => org.faults.set(f),
    reset: () => org.reset(),
    close: async () => {
      org.bulk.clear();
      await server.close();
    },
  };
}
