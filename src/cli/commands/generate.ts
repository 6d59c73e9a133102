import { Option, type Command } from "commander";
import { join } from "node:path";
import { runGenerate } from "../../pipeline/generate.ts";
import { EXIT } from "../../exit-codes.ts";
import type { CommandContext } from "../io.ts";
import { splitList } from "./sync.ts";

export function registerGenerate(program: Command, { io, setExit, setJson }: CommandContext): void {
  program
    .command("generate")
    .description("Write each contract's activation model, excluded-rows model, tests and exposure into the dbt project (run `dbt parse` first)")
    .requiredOption("--project-dir <dir>", "the dbt project (holds dbt_project.yml)")
    .option("--target-dir <dir>", "where dbt wrote manifest.json (default: <project-dir>/target)")
    .option("--out-dir <dir>", "folder for the generated files, relative to the project", join("models", "activation"))
    .addOption(new Option("--select <contract...>", "only these contracts").default([]))
    .option("--check", "write nothing; exit 5 when a generated file is missing, stale or left over (for CI)")
    .option("--json", "print the result as JSON")
    .action(async (opts: { projectDir: string; targetDir?: string; outDir: string; select: string[]; check?: boolean; json?: boolean }) => {
      setJson(Boolean(opts.json));
      const { result, contracts } = await runGenerate({ ...opts, select: splitList(opts.select), check: Boolean(opts.check), cwd: io.cwd });
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
