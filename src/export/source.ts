/**
 * What every export reads: the contracts of the project's schema YAML (the same reading as validate), each with its
 * model's columns (catalog.json types, else the manifest's and the YAML's declared columns, plus every column the
 * contract names) and its launch-readiness verdict.
 */
import type { Contract } from "../contract/load.ts";
import type { Readiness } from "../contract/readiness.ts";
import { fieldMappings } from "../contract/schema.ts";
import { BadInputError } from "../errors.ts";
import { referencedColumns, type ModelColumn } from "../validate/columns.ts";
import type { DbtProject } from "../validate/project.ts";
import { formatProblem } from "../validate/types.ts";
import { analyzeProject, type AnalyzedContract } from "../validate/validate.ts";

export interface ExportContract {
  contract: Contract;
  readiness: Readiness;
  /** The contract's status is allowed (no status error): a `launch` contract that is not launch-ready is not. */
  statusAllowed: boolean;
  model: {
    name: string;
    description: string | undefined;
    /** The relation dbt built, when the manifest is known. */
    relation: string | undefined;
    /** The model's parents in the manifest (`depends_on.nodes`). */
    parents: string[];
    columns: ModelColumn[];
    /** Where the column types come from. */
    columnsFrom: "catalog" | "manifest" | "yaml";
  };
  file: string;
  line: number;
}

export interface ExportInput {
  project: DbtProject;
  contracts: ExportContract[];
}

function mergeColumns(analyzed: AnalyzedContract): { columns: ModelColumn[]; from: "catalog" | "manifest" | "yaml" } {
  const columns: ModelColumn[] = [];
  const byName = new Map<string, ModelColumn>();
  const add = (c: ModelColumn) => {
    const existing = byName.get(c.name.toLowerCase());
    if (existing) {
      existing.type ??= c.type;
      existing.description ??= c.description;
      return;
    }
    const copy = { ...c };
    byName.set(c.name.toLowerCase(), copy);
    columns.push(copy);
  };
  const fromArtifacts = analyzed.columns;
  for (const c of fromArtifacts?.columns ?? []) add(c);
  for (const c of analyzed.source.model.columns) add({ name: c.name, type: c.dataType, description: c.description });
  // Columns the contract names but nobody declared still belong to the model (validate warns about them).
  const spec = analyzed.contract.spec;
  const named = [spec.key, ...fieldMappings(spec).map((f) => f.column), ...referencedColumns(spec).map((r) => r.column)];
  for (const name of named) if (!byName.has(name.toLowerCase())) add({ name });
  return { columns, from: fromArtifacts?.from === "catalog" ? "catalog" : fromArtifacts && fromArtifacts.columns.length > 0 ? "manifest" : "yaml" };
}

export async function loadExportInput(options: { projectDir: string; targetDir?: string | undefined; contract?: string | undefined; cwd?: string | undefined }): Promise<ExportInput> {
  const analysis = await analyzeProject({ projectDir: options.projectDir, targetDir: options.targetDir, select: options.contract ? [options.contract] : [], cwd: options.cwd });
  // Schema and YAML errors make a contract unreadable; column and status errors do not stop an export (the card shows them).
  const blocking = analysis.report.errors.filter((p) => p.kind === "yaml" || p.kind === "schema");
  if (blocking.length > 0) {
    throw new BadInputError(`invalid activation contract${blocking.length > 1 ? "s" : ""}: fix them first (dbt-activation validate)`, { details: blocking.map(formatProblem) });
  }
  const statusErrors = new Set(analysis.report.errors.filter((p) => p.kind === "status").map((p) => p.contract));
  const contracts = analysis.contracts.map((a): ExportContract => {
    const { columns, from } = mergeColumns(a);
    return {
      contract: a.contract,
      readiness: a.readiness,
      statusAllowed: !statusErrors.has(a.contract.spec.name),
      model: {
        name: a.source.model.name,
        description: a.source.model.description ?? (typeof (a.modelNode as { description?: unknown } | undefined)?.description === "string" ? (a.modelNode as { description: string }).description || undefined : undefined),
        relation: a.contract.model.relation,
        parents: a.modelNode?.depends_on?.nodes ?? [],
        columns,
        columnsFrom: from,
      },
      file: a.source.source.file,
      line: analysis.report.contracts.find((v) => v.name === a.contract.spec.name)?.line ?? 1,
    };
  });
  if (contracts.length === 0) throw new BadInputError(`no activation contracts in ${analysis.project.dir} (model-paths: ${analysis.project.modelPaths.join(", ")})`);
  return { project: analysis.project, contracts };
}
