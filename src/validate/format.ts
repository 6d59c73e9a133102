/** The validate report as text (problems first, in file order, then a verdict per contract) or as JSON. */
import { formatProblem, type Problem, type ValidateReport } from "./types.ts";

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function formatValidateText(report: ValidateReport): string {
  const lines: string[] = [];
  for (const problem of [...report.errors, ...report.warnings].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column)) {
    lines.push(formatProblem(problem));
  }
  if (lines.length > 0) lines.push("");
  const width = Math.max(0, ...report.contracts.map((c) => c.name.length));
  for (const c of report.contracts) {
    const verdict = c.launchReady ? "LAUNCH-READY" : "NOT READY   ";
    lines.push(`${verdict}  ${c.name.padEnd(width)}  status ${c.status.padEnd(7)}  model ${c.model} (${c.file}:${c.line})${c.valid ? "" : "  [invalid]"}`);
    for (const reason of c.reasons) lines.push(`${" ".repeat(14)}- ${reason}`);
  }
  if (report.contracts.length > 0) lines.push("");
  const ready = report.contracts.filter((c) => c.launchReady).length;
  const checked = [report.manifest ? "manifest.json" : undefined, report.catalog ? "catalog.json" : undefined].filter(Boolean);
  lines.push(
    `${plural(report.contracts.length, "contract")} (${ready} launch-ready), ${plural(report.errors.length, "error")}, ${plural(report.warnings.length, "warning")}` +
      `; columns checked against ${checked.length > 0 ? checked.join(" and ") : "nothing (no manifest.json in the target dir)"}; exit code ${report.exitCode}`,
  );
  return lines.join("\n");
}

function problemJson(p: Problem) {
  return { file: p.file, line: p.line, column: p.column, path: p.path, message: p.message, model: p.model ?? null, contract: p.contract ?? null, kind: p.kind };
}

export function validateJson(report: ValidateReport): string {
  return JSON.stringify(
    {
      contracts: report.contracts.map((c) => ({ name: c.name, model: c.model, file: c.file, line: c.line, status: c.status, launchReady: c.launchReady, reasons: c.reasons, valid: c.valid })),
      errors: report.errors.map(problemJson),
      warnings: report.warnings.map(problemJson),
      manifest: report.manifest ?? null,
      catalog: report.catalog ?? null,
      exitCode: report.exitCode,
    },
    null,
    2,
  );
}
