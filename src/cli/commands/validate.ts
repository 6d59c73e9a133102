import { Option, type Command } from "commander";
import { formatValidateText, validateJson } from "../../validate/format.ts";
import { runValidate } from "../../validate/validate.ts";
import type { CommandContext } from "../io.ts";
import { splitList } from "./sync.ts";

export function registerValidate(program: Command, { io, setExit, setJson }: CommandContext): void {
  program
    .command("validate")
    .description("Check every activation contract in the project's schema YAML: schema, referenced columns, launch readiness")
    .requiredOption("--project-dir <dir>", "the dbt project (holds dbt_project.yml)")
    .option("--target-dir <dir>", "where dbt wrote manifest.json and catalog.json, used when present (default: <project-dir>/target)")
    .addOption(new Option("--select <contract...>", "validate only these contracts (names, space or comma separated)").default([]))
    .option("--json", "print the report as JSON on stdout")
    .addHelpText("after", "\nExit codes:\n  0  every contract is valid (warnings allowed)\n  2  at least one error: YAML, schema, column, or a status the contract does not qualify for")
    .action(async (opts: { projectDir: string; targetDir?: string; select: string[]; json?: boolean }) => {
      setJson(Boolean(opts.json));
      const report = await runValidate({ projectDir: opts.projectDir, targetDir: opts.targetDir, select: splitList(opts.select), cwd: io.cwd });
      io.stdout(`${opts.json ? validateJson(report) : formatValidateText(report)}\n`);
      setExit(report.exitCode);
    });
}
