import { Argument, type Command } from "commander";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { EXPORT_FORMATS, runExport, type ExportFormat } from "../../export/export.ts";
import { EXIT } from "../../exit-codes.ts";
import { resolveProjectDir } from "../../dbt/project.ts";
import { projectOptions, targetPathOf, type ProjectFlags } from "../flags.ts";
import type { CommandContext } from "../io.ts";

export function registerExport(program: Command, { io, setExit }: CommandContext): void {
  projectOptions(program.command("export"), "manifest.json and catalog.json, used for column types when present")
    .description("Export contracts as a Markdown contract card, DBML, ODCS v3.1.0 YAML, or the JSON Schema of meta.activation")
    .addArgument(new Argument("<format>", "card | dbml | odcs | jsonschema").choices(EXPORT_FORMATS))
    .option("--contract <name>", "export only this contract (default: every contract in the project)")
    .option("--out <file>", "write to this file instead of stdout")
    .action(async (format: ExportFormat, opts: ProjectFlags & { contract?: string; out?: string }) => {
      const text = await runExport({ format, projectDir: format === "jsonschema" ? opts.projectDir : resolveProjectDir(opts.projectDir, io.cwd), targetDir: targetPathOf(opts), contract: opts.contract, cwd: io.cwd });
      if (opts.out) {
        const path = resolve(io.cwd, opts.out);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, text);
        io.stderr(`wrote ${path}\n`);
      } else {
        io.stdout(text.endsWith("\n") ? text : `${text}\n`);
      }
      setExit(EXIT.ok);
    });
}
