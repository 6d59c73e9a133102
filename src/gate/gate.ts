/**
 * The gate: a contract is synced only when dbt proved its model in the invocation the artifacts describe.
 *
 * Rule: manifest and run_results come from one invocation of an accepted command (`build`, or `test`); the model
 * built with status `success` (where the command ran models); every test on it (attached in YAML, singular tests that
 * ref it, and unit tests of it) has status `pass` (or `warn`, where the contract's `gates.allow_warn` says so); and at
 * least one such test exists. A missing result is "not
 * verified", never a pass. A failing test does not undo the model dbt already built, so the gate must check tests itself.
 */
import { BadInputError } from "../errors.ts";
import type { Artifacts, Manifest, RunResult, RunResults } from "../dbt/artifacts.ts";

/** dbt commands whose run_results can prove a model: `build` runs models and their tests, `test` only the tests. */
export const ACCEPTED_COMMANDS = ["build", "test"] as const;

export interface GateCheck {
  uniqueId: string;
  kind: "model" | "test" | "unit_test";
  name: string;
  /** dbt's status in this invocation, or `missing` when the node did not run in it. */
  status: string;
  failures?: number | null;
  message?: string | null;
  /** The generic test it instantiates (`activation.change_limit`, `not_null`), when it is one. */
  generic?: string | undefined;
}

export interface GateVerdict {
  model: string;
  passed: boolean;
  /** Why the gate held the model back, one line per problem, naming the node and its status. */
  reasons: string[];
  checks: GateCheck[];
  /** Failing tests the run's overrides let through (see `GateOptions.overridable`), described like reasons. */
  overridden: string[];
}

/** What the contract being gated says about test results (its rules live in src/contract/rules.ts). */
export interface GateOptions {
  /** Whether a test status counts as passed; default: only `pass`. */
  passes?: (status: string) => boolean;
  /** A failing test the run may pass anyway (the syncer decides it itself and records the override). */
  overridable?: (check: GateCheck) => boolean;
}

/** Refuses artifacts that cannot prove anything: two different invocations, or a command that runs no tests. */
export function checkInvocation({ manifest, runResults, manifestPath, runResultsPath }: Artifacts): void {
  const manifestId = manifest.metadata.invocation_id;
  const resultsId = runResults.metadata.invocation_id;
  if (!manifestId || !resultsId || manifestId !== resultsId) {
    throw new BadInputError(
      `manifest.json and run_results.json come from different dbt invocations (${manifestId ?? "none"} vs ${resultsId ?? "none"}): ` +
        "run the syncer on the target directory of a single `dbt build`",
      { where: `${manifestPath}, ${runResultsPath}` },
    );
  }
  const which = runResults.args.which;
  if (!which || !(ACCEPTED_COMMANDS as readonly string[]).includes(which)) {
    throw new BadInputError(
      `run_results.json was written by \`dbt ${which ?? "(unknown command)"}\`, which does not run the models' tests; ` +
        `the gate accepts ${ACCEPTED_COMMANDS.map((c) => `\`dbt ${c}\``).join(" or ")}`,
      { where: runResultsPath },
    );
  }
  checkRowsProof({ manifest, runResults, manifestPath, runResultsPath });
}

/**
 * Refuses an invocation whose results, passed or not, say nothing about the rows a sync would read:
 * - `dbt build --empty` (`args.empty`): every ref and source was read as zero rows, so tests passed on empty tables;
 * - `dbt build --sample` (`args.sample`): refs read a time window of their inputs, not the rows a sync reads;
 * - two or more results for one node: which of them proved it cannot be told, so none does.
 */
export function checkRowsProof({ runResults, runResultsPath }: Artifacts): void {
  const { args } = runResults;
  if (args.empty === true) {
    throw new BadInputError(
      `run_results.json comes from \`dbt ${args.which ?? "build"} --empty\`: every model was built from zero input rows, so its tests prove nothing about the rows; ` +
        "run the syncer after a build without --empty",
      { where: runResultsPath },
    );
  }
  if (args.sample !== undefined && args.sample !== null && args.sample !== false && args.sample !== "") {
    throw new BadInputError(
      `run_results.json comes from \`dbt ${args.which ?? "build"} --sample\` (${JSON.stringify(args.sample)}): the models read a sample of their inputs, so its tests prove nothing about the full rows; ` +
        "run the syncer after a build without --sample",
      { where: runResultsPath },
    );
  }
  const seen = new Map<string, number>();
  for (const result of runResults.results) seen.set(result.unique_id, (seen.get(result.unique_id) ?? 0) + 1);
  const duplicated = [...seen].filter(([, n]) => n > 1);
  if (duplicated.length > 0) {
    throw new BadInputError(`run_results.json holds more than one result for ${duplicated.length} node${duplicated.length === 1 ? "" : "s"}: which one proved it cannot be told`, {
      where: runResultsPath,
      details: duplicated.slice(0, 10).map(([id, n]) => `${id}: ${n} results`),
    });
  }
}

