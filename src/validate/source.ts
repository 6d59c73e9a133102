/**
 * Reads the project's schema YAML files keeping positions, so every problem can name `file:line:column`. Finds
 * `models[].config.meta.activation` (and `models[].meta.activation`, written by older dbt projects).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from "yaml";
import { errorMessage } from "../errors.ts";
import type { DbtProject } from "./project.ts";
import { schemaFiles } from "./project.ts";
import type { Problem } from "./types.ts";

export interface SourceFile {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
}

export interface SourceColumn {
  name: string;
  description?: string | undefined;
  dataType?: string | undefined;
}

export interface SourceModel {
  name: string;
  source: SourceFile;
  description: string | undefined;
  columns: SourceColumn[];
  /** dbt's model contract (`config.contract.enforced`): the declared columns are then all the columns. */
  enforced: boolean;
  /** `seed` or `snapshot` when the contract sits under `seeds:` / `snapshots:` (never synced); else `model`. */
  resourceType: "model" | "seed" | "snapshot";
  /** `config.enabled: false` in the YAML. */
  disabled: boolean;
}

export interface SourceContract {
  source: SourceFile;
  model: SourceModel;
  /** The contract's YAML node (a mapping when well-formed). */
  node: Node;
  /** The contract as plain data, for the zod schema. */
  raw: unknown;
  /** The name when it is a string, else `#<position in the list>`. */
  label: string;
}

export interface ProjectSources {
  files: SourceFile[];
  models: SourceModel[];
  contracts: SourceContract[];
  problems: Problem[];
}

export interface Location {
  line: number;
  column: number;
}

export function locate(source: SourceFile, offset: number | undefined): Location {
  if (offset === undefined) return { line: 1, column: 1 };
  const { line, col } = source.lineCounter.linePos(offset);
  return { line, column: col };
}

export function nodeLocation(source: SourceFile, node: Node | null | undefined): Location {
  return locate(source, node?.range?.[0]);
}

function pairIn(map: YAMLMap, key: string): { key: Node; value: Node | null } | undefined {
  for (const pair of map.items) {
    if (!isPair(pair)) continue;
    const k = pair.key;
    if (isScalar(k) && String(k.value) === key) return { key: k as Node, value: (pair.value as Node | null) ?? null };
  }
  return undefined;
}

export interface Resolved {
  /** The node at the path, when it exists. */
  node: Node | undefined;
  /** The key node of the last segment, when the path ends in a mapping key that exists. */
  key: Node | undefined;
  /** The deepest node that exists along the path. */
  deepest: Node;
}

/** Walks a path of mapping keys and sequence indices from a node. */
export function resolvePath(root: Node, path: readonly PropertyKey[]): Resolved {
  let current: Node = root;
  let key: Node | undefined;
  for (const segment of path) {
    key = undefined;
    let next: Node | null | undefined;
    if (isMap(current)) {
      const pair = pairIn(current, String(segment));
      if (pair) {
        key = pair.key;
        next = pair.value;
        if (!next) return { node: undefined, key, deepest: key };
      }
    } else if (isSeq(current) && typeof segment === "number") {
      next = current.items[segment] as Node | undefined;
    }
    if (!next) return { node: undefined, key: undefined, deepest: current };
    current = next;
  }
  return { node: current, key, deepest: current };
}

function scalarString(node: Node | null | undefined): string | undefined {
  return isScalar(node) && node.value !== null && node.value !== undefined ? String(node.value) : undefined;
}

function mapAt(root: Node, path: string[]): YAMLMap | undefined {
  const { node } = resolvePath(root, path);
  return isMap(node) ? node : undefined;
}

function readColumns(model: YAMLMap): SourceColumn[] {
  const { node } = resolvePath(model, ["columns"]);
  if (!isSeq(node)) return [];
  const columns: SourceColumn[] = [];
  for (const item of node.items) {
    if (!isMap(item)) continue;
    const name = scalarString(resolvePath(item, ["name"]).node);
    if (!name) continue;
    columns.push({ name, description: scalarString(resolvePath(item, ["description"]).node), dataType: scalarString(resolvePath(item, ["data_type"]).node) });
  }
  return columns;
}

function contractLabel(node: Node, raw: unknown, index: number): string {
  const name = (raw as { name?: unknown } | null)?.name;
  return isMap(node) && typeof name === "string" && name ? name : `#${index + 1}`;
}

export async function readProjectSources(project: DbtProject): Promise<ProjectSources> {
  const result: ProjectSources = { files: [], models: [], contracts: [], problems: [] };
  for (const file of await schemaFiles(project)) {
    const text = await readFile(join(project.dir, file), "utf8");
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    const source: SourceFile = { file, doc, lineCounter };
    result.files.push(source);
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const at = locate(source, error.pos[0]);
        result.problems.push({ severity: "error", kind: "yaml", file, ...at, path: "", message: `invalid YAML: ${error.message.split("\n")[0]}` });
      }
      continue;
    }
    const root = doc.contents as Node | null;
    if (!root) continue;
    for (const resourceType of ["models", "seeds", "snapshots"] as const) {
      const models = resolvePath(root, [resourceType]).node;
      if (!isSeq(models)) continue;
      for (const item of models.items) {
        if (!isMap(item)) continue;
        const name = scalarString(resolvePath(item, ["name"]).node);
        if (!name) continue;
        const enforced = resolvePath(item, ["config", "contract", "enforced"]).node;
        const enabled = resolvePath(item, ["config", "enabled"]).node;
        const model: SourceModel = {
          name,
          source,
          description: scalarString(resolvePath(item, ["description"]).node),
          columns: readColumns(item),
          enforced: isScalar(enforced) && enforced.value === true,
          resourceType: resourceType === "models" ? "model" : resourceType === "seeds" ? "seed" : "snapshot",
          disabled: isScalar(enabled) && enabled.value === false,
        };
        if (resourceType === "models") result.models.push(model);
        // config.meta wins over the top-level meta, as in the manifest (dbt ≥ 1.10 moves the latter under config).
        const meta = mapAt(item, ["config", "meta"]);
        const activation = (meta && resolvePath(meta, ["activation"]).node) ?? resolvePath(item, ["meta", "activation"]).node;
        if (!activation) continue;
        const entries: Node[] = isSeq(activation) ? (activation.items as Node[]) : [activation];
        for (const [index, node] of entries.entries()) {
          let raw: unknown;
          try {
            raw = node.toJS(doc);
          } catch (error) {
            // The yaml package refuses aliases that expand past its limit (a "billion laughs" alias bomb).
            const at = locate(source, node.range?.[0] ?? 0);
            result.problems.push({ severity: "error", kind: "yaml", file, ...at, path: "", message: `invalid YAML: ${errorMessage(error).split("\n")[0]}` });
            continue;
          }
          result.contracts.push({ source, model, node, raw, label: contractLabel(node, raw, index) });
        }
      }
    }
  }
  return result;
}
