/**
 * Readers for dbt's `manifest.json` (v12) and `run_results.json` (v6). Both schemas grow by additions, so they are
 * parsed loosely: only the fields the gate and the contract reader use are declared, everything else passes through.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { BadInputError, errorMessage } from "../errors.ts";

const SUPPORTED_MANIFEST = [12];
const SUPPORTED_RUN_RESULTS = [6];

const nodeSchema = z.looseObject({
  unique_id: z.string(),
  resource_type: z.string(),
  name: z.string(),
  description: z.string().optional(),
  package_name: z.string().optional(),
  original_file_path: z.string().optional(),
  patch_path: z.string().nullish(),
  relation_name: z.string().nullish(),
  database: z.string().nullish(),
  schema: z.string().nullish(),
  alias: z.string().nullish(),
  attached_node: z.string().nullish(),
  depends_on: z.looseObject({ nodes: z.array(z.string()).default([]) }).optional(),
  config: z.looseObject({ meta: z.record(z.string(), z.unknown()).optional(), enabled: z.boolean().optional() }).optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  columns: z.record(z.string(), z.looseObject({ name: z.string(), description: z.string().optional(), data_type: z.string().nullish() })).optional(),
  test_metadata: z.looseObject({ name: z.string(), namespace: z.string().nullish() }).nullish(),
  /** Set by `--defer --state`: the other environment's relation that `ref()` reads when this node is not built. */
  defer_relation: z.looseObject({ relation_name: z.string().nullish(), schema: z.string().nullish(), alias: z.string().nullish() }).nullish(),
});
export type ManifestNode = z.infer<typeof nodeSchema>;
export const manifestNodeSchema = nodeSchema;

const unitTestSchema = z.looseObject({
  unique_id: z.string(),
  name: z.string(),
  model: z.string().optional(),
  depends_on: z.looseObject({ nodes: z.array(z.string()).default([]) }).optional(),
});
export type ManifestUnitTest = z.infer<typeof unitTestSchema>;

const manifestSchema = z.looseObject({
  metadata: z.looseObject({
    dbt_schema_version: z.string(),
    dbt_version: z.string().optional(),
    invocation_id: z.string().nullish(),
    project_name: z.string().optional(),
    adapter_type: z.string().nullish(),
    generated_at: z.string().optional(),
  }),
  nodes: z.record(z.string(), nodeSchema),
  unit_tests: z.record(z.string(), unitTestSchema).optional(),
  /** Nodes dbt disabled (`enabled: false`), by unique id; read only to say why a contract on one cannot sync. */
  disabled: z.record(z.string(), z.array(z.unknown())).optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

const resultSchema = z.looseObject({
  unique_id: z.string(),
  status: z.string(),
  message: z.string().nullish(),
  failures: z.number().nullish(),
  relation_name: z.string().nullish(),
});
export type RunResult = z.infer<typeof resultSchema>;

const runResultsSchema = z.looseObject({
  metadata: z.looseObject({
    dbt_schema_version: z.string(),
    dbt_version: z.string().optional(),
    invocation_id: z.string().nullish(),
    generated_at: z.string().optional(),
  }),
  // `empty` (--empty, dbt 1.8+) and `sample` (--sample, dbt 1.10+) say the build read only part of its inputs.
  args: z.looseObject({ which: z.string().optional(), empty: z.boolean().nullish(), sample: z.unknown().optional() }).default({}),
  results: z.array(resultSchema),
});
export type RunResults = z.infer<typeof runResultsSchema>;

export interface Artifacts {
  manifest: Manifest;
  runResults: RunResults;
  manifestPath: string;
  runResultsPath: string;
}

/** The version number at the end of a dbt schema URL, e.g. `.../manifest/v12.json` → 12. */
export function schemaVersion(url: string): number | undefined {
  const match = /\/v(\d+)\.json$/.exec(url);
  return match ? Number(match[1]) : undefined;
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = what === "run_results.json" ? " (run `dbt build` first: the syncer only sends what a build proved)" : "";
    throw new BadInputError(code === "ENOENT" ? `${what} not found at ${path}${hint}` : `cannot read ${what} at ${path}: ${errorMessage(error)}`, {
      where: path,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BadInputError(`${what} at ${path} is not valid JSON: ${errorMessage(error)}`, { where: path });
  }
}

function parseArtifact<T>(schema: z.ZodType<T>, raw: unknown, path: string, what: string, supported: number[]): T {
  const version = (raw as { metadata?: { dbt_schema_version?: unknown } } | null)?.metadata?.dbt_schema_version;
  if (typeof version === "string") {
    const n = schemaVersion(version);
    if (n === undefined || !supported.includes(n)) {
      throw new BadInputError(
        `${what} at ${path} has schema ${version}; dbt-activation reads ${supported.map((v) => `v${v}`).join(", ")} (dbt-core 1.8 or newer, or dbt Fusion)`,
        { where: path },
      );
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new BadInputError(`${what} at ${path} is not a dbt ${what}`, { where: path, details: issues });
  }
  return parsed.data;
}

export async function readManifest(path: string): Promise<Manifest> {
  return parseManifest(await readJson(path, "manifest.json"), path);
}

export async function readRunResults(path: string): Promise<RunResults> {
  return parseRunResults(await readJson(path, "run_results.json"), path);
}

/** A manifest already read (e.g. from dbt Cloud); `where` names its origin in errors. */
export function parseManifest(raw: unknown, where: string): Manifest {
  return parseArtifact(manifestSchema, raw, where, "manifest.json", SUPPORTED_MANIFEST);
}

export function parseRunResults(raw: unknown, where: string): RunResults {
  return parseArtifact(runResultsSchema, raw, where, "run_results.json", SUPPORTED_RUN_RESULTS);
}

/**
 * Where a sync reads the two artifacts of one dbt invocation from: a local target directory, or a dbt Cloud run
 * (cloud.ts). `manifestPath`/`runResultsPath` name the origin in messages.
 */
export interface ArtifactSource {
  readonly description: string;
  read(): Promise<Artifacts>;
}

export function localArtifacts(targetDir: string): ArtifactSource {
  const manifestPath = join(targetDir, "manifest.json");
  const runResultsPath = join(targetDir, "run_results.json");
  return {
    description: targetDir,
    async read() {
      // Read side by side (a large manifest parses while run_results is read); when both fail, the manifest's error is
      // the one reported, whichever failed first, so a user always meets the same message.
      const [manifest, runResults] = await Promise.allSettled([readManifest(manifestPath), readRunResults(runResultsPath)]);
      if (manifest.status === "rejected") throw manifest.reason;
      if (runResults.status === "rejected") throw runResults.reason;
      return { manifest: manifest.value, runResults: runResults.value, manifestPath, runResultsPath };
    },
  };
}
