/** `generate`: the contracts of the manifest → the dbt assets each one needs (activation model, tests, exposure). */
import { join } from "node:path";
import { loadContracts, selectContracts } from "../contract/load.ts";
import { readManifest } from "../dbt/artifacts.ts";
import { resolveProjectDir, resolveTargetDir } from "../dbt/project.ts";
import { generate, type GenerateResult } from "../generate/generate.ts";

export interface GenerateOptions {
  /** The dbt project (default, as dbt: the working directory or its nearest parent with dbt_project.yml). */
  projectDir?: string | undefined;
  /** Where manifest.json is (dbt's target-path rule). */
  targetPath?: string | undefined;
  outDir: string;
  select: string[];
  check: boolean;
  env?: NodeJS.ProcessEnv;
  cwd: string;
}

/** The generate result, and how many contracts it covered. */
export async function runGenerate(options: GenerateOptions): Promise<{ result: GenerateResult; contracts: number }> {
  const projectDir = resolveProjectDir(options.projectDir, options.cwd);
  const targetDir = await resolveTargetDir({ projectDir, targetPath: options.targetPath, env: options.env ?? process.env, cwd: options.cwd });
  const manifest = await readManifest(join(targetDir, "manifest.json"));
  const contracts = selectContracts(loadContracts(manifest), options.select);
  return { result: await generate(contracts, projectDir, options.outDir, options.check), contracts: contracts.length };
}
