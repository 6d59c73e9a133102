/**
 * `export dbml`: the model's columns and the destination object's fields as DBML tables, with a ref per mapped field
 * (model column → destination field). The database is built as @dbml/core's JSON model and printed by its exporter,
 * so the output is DBML that @dbml/core parses back.
 */
import { ModelExporter, Parser, type RawDatabase } from "@dbml/core";
import { fieldMappings } from "../contract/schema.ts";
import type { ExportContract } from "./source.ts";

interface RawFieldJson {
  name: string;
  type: { schemaName: null; type_name: string; args: null };
  pk?: boolean;
  unique?: boolean;
  not_null?: boolean;
  note?: { value: string };
}

interface RawTableJson {
  name: string;
  schemaName: string | null;
  note?: { value: string };
  fields: RawFieldJson[];
  indexes: [];
}

interface RawRefJson {
  name: string;
  schemaName: null;
  endpoints: { schemaName: string | null; tableName: string; fieldNames: string[]; relation: "1" | "*" }[];
}

const UNKNOWN_TYPE = "unknown";

/** DBML types are single words or quoted; warehouse types such as `TIMESTAMP WITH TIME ZONE` are kept readable. */
function dbmlType(type: string | undefined): string {
  if (!type) return UNKNOWN_TYPE;
  return /^[A-Za-z_][A-Za-z0-9_]*(\(\d+(,\s*\d+)?\))?$/.test(type) ? type : `"${type.replaceAll('"', "'")}"`;
}

function field(name: string, type: string | undefined, extra: Partial<RawFieldJson> = {}): RawFieldJson {
  return { name, type: { schemaName: null, type_name: dbmlType(type), args: null }, ...extra };
}

/** The destination system is the DBML schema, the destination object the table: `hubspot.contacts`. */
function destinationTable(c: ExportContract): { schemaName: string; name: string } {
  return { schemaName: c.contract.spec.destination.type, name: c.contract.spec.destination.object };
}

export function buildDbmlDatabase(contracts: ExportContract[]): RawDatabase {
  const tables = new Map<string, RawTableJson>();
  const refs: RawRefJson[] = [];
  const tableFor = (schemaName: string | null, name: string, note: string | undefined): RawTableJson => {
    const id = `${schemaName ?? ""}.${name}`;
    let table = tables.get(id);
    if (!table) {
      table = { name, schemaName, fields: [], indexes: [], ...(note ? { note: { value: note } } : {}) };
      tables.set(id, table);
    }
    return table;
  };
  const addField = (table: RawTableJson, f: RawFieldJson) => {
    const existing = table.fields.find((x) => x.name === f.name);
    if (!existing) table.fields.push(f);
    else {
      if (f.pk) existing.pk = true;
      if (f.unique) existing.unique = true;
      if (f.note && !existing.note) existing.note = f.note;
    }
  };

  for (const c of contracts) {
    const spec = c.contract.spec;
    const model = tableFor(null, c.model.name, `dbt model${c.model.relation ? ` ${c.model.relation}` : ""}${c.model.description ? `: ${c.model.description}` : ""}`);
    for (const col of c.model.columns) {
      const isKey = col.name.toLowerCase() === spec.key.toLowerCase();
      addField(model, field(col.name, col.type, { ...(isKey ? { pk: true, not_null: true } : {}), ...(col.description ? { note: { value: col.description } } : {}) }));
    }
    const dest = destinationTable(c);
    const destination = tableFor(dest.schemaName, dest.name, `${spec.destination.type} ${spec.destination.object}`);
    const types = new Map(c.model.columns.map((col) => [col.name.toLowerCase(), col.type]));
    // The match field: the sync key's counterpart, unique in the destination.
    addField(destination, field(spec.destination.match.field, types.get(spec.key.toLowerCase()), { unique: true, note: { value: `match field (sync key ${spec.key})` } }));
    const endpoint = (table: { schemaName: string | null; name: string }, column: string, relation: "1" | "*") => ({ schemaName: table.schemaName, tableName: table.name, fieldNames: [column], relation });
    if (!fieldMappings(spec).some((f) => f.to === spec.destination.match.field)) {
      refs.push({ name: `${spec.name}__match`, schemaName: null, endpoints: [endpoint({ schemaName: null, name: c.model.name }, spec.key, "1"), endpoint(dest, spec.destination.match.field, "1")] });
    }
    for (const f of fieldMappings(spec)) {
      const note = [`from ${c.model.name}.${f.column} (contract ${spec.name})`, `on_null: ${f.on_null}`, `overwrite: ${f.overwrite}`, f.allowed && `allowed: ${f.allowed.map(String).join(", ")}`].filter(Boolean).join("; ");
      addField(destination, field(f.to, types.get(f.column.toLowerCase()), { note: { value: note } }));
      refs.push({ name: `${spec.name}__${f.column}`, schemaName: null, endpoints: [endpoint({ schemaName: null, name: c.model.name }, f.column, "1"), endpoint(dest, f.to, "1")] });
    }
  }
  return { schemas: [], tables: [...tables.values()], refs, enums: [], tableGroups: [], notes: [], records: [], tablePartials: [], project: {} } as unknown as RawDatabase;
}

export function exportDbml(contracts: ExportContract[]): string {
  const database = Parser.parse(buildDbmlDatabase(contracts), "json");
  return `${ModelExporter.export(database, "dbml").trimEnd()}\n`;
}
