/** What validate reports: problems located at file:line:column, and a verdict per contract. */

export type Severity = "error" | "warning";

/** yaml: the file does not parse; schema: the contract breaks the zod schema; column: a referenced column the model
 * does not have; status: the contract's status is not allowed (launch while not launch-ready, caveats without limits);
 * unsupported: the contract asks for something no run does yet (alerts), or sits on a node dbt cannot sync. */
export type ProblemKind = "yaml" | "schema" | "column" | "status" | "unsupported";

export interface Problem {
  severity: Severity;
  kind: ProblemKind;
  /** Relative to the project directory, `/`-separated. */
  file: string;
  line: number;
  column: number;
  /** Dotted field path inside the contract (`destination.match.field`), empty for file-level problems. */
  path: string;
  message: string;
  model?: string | undefined;
  contract?: string | undefined;
}

export interface ContractVerdict {
  name: string;
  model: string;
  file: string;
  line: number;
  status: "launch" | "caveats" | "paused";
  launchReady: boolean;
  reasons: string[];
  /** Whether the contract has no error of its own (schema, column or status). */
  valid: boolean;
}

export interface ValidateReport {
  projectDir: string;
  /** Which artifacts the checks used. */
  manifest: string | undefined;
  catalog: string | undefined;
  contracts: ContractVerdict[];
  errors: Problem[];
  warnings: Problem[];
  exitCode: number;
}

/** `file:line:column: model m, contract c, field f: message`, the form editors and CI annotations understand. */
export function formatProblem(p: Problem): string {
  const where = [p.model && `model ${p.model}`, p.contract && `contract ${p.contract}`, p.path && `field ${p.path}`].filter(Boolean).join(", ");
  const severity = p.severity === "warning" ? "warning: " : "";
  return `${p.file}:${p.line}:${p.column}: ${severity}${where ? `${where}: ` : ""}${p.message}`;
}
