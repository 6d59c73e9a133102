import type { Command } from "commander";
import { join } from "node:path";
import { loadContracts, selectContracts } from "../../contract/load.ts";
import { readManifest } from "../../dbt/artifacts.ts";
import { generate } from "../../generate/generate.ts";
import { EXIT } from "../../report/exit-codes.ts";
import type { CommandContext } from "../io.ts";
import { jsonOption, projectOptions, selectOption, splitList, targetPathOf, type ProjectFlags } from "../flags.ts";
import { resolveProjectDir, resolveTargetDir } from "../../dbt/project.ts";

export function registerGenerate(program: Command, { io, setExit, setJson }: CommandContext): void {
  projectOptions(program.command("generate"), "manifest.json")
    .description("Write each contract's activation model, excluded-rows model, tests and exposure into the dbt project (run `dbt parse` first)")
    .option("--out-dir <dir>", "folder for the generated files, relative to the project", join("models", "activation"))
    .addOption(selectOption("only these contracts"))
    .option("--check", "write nothing; exit 5 when a generated file is missing, stale or left over (for CI)")
    .addOption(jsonOption())
    .action(async (opts: ProjectFlags & { outDir: string; select: string[]; check?: boolean; json?: boolean }) => {
      setJson(Boolean(opts.json));
      const projectDir = resolveProjectDir(opts.projectDir, io.cwd);
      const manifest = await readManifest(join(await resolveTargetDir({ projectDir, targetPath: targetPathOf(opts), env: io.env, cwd: io.cwd }), "manifest.json"));
      const contracts = selectContracts(loadContracts(manifest), splitList(opts.select));
      const result = await generate(contracts, projectDir, opts.outDir, Boolean(opts.check));
      if (opts.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
      else {
        for (const path of result.written) io.stdout(`wrote     ${path}\n`);
        for (const path of result.removed) io.stdout(`removed   ${path}\n`);
        for (const line of result.drift) io.stdout(`drift     ${line}\n`);
        io.stdout(`${contracts.length} contracts: ${result.written.length} written, ${result.unchanged.length} unchanged, ${result.removed.length} removed${opts.check ? `, ${result.drift.length} drifted` : ""}\n`);
      }
      setExit(result.drift.length > 0 ? EXIT.drift : EXIT.ok);
    });
}
