/**
 * The columns a contract refers to, and the columns its model has: from `catalog.json` when dbt docs generate wrote
 * it (the warehouse's real columns), else the columns declared in the manifest.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { ContractSpec } from "../contract/schema.ts";
import type { Manifest, ManifestNode } from "../dbt/artifacts.ts";
import { BadInputError, errorMessage } from "../errors.ts";

export interface ColumnReference {
  /** Path of the YAML node that names the column. */
  path: PropertyKey[];
  /** Whether the column is named by a mapping key (then the key node is the location) rather than a value. */
  isKey: boolean;
  column: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function referencedColumns(spec: ContractSpec): ColumnReference[] {
  const refs: ColumnReference[] = [{ path: ["key"], isKey: false, column: spec.key }];
  for (const column of Object.keys(spec.fields)) refs.push({ path: ["fields", column], isKey: true, column });
  if (spec.freshness) refs.push({ path: ["freshness", "column"], isKey: false, column: spec.freshness.column });
  if (spec.late_arriving) refs.push({ path: ["late_arriving", "source"], isKey: false, column: spec.late_arriving.source });
  const s = spec.suppression;
  if (s?.consent) {
    refs.push({ path: ["suppression", "consent", "column"], isKey: false, column: s.consent.column });
    refs.push({ path: ["suppression", "consent", "updated_at"], isKey: false, column: s.consent.updated_at });
  }
  // An exclusion is a boolean column or a SQL predicate: only the plain identifiers are columns.
  s?.exclude?.forEach((entry, index) => {
    if (IDENTIFIER.test(entry.trim())) refs.push({ path: ["suppression", "exclude", index], isKey: false, column: entry.trim() });
  });
  for (const column of Object.keys(spec.gates?.max_null_rate ?? {})) refs.push({ path: ["gates", "max_null_rate", column], isKey: true, column });
  return refs;
}

const catalogSchema = z.looseObject({
  nodes: z.record(
    z.string(),
    z.looseObject({
      columns: z.record(z.string(), z.looseObject({ name: z.string(), type: z.string().nullish(), index: z.number().nullish(), comment: z.string().nullish() })),
    }),
  ),
});
export type Catalog = z.infer<typeof catalogSchema>;

export async function readCatalog(path: string): Promise<Catalog> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new BadInputError(`cannot read catalog.json at ${path}: ${errorMessage(error)}`, { where: path });
  }
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) throw new BadInputError(`catalog.json at ${path} is not a dbt catalog`, { where: path, details: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`) });
  return parsed.data;
}

export interface ModelColumn {
  name: string;
  type?: string | undefined;
  description?: string | undefined;
}

export interface ModelColumns {
  from: "catalog" | "manifest";
  columns: ModelColumn[];
}

/** The model's node in the manifest: the root project's model of that name. */
export function findModelNode(manifest: Manifest, name: string, projectName: string): ManifestNode | undefined {
  const candidates = Object.values(manifest.nodes).filter((n) => n.resource_type === "model" && n.name === name);
  return candidates.find((n) => n.package_name === projectName) ?? candidates[0];
}

export function modelColumns(node: ManifestNode | undefined, catalog: Catalog | undefined): ModelColumns | undefined {
  if (!node) return undefined;
  const fromCatalog = catalog?.nodes[node.unique_id];
  if (fromCatalog) {
    const columns = Object.values(fromCatalog.columns)
      .sort((a, b) => (a.index ?? 0) - (b.index ?? 0))
      .map((c) => ({ name: c.name, type: c.type ?? undefined, description: c.comment ?? undefined }));
    return { from: "catalog", columns };
  }
  const declared = Object.values(node.columns ?? {}).map((c) => ({
    name: c.name,
    type: c.data_type ?? undefined,
    description: typeof (c as { description?: unknown }).description === "string" && (c as { description: string }).description ? (c as { description: string }).description : undefined,
  }));
  return { from: "manifest", columns: declared };
}

export function hasColumn(columns: ModelColumn[], name: string): boolean {
  const lower = name.toLowerCase();
  return columns.some((c) => c.name.toLowerCase() === lower);
}
