/** `dbt-activation export`: one contract (or all) as a Markdown card or runbook, DBML, ODCS YAML, or the contracts' JSON Schema. */
import { contractCard, exportCards } from "./card.ts";
import { contractRunbook, exportRunbooks } from "./runbook.ts";
import { activationJsonSchemaText } from "./jsonschema.ts";
import { exportOdcs } from "./odcs.ts";
import { loadExportInput } from "./source.ts";
import { BadInputError } from "../errors.ts";
import type { CommandLine } from "../alerts/conditions.ts";

import { PER_CONTRACT_FORMATS, type ExportFormat } from "./formats.ts";

export { EXPORT_FORMATS, PER_CONTRACT_FORMATS, type ExportFormat } from "./formats.ts";

export interface ExportOptions {
  format: ExportFormat;
  projectDir?: string | undefined;
  targetDir?: string | undefined;
  contract?: string | undefined;
  cwd?: string | undefined;
  /** runbook: the flags its commands repeat (default: the --project-dir and --target-dir given here). */
  profilesDir?: string | undefined;
  target?: string | undefined;
  ledgerSchema?: string | undefined;
}

function commandLine(options: ExportOptions): CommandLine {
  return { projectDir: options.projectDir ?? ".", targetDir: options.targetDir, profilesDir: options.profilesDir, target: options.target, ledgerSchema: options.ledgerSchema };
}

/** card and runbook, one document per contract, for `--out-dir`. */
export async function runExportPerContract(options: ExportOptions & { format: (typeof PER_CONTRACT_FORMATS)[number] }): Promise<{ contract: string; text: string }[]> {
  if (!options.projectDir) throw new BadInputError(`export ${options.format} needs --project-dir (the dbt project whose contracts to export)`);
  const input = await loadExportInput({ projectDir: options.projectDir, targetDir: options.targetDir, contract: options.contract, cwd: options.cwd });
  return input.contracts.map((c) => ({ contract: c.contract.spec.name, text: options.format === "card" ? contractCard(c) : contractRunbook(c.contract, commandLine(options)) }));
}

export async function runExport(options: ExportOptions): Promise<string> {
  if (options.format === "jsonschema") return activationJsonSchemaText();
  if (!options.projectDir) throw new BadInputError(`export ${options.format} needs --project-dir (the dbt project whose contracts to export)`);
  const input = await loadExportInput({ projectDir: options.projectDir, targetDir: options.targetDir, contract: options.contract, cwd: options.cwd });
  switch (options.format) {
    case "card":
      return exportCards(input.contracts);
    case "runbook":
      return exportRunbooks(input.contracts.map((c) => c.contract), commandLine(options));
    case "dbml": {
      // @dbml/core takes seconds and hundreds of MB to load: only the command that needs it pays for it.
      const { exportDbml } = await import("./dbml.ts");
      return exportDbml(input.contracts);
    }
    case "odcs":
      return exportOdcs(input.contracts, input.project.version ?? "0.0.0");
  }
}
