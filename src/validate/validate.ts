/**
 * `dbt-activation validate`: every contract in the project's schema YAML checked against the zod schema, its columns
 * against the model (catalog.json, else the manifest's declared columns), and its status against launch readiness.
 * Problems are located at `file:line:column` in the YAML the analytics engineer edits.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { resolveTargetDir } from "../dbt/project.ts";
import type { Contract } from "../contract/load.ts";
import { launchReadiness, type Readiness } from "../contract/readiness.ts";
import { unsyncableNodeReason } from "../contract/rules.ts";
import { contractSchema } from "../contract/schema.ts";
import { readManifest, type Manifest, type ManifestNode } from "../dbt/artifacts.ts";
import { BadInputError } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import { findModelNode, hasColumn, modelColumns, readCatalog, referencedColumns, type Catalog, type ModelColumns } from "./columns.ts";
import { contractProblems } from "./issues.ts";
import { readDbtProject, type DbtProject } from "./project.ts";
import { nodeLocation, readProjectSources, resolvePath, type ProjectSources, type SourceContract } from "./source.ts";
import { statusProblems } from "../contract/status.ts";
import { didYouMean } from "./suggest.ts";
import type { ContractVerdict, Problem, ValidateReport } from "./types.ts";

export interface ValidateOptions {
  projectDir: string;
  /** dbt's `--target-path`: where dbt wrote manifest.json (and catalog.json); default as dbt (dbt/project.ts). */
  targetDir?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Only these contracts; an unknown name is an error. */
  select?: string[] | undefined;
  cwd?: string | undefined;
}

export interface AnalyzedContract {
  source: SourceContract;
  contract: Contract;
  readiness: Readiness;
  /** The model's node in the manifest, when there is a manifest that has it. */
  modelNode: ManifestNode | undefined;
  /** The model's columns from the catalog or the manifest, when known. */
  columns: ModelColumns | undefined;
}

export interface Analysis {
  project: DbtProject;
  sources: ProjectSources;
  manifest: Manifest | undefined;
  catalog: Catalog | undefined;
  report: ValidateReport;
  /** The contracts that satisfy the schema (they may still have column or status errors). */
  contracts: AnalyzedContract[];
}

