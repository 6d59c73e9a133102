/**
 * Reads every activation contract from the manifest (`config.meta.activation`, falling back to `meta.activation` for
 * older dbt) and validates it. Errors name the file, the model, the contract and the field.
 */
import { contractSchema, fieldMappings, type ContractSpec } from "./schema.ts";
import { manifestNodeSchema, type Manifest, type ManifestNode } from "../dbt/artifacts.ts";
import { unsyncableNodeReason } from "./rules.ts";
import { BadInputError } from "../errors.ts";

export interface ModelRef {
  uniqueId: string;
  name: string;
  /** The relation dbt built, already quoted for the warehouse, e.g. `"db"."main"."account_health"`. */
  relation: string | undefined;
  /** The YAML (or SQL) file that declares the contract, for messages. */
  file: string;
}

export interface Contract {
  spec: ContractSpec;
  /** The model the contract is declared on. */
  model: ModelRef;
  /**
   * The generated activation model (`models/activation/<contract>.sql`, named like the contract): the model's rows
   * with suppression, consent, holdout, rollout and review applied in SQL, proven by its own tests. Syncs read it.
   */
  activationModel?: ModelRef | undefined;
  /** The generated excluded-rows model (`<contract>__excluded`): who the activation model leaves out, and why. */
  excludedModel?: ModelRef | undefined;
  /** The generated parity model (`<contract>__parity`): the activation model against the destination snapshot. */
  parityModel?: ModelRef | undefined;
  /**
   * The model's columns marked sensitive in dbt (`meta: {sensitive: true}` or `pii: true`, or tagged `pii` /
   * `sensitive`): their values never appear in what the syncer prints (plan samples, JSON, Markdown).
   */
  sensitiveColumns?: string[] | undefined;
}

export const REDACTED = "‹redacted›";

/** The node's columns marked sensitive (see `Contract.sensitiveColumns`). */
function sensitiveColumnsOf(node: ManifestNode): string[] {
  const columns = (node as { columns?: unknown }).columns as
    | Record<string, { meta?: Record<string, unknown>; config?: { meta?: Record<string, unknown>; tags?: unknown }; tags?: unknown }>
    | undefined;
  return Object.entries(columns ?? {})
    .filter(([, c]) => {
      const meta = { ...(c.meta ?? {}), ...(c.config?.meta ?? {}) };
      const tags = [...(Array.isArray(c.tags) ? c.tags : []), ...(Array.isArray(c.config?.tags) ? c.config.tags : [])].map(String);
      return meta.sensitive === true || meta.pii === true || tags.includes("pii") || tags.includes("sensitive");
    })
    .map(([name]) => name);
}

/**
 * A record as the syncer may print it: the values of the contract's sensitive columns (mapped to destination fields)
 * and the key, when its column is one, replaced by REDACTED.
 */
/** The sync key as the syncer may print it: REDACTED when the key column is marked sensitive. */
export function redactKey<K extends string | null>(contract: Contract, key: K): K | typeof REDACTED {
  return key !== null && (contract.sensitiveColumns ?? []).includes(contract.spec.key) ? REDACTED : key;
}

export function redactSensitive<T extends { key: string; fields: Record<string, unknown> }>(contract: Contract, record: T): T {
  const sensitive = new Set(contract.sensitiveColumns ?? []);
  if (sensitive.size === 0) return record;
  const hidden = new Set(fieldMappings(contract.spec).filter((f) => sensitive.has(f.column)).map((f) => f.to));
  const fields = Object.fromEntries(Object.entries(record.fields).map(([f, v]) => [f, hidden.has(f) ? REDACTED : v]));
  return { ...record, key: sensitive.has(contract.spec.key) ? REDACTED : record.key, fields };
}

function modelRef(node: ManifestNode): ModelRef {
  return { uniqueId: node.unique_id, name: node.name, relation: node.relation_name ?? undefined, file: modelFile(node) };
}

