/** `generate`: the contracts of the manifest → the dbt assets each one needs (activation model, tests, exposure). */
import { join, resolve } from "node:path";
import { loadContracts, selectContracts } from "../contract/load.ts";
import { readManifest } from "../dbt/artifacts.ts";
import { generate, type GenerateResult } from "../generate/generate.ts";

export interface GenerateOptions {
  projectDir: string;
  targetDir?: string | undefined;
  outDir: string;
  select: string[];
  check: boolean;
  cwd: string;
}

/** The generate result, and how many contracts it covered. */
export async function runGenerate(options: GenerateOptions): Promise<{ result: GenerateResult; contracts: number }> {
  const projectDir = resolve(options.cwd, options.projectDir);
  const manifest = await readManifest(join(resolve(options.cwd, options.targetDir ?? join(projectDir, "target")), "manifest.json"));
  const contracts = selectContracts(loadContracts(manifest), options.select);
  return { result: await generate(contracts, projectDir, options.outDir, options.check), contracts: contracts.length };
}
