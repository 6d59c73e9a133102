import type { Command } from "commander";
import { join } from "node:path";
import { EXIT } from "../../exit-codes.ts";
import type { CommandContext } from "../io.ts";
import { jsonOption, projectOptions, selectOption, splitList, targetPathOf, type ProjectFlags } from "../flags.ts";

export function registerGenerate(program: Command, { io, setExit, setJson }: CommandContext): void {
  projectOptions(program.command("generate"), "manifest.json")
    .description("Write each contract's activation model, excluded-rows model, tests and exposure into the dbt project (run `dbt parse` first)")
    .option("--out-dir <dir>", "folder for the generated files, relative to the project", join("models", "activation"))
    .addOption(selectOption("only these contracts"))
    .option("--check", "write nothing; exit 5 when a generated file is missing, stale or left over (for CI)")
    .addOption(jsonOption())
    .action(async (opts: ProjectFlags & { outDir: string; select: string[]; check?: boolean; json?: boolean }) => {
      setJson(Boolean(opts.json));
      const { runGenerate } = await import("../../pipeline/generate.ts");
      const { result, contracts } = await runGenerate({
        projectDir: opts.projectDir,
        targetPath: targetPathOf(opts),
        outDir: opts.outDir,
        select: splitList(opts.select),
        check: Boolean(opts.check),
        env: io.env,
        cwd: io.cwd,
      });
      if (opts.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
      else {
        for (const path of result.written) io.stdout(`wrote     ${path}\n`);
        for (const path of result.removed) io.stdout(`removed   ${path}\n`);
        for (const line of result.drift) io.stdout(`drift     ${line}\n`);
        io.stdout(`${contracts} contracts: ${result.written.length} written, ${result.unchanged.length} unchanged, ${result.removed.length} removed${opts.check ? `, ${result.drift.length} drifted` : ""}\n`);
      }
      setExit(result.drift.length > 0 ? EXIT.drift : EXIT.ok);
    });
}