/** Why a model that was not built by this invocation proves nothing (Fusion's reuse, `--defer`), or undefined. */
function notBuiltHere(check: GateCheck, node: Manifest["nodes"][string] | undefined): string | undefined {
  if (check.kind !== "model") return undefined;
  if (check.status === "reused") {
    return `model ${check.name}: reused from an earlier run (state-aware orchestration), not built by this invocation; proven only when the syncer gated the run that built its rows`;
  }
  const deferred = node?.defer_relation;
  if (check.status === "missing" && deferred) {
    const relation = deferred.relation_name ?? [deferred.schema, deferred.alias].filter(Boolean).join(".");
    return `model ${check.name}: not built by this invocation (deferred to ${relation || "another environment"}, whose rows this invocation did not test)`;
  }
  return undefined;
}

function describe(check: GateCheck): string {
  const label = check.kind === "model" ? `model ${check.name}` : `${check.kind === "unit_test" ? "unit test" : "test"} ${check.name}`;
  if (check.status === "missing") return `${label}: no result in this invocation (not verified)`;
  if (check.status === "skipped" && check.kind === "model") return `${label}: skipped (dbt skipped it after an upstream failure)`;
  const failures = check.failures ? ` (${check.failures} failing row${check.failures === 1 ? "" : "s"})` : "";
  const message = check.status === "error" && check.message ? `: ${check.message.split("\n")[0]}` : "";
  return `${label}: ${check.status}${failures}${message}`;
}

export interface Gate {
  verdictFor(modelId: string, options?: GateOptions): GateVerdict;
}

/** Indexes tests by the model they prove once, so gating many contracts on a large manifest stays linear. */
export function createGate(manifest: Manifest, runResults: RunResults): Gate {
  const results = new Map<string, RunResult>(runResults.results.map((r) => [r.unique_id, r]));
  const testsByModel = new Map<string, GateCheck[]>();
  const add = (modelId: string, check: GateCheck): void => {
    const list = testsByModel.get(modelId) ?? [];
    list.push(check);
    testsByModel.set(modelId, list);
  };
  const checkOf = (uniqueId: string, kind: GateCheck["kind"], name: string, generic?: string): GateCheck => {
    const result = results.get(uniqueId);
    return { uniqueId, kind, name, status: result?.status ?? "missing", failures: result?.failures, message: result?.message, generic };
  };

  for (const node of Object.values(manifest.nodes)) {
    if (node.resource_type !== "test") continue;
    // A YAML test proves the model it is attached to; a singular test (no attachment) proves every model it refs.
    const targets = node.attached_node ? [node.attached_node] : (node.depends_on?.nodes ?? []);
    const meta = node.test_metadata as { name?: unknown; namespace?: unknown } | undefined;
    const generic = typeof meta?.name === "string" ? (typeof meta.namespace === "string" ? `${meta.namespace}.${meta.name}` : meta.name) : undefined;
    for (const target of targets) add(target, checkOf(node.unique_id, "test", node.name, generic));
  }
  for (const unit of Object.values(manifest.unit_tests ?? {})) {
    for (const target of unit.depends_on?.nodes ?? []) {
      if (target.startsWith("model.")) add(target, checkOf(unit.unique_id, "unit_test", unit.name));
    }
  }

  const which = runResults.args.which;
  return {
    verdictFor(modelId: string, options: GateOptions = {}): GateVerdict {
      const passes = options.passes ?? ((status: string) => status === "pass");
      const overridden: string[] = [];
      const node = manifest.nodes[modelId];
      const checks: GateCheck[] = [];
      const reasons: string[] = [];
      const modelCheck = checkOf(modelId, "model", node?.name ?? modelId);
      // `dbt test` does not run models, so there the model's own result may be absent; when present it must be success.
      if (which === "build" || modelCheck.status !== "missing") {
        checks.push(modelCheck);
        if (modelCheck.status !== "success") reasons.push(notBuiltHere(modelCheck, node) ?? describe(modelCheck));
      }
      const tests = testsByModel.get(modelId) ?? [];
      checks.push(...tests);
      if (tests.length === 0) {
        reasons.push(`model ${node?.name ?? modelId} has no tests: nothing in this invocation proves it`);
      } else if (which === "test" && tests.every((t) => t.status === "missing")) {
        reasons.push(`none of the ${tests.length} tests on model ${node?.name ?? modelId} ran in this \`dbt test\` invocation (not verified)`);
      } else {
        const skipped = tests.filter((t) => t.status === "skipped");
        for (const test of tests) {
          if (passes(test.status) || test.status === "skipped") continue;
          if (test.status !== "missing" && options.overridable?.(test)) overridden.push(describe(test));
          else reasons.push(describe(test));
        }
        // dbt skips every test of a model it did not build: one line says so instead of one per test.
        if (skipped.length === 1) reasons.push(describe(skipped[0]!));
        if (skipped.length > 1) reasons.push(`${skipped.length} tests on model ${node?.name ?? modelId}: skipped`);
      }
      return { model: modelId, passed: reasons.length === 0, reasons, checks, overridden };
    },
  };
}

/**
 * Whether a verdict failed only because a model was reused from an earlier run (dbt Fusion's state-aware
 * orchestration: status `reused`, its tests then `skipped` or absent): nothing that ran here failed, errored or
 * warned. Such a contract is proven only when the syncer can show it gated the run that built its rows.
 */
export function reusedOnly(verdict: GateVerdict): boolean {
  const reused = verdict.checks.some((c) => c.kind === "model" && c.status === "reused");
  return !verdict.passed && reused && verdict.checks.every((c) => ["success", "pass", "reused", "skipped", "missing"].includes(c.status));
}