function modelFile(node: ManifestNode): string {
  // patch_path looks like `project://models/schema.yml`; the YAML is where contracts are written.
  const patch = node.patch_path?.replace(/^[^:]+:\/\//, "");
  return patch ?? node.original_file_path ?? node.unique_id;
}

function rawActivation(node: ManifestNode): unknown {
  return node.config?.meta?.activation ?? node.meta?.activation;
}

export function loadContracts(manifest: Manifest): Contract[] {
  const contracts: Contract[] = [];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const models = new Map<string, ManifestNode>();
  for (const node of Object.values(manifest.nodes)) if (node.resource_type === "model") models.set(`${node.package_name ?? ""}.${node.name}`, node);

  for (const node of Object.values(manifest.nodes)) {
    if (node.resource_type !== "model" || unsyncableNodeReason(node)) continue;
    const raw = rawActivation(node);
    if (raw === undefined || raw === null) continue;
    const model = modelRef(node);
    const file = model.file;
    const entries: unknown[] = Array.isArray(raw) ? raw : [raw];

    entries.forEach((entry, index) => {
      const label =
        entry && typeof entry === "object" && typeof (entry as { name?: unknown }).name === "string"
          ? (entry as { name: string }).name
          : `#${index + 1}`;
      const parsed = contractSchema.safeParse(entry);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const field = issue.path.join(".") || "(contract)";
          problems.push(`${file}: model ${node.name}, contract ${label}, field ${field}: ${issue.message}`);
        }
        return;
      }
      const previous = seen.get(parsed.data.name);
      if (previous) {
        problems.push(`${file}: model ${node.name}, contract ${label}, field name: also declared on model ${previous}; contract names must be unique`);
        return;
      }
      seen.set(parsed.data.name, node.name);
      const generated = models.get(`${node.package_name ?? ""}.${parsed.data.name}`);
      const excluded = models.get(`${node.package_name ?? ""}.${parsed.data.name}__excluded`);
      const parity = models.get(`${node.package_name ?? ""}.${parsed.data.name}__parity`);
      contracts.push({
        spec: parsed.data,
        model,
        activationModel: generated ? modelRef(generated) : undefined,
        excludedModel: excluded ? modelRef(excluded) : undefined,
        parityModel: parity ? modelRef(parity) : undefined,
        sensitiveColumns: sensitiveColumnsOf(node),
      });
    });
  }

  if (problems.length > 0) {
    throw new BadInputError(`invalid activation contract${problems.length > 1 ? "s" : ""}`, { details: problems });
  }
  return contracts.sort((a, b) => a.spec.name.localeCompare(b.spec.name));
}

/** Narrows to the contracts named by `--select`; an unknown name is an error, not an empty run. */
export function selectContracts(contracts: Contract[], names: string[]): Contract[] {
  if (names.length === 0) return contracts;
  const known = new Set(contracts.map((c) => c.spec.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new BadInputError(`--select names no contract: ${unknown.join(", ")}`, {
      details: [`contracts in this project: ${[...known].join(", ") || "(none)"}`],
    });
  }
  return contracts.filter((c) => names.includes(c.spec.name));
}

/** A contract declared on a node the syncer can never read (see `unsyncableNodeReason`), with the reason. */
export interface UnsyncableContract {
  /** The contract's name, else `#<position>`. */
  name: string;
  node: string;
  file: string;
  reason: string;
}

/** Contracts on seeds, snapshots, ephemeral or disabled models: each named with why it cannot sync. */
export function unsyncableContracts(manifest: Manifest): UnsyncableContract[] {
  const found: UnsyncableContract[] = [];
  const visit = (node: ManifestNode, disabled: boolean): void => {
    const raw = rawActivation(node);
    if (raw === undefined || raw === null) return;
    const reason = unsyncableNodeReason(node, disabled);
    if (!reason) return;
    const entries: unknown[] = Array.isArray(raw) ? raw : [raw];
    entries.forEach((entry, index) => {
      const name = entry && typeof entry === "object" && typeof (entry as { name?: unknown }).name === "string" ? (entry as { name: string }).name : `#${index + 1}`;
      found.push({ name, node: node.name, file: modelFile(node), reason });
    });
  };
  for (const node of Object.values(manifest.nodes)) visit(node, false);
  for (const versions of Object.values(manifest.disabled ?? {})) {
    for (const raw of versions) {
      const parsed = manifestNodeSchema.safeParse(raw);
      if (parsed.success) visit(parsed.data, true);
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}
