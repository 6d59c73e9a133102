/** `dbt-activation export`: one contract (or all) as a Markdown card, DBML, ODCS YAML, or the contracts' JSON Schema. */
import { exportCards } from "./card.ts";
import { activationJsonSchemaText } from "./jsonschema.ts";
import { exportOdcs } from "./odcs.ts";
import { loadExportInput } from "./source.ts";
import { BadInputError } from "../errors.ts";

export const EXPORT_FORMATS = ["card", "dbml", "odcs", "jsonschema"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  projectDir?: string | undefined;
  targetDir?: string | undefined;
  contract?: string | undefined;
  cwd?: string | undefined;
}

export async function runExport(options: ExportOptions): Promise<string> {
  if (options.format === "jsonschema") return activationJsonSchemaText();
  if (!options.projectDir) throw new BadInputError(`export ${options.format} needs --project-dir (the dbt project whose contracts to export)`);
  const input = await loadExportInput({ projectDir: options.projectDir, targetDir: options.targetDir, contract: options.contract, cwd: options.cwd });
  switch (options.format) {
    case "card":
      return exportCards(input.contracts);
    case "dbml": {
      // @dbml/core takes seconds and hundreds of MB to load: only the command that needs it pays for it.
      const { exportDbml } = await import("./dbml.ts");
      return exportDbml(input.contracts);
    }
    case "odcs":
      return exportOdcs(input.contracts, input.project.version ?? "0.0.0");
  }
}