export async function analyzeProject(options: ValidateOptions): Promise<Analysis> {
  const cwd = options.cwd ?? process.cwd();
  const project = await readDbtProject(options.projectDir, cwd);
  const targetDir = await resolveTargetDir({ projectDir: project.dir, targetPath: options.targetDir, env: options.env, cwd });
  const manifestPath = join(targetDir, "manifest.json");
  const catalogPath = join(targetDir, "catalog.json");
  const manifest = existsSync(manifestPath) ? await readManifest(manifestPath) : undefined;
  const catalog = manifest && existsSync(catalogPath) ? await readCatalog(catalogPath) : undefined;
  const sources = await readProjectSources(project);

  const problems: Problem[] = [...sources.problems];
  const verdicts: ContractVerdict[] = [];
  const analyzed: AnalyzedContract[] = [];
  const seen = new Map<string, SourceContract>();

  for (const source of sources.contracts) {
    const parsed = contractSchema.safeParse(source.raw);
    const at = nodeLocation(source.source, source.node);
    if (!parsed.success) {
      problems.push(...contractProblems(source, parsed.error.issues));
      continue;
    }
    const spec = parsed.data;
    const base = { file: source.source.file, model: source.model.name, contract: spec.name };
    const locateField = (path: PropertyKey[], isKey = false) => {
      const r = resolvePath(source.node, path);
      return nodeLocation(source.source, isKey ? (r.key ?? r.deepest) : (r.node ?? r.deepest));
    };
    const own: Problem[] = [];

    const previous = seen.get(spec.name);
    if (previous) {
      const where = nodeLocation(previous.source, previous.node);
      own.push({ severity: "error", kind: "schema", ...base, ...locateField(["name"]), path: "name", message: `contract names must be unique: also declared on model ${previous.model.name} at ${previous.source.file}:${where.line}:${where.column}` });
    } else {
      seen.set(spec.name, source);
    }

    const modelNode = manifest ? findModelNode(manifest, source.model.name, project.name) : undefined;
    const contract: Contract = {
      spec,
      model: { uniqueId: modelNode?.unique_id ?? `model.${project.name}.${source.model.name}`, name: source.model.name, relation: modelNode?.relation_name ?? undefined, file: source.source.file },
    };
    const readiness = launchReadiness(contract, modelNode ? manifest : undefined);
    const unsyncable = unsyncableReason(source, modelNode, manifest);
    if (unsyncable) {
      own.push({ severity: "error", kind: "unsupported", ...base, ...at, path: "", message: `cannot be synced: ${unsyncable}` });
      readiness.ready = false;
      readiness.reasons.unshift(unsyncable);
    }
    for (const p of statusProblems(spec, readiness)) {
      own.push({ severity: "error", kind: "status", ...base, ...locateField(p.path.split(".")), path: p.path, message: p.message });
    }

    const columns = modelColumns(modelNode, catalog);
    if (columns && columns.columns.length > 0) {
      // The catalog lists the real columns; declared columns are complete only under an enforced dbt model contract.
      const enforced = columns.from === "catalog" || source.model.enforced || (modelNode?.config as { contract?: { enforced?: unknown } } | undefined)?.contract?.enforced === true;
      const known = columns.columns.map((c) => c.name);
      for (const ref of referencedColumns(spec)) {
        if (hasColumn(columns.columns, ref.column)) continue;
        const message =
          columns.from === "catalog"
            ? `column "${ref.column}" is not in model ${source.model.name} (catalog.json)${didYouMean(ref.column, known)}`
            : `column "${ref.column}" is not declared on model ${source.model.name}${didYouMean(ref.column, known)}${enforced ? "" : " (declare it under columns:, or run dbt docs generate so catalog.json lists the real columns)"}`;
        own.push({ severity: enforced ? "error" : "warning", kind: "column", ...base, ...locateField(ref.path, ref.isKey), path: ref.path.map(String).join("."), message });
      }
    }

    problems.push(...own);
    analyzed.push({ source, contract, readiness, modelNode, columns });
    verdicts.push({
      name: spec.name,
      model: source.model.name,
      file: source.source.file,
      line: at.line,
      status: spec.status,
      launchReady: readiness.ready,
      reasons: readiness.reasons,
      valid: !own.some((p) => p.severity === "error"),
    });
  }

  let selected = analyzed;
  let selectedVerdicts = verdicts;
  let selectedProblems = problems;
  const select = options.select ?? [];
  if (select.length > 0) {
    const known = new Set(sources.contracts.map((c) => c.label));
    const unknown = select.filter((n) => !known.has(n));
    if (unknown.length > 0) {
      throw new BadInputError(`--select names no contract: ${unknown.join(", ")}`, {
        details: unknown.map((n) => `${n}: no such contract${didYouMean(n, known)}; contracts in this project: ${[...known].join(", ") || "(none)"}`),
      });
    }
    const names = new Set(select);
    selected = analyzed.filter((a) => names.has(a.contract.spec.name));
    selectedVerdicts = verdicts.filter((v) => names.has(v.name));
    selectedProblems = problems.filter((p) => p.contract === undefined || names.has(p.contract));
  }

  const byPosition = (a: Problem, b: Problem) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;
  const errors = selectedProblems.filter((p) => p.severity === "error").sort(byPosition);
  const warnings = selectedProblems.filter((p) => p.severity === "warning").sort(byPosition);
  const report: ValidateReport = {
    projectDir: project.dir,
    manifest: manifest ? manifestPath : undefined,
    catalog: catalog ? catalogPath : undefined,
    contracts: selectedVerdicts,
    errors,
    warnings,
    exitCode: errors.length > 0 ? EXIT.badInput : EXIT.ok,
  };
  return { project, sources, manifest, catalog, report, contracts: selected };
}

/** Why the node a contract sits on can never be synced (YAML section and config, then the manifest), if it cannot. */
function unsyncableReason(source: SourceContract, modelNode: ManifestNode | undefined, manifest: Manifest | undefined): string | undefined {
  const { model } = source;
  const fromYaml = unsyncableNodeReason({ resource_type: model.resourceType, name: model.name }, model.disabled);
  if (fromYaml) return fromYaml;
  if (modelNode) return unsyncableNodeReason(modelNode as Parameters<typeof unsyncableNodeReason>[0]);
  const disabled = Object.values(manifest?.disabled ?? {}).some((versions) =>
    versions.some((n) => (n as { resource_type?: unknown; name?: unknown }).resource_type === "model" && (n as { name?: unknown }).name === model.name),
  );
  return disabled ? unsyncableNodeReason({ resource_type: "model", name: model.name }, true) : undefined;
}

export async function runValidate(options: ValidateOptions): Promise<ValidateReport> {
  return (await analyzeProject(options)).report;
}
