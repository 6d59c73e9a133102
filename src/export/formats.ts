/** The formats `export` writes: apart from the exporters, so the command line lists them without loading them. */
export const EXPORT_FORMATS = ["card", "runbook", "dbml", "odcs", "jsonschema"] as const;
/** Formats written one Markdown file per contract with --out-dir. */
export const PER_CONTRACT_FORMATS = ["card", "runbook"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
