import { Argument, type Command } from "commander";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { BadInputError } from "../../errors.ts";
import { EXPORT_FORMATS, PER_CONTRACT_FORMATS, type ExportFormat } from "../../export/formats.ts";
import { EXIT } from "../../exit-codes.ts";
import { resolveProjectDir } from "../../dbt/project.ts";
import { projectOptions, targetPathOf, type ProjectFlags } from "../flags.ts";
import type { CommandContext } from "../io.ts";

export function registerExport(program: Command, { io, setExit, setJson, log }: CommandContext): void {
  projectOptions(program.command("export"), "manifest.json and catalog.json, used for column types when present")
    .description("Export contracts as a Markdown contract card or on-call runbook, DBML, ODCS v3.1.0 YAML, or the JSON Schema of meta.activation")
    .addArgument(new Argument("<format>", "card | runbook | dbml | odcs | jsonschema").choices(EXPORT_FORMATS))
    .option("--contract <name>", "export only this contract (default: every contract in the project)")
    .option("--out <file>", "write to this file instead of stdout")
    .option("--out-dir <dir>", "card, runbook: one Markdown file per contract, <dir>/<contract>.md")
    .option("--profiles-dir <dir>", "runbook: repeated in its commands")
    .option("--target <name>", "runbook: repeated in its commands")
    .option("--ledger-schema <schema>", "runbook: repeated in its commands and named for its queries")
    .option("--json", "print {format, documents: [{contract, text}]} or, with --out / --out-dir, {format, written: [paths]}")
    .action(async (format: ExportFormat, opts: ProjectFlags & { contract?: string; out?: string; outDir?: string; profilesDir?: string; target?: string; ledgerSchema?: string; json?: boolean }) => {
      setJson(Boolean(opts.json));
      const { runExport, runExportPerContract } = await import("../../export/export.ts");
      const printJson = (result: object): void => io.stdout(`${JSON.stringify({ format, ...result, exitCode: EXIT.ok }, null, 2)}\n`);
      const options = { format, projectDir: format === "jsonschema" ? opts.projectDir : resolveProjectDir(opts.projectDir, io.cwd), targetDir: targetPathOf(opts), contract: opts.contract, cwd: io.cwd, profilesDir: opts.profilesDir, target: opts.target, ledgerSchema: opts.ledgerSchema };
      if (opts.outDir) {
        if (opts.out) throw new BadInputError("give --out or --out-dir, not both");
        if (format !== "card" && format !== "runbook") throw new BadInputError(`--out-dir writes one file per contract: ${PER_CONTRACT_FORMATS.join(" or ")} only`);
        const dir = resolve(io.cwd, opts.outDir);
        await mkdir(dir, { recursive: true });
        const written: string[] = [];
        for (const { contract, text } of await runExportPerContract({ ...options, format })) {
          const path = join(dir, `${contract}.md`);
          await writeFile(path, text);
          written.push(path);
          log(`wrote ${path}`, { path, contract });
        }
        if (opts.json) printJson({ written });
        setExit(EXIT.ok);
        return;
      }
      if (opts.json && !opts.out && (format === "card" || format === "runbook")) {
        // Per contract, so a caller need not split the Markdown.
        printJson({ documents: (await runExportPerContract({ ...options, format })).map(({ contract, text }) => ({ contract, text })) });
        setExit(EXIT.ok);
        return;
      }
      const text = await runExport(options);
      if (opts.out) {
        const path = resolve(io.cwd, opts.out);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, text);
        log(`wrote ${path}`, { path });
        if (opts.json) printJson({ written: [path] });
      } else if (opts.json) {
        printJson({ documents: [{ contract: opts.contract ?? null, text }] });
      } else {
        io.stdout(text.endsWith("\n") ? text : `${text}\n`);
      }
      setExit(EXIT.ok);
    });
}
