import type { Command } from "commander";
import { resolveProjectDir } from "../../dbt/project.ts";
import type { CommandContext } from "../io.ts";
import { jsonOption, projectOptions, selectOption, splitList, targetPathOf, type ProjectFlags } from "../flags.ts";

export function registerValidate(program: Command, { io, setExit, setJson }: CommandContext): void {
  projectOptions(program.command("validate"), "manifest.json and catalog.json, used when present")
    .description("Check every activation contract in the project's schema YAML: schema, referenced columns, launch readiness")
    .addOption(selectOption("validate only these contracts (names, space or comma separated)"))
    .addOption(jsonOption("print the report as JSON on stdout"))
    .addHelpText("after", "\nExit codes:\n  0  every contract is valid (warnings allowed)\n  2  at least one error: YAML, schema, column, or a status the contract does not qualify for")
    .action(async (opts: ProjectFlags & { select: string[]; json?: boolean }) => {
      setJson(Boolean(opts.json));
      const [{ runValidate }, { formatValidateText, validateJson }] = await Promise.all([import("../../validate/validate.ts"), import("../../validate/format.ts")]);
      const report = await runValidate({ projectDir: resolveProjectDir(opts.projectDir, io.cwd), targetDir: targetPathOf(opts), select: splitList(opts.select), cwd: io.cwd, env: io.env });
      io.stdout(`${opts.json ? validateJson(report) : formatValidateText(report)}\n`);
      setExit(report.exitCode);
    });
}
