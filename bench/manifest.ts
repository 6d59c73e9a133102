/**
 * 5. Manifest scale: a synthetic manifest v12 of 5,000 models and 20,000 tests (and run_results v6 of the same
 * invocation), 1 model in 10 carrying an activation contract: parse + gate time and peak RSS, each against reading
 * and `JSON.parse`-ing the same two files (the floor any reader pays), each trial in a fresh process.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { launchReadyContract, writeArtifacts } from "./artifacts.ts";
import type { ManifestInput, ManifestResult } from "./manifest-child.ts";
import { BENCH_DIR, DATA_DIR, QUICK, log, mb, median, round, runChild, writeResult } from "./lib.ts";

export async function run(): Promise<Record<string, unknown>> {
  const models = QUICK ? 500 : 5_000;
  const testsPerModel = 4;
  const contractEvery = 10;
  const reps = 5;
  const { manifestPath, runResultsPath } = writeArtifacts(join(DATA_DIR, `manifest-${models}`), {
    project: "bench",
    models,
    testsPerModel,
    key: "email",
    columns: ["first_name", "last_name", "scored_at", "lifecycle_status", "owner_id"],
    relation: (i) => `"bench"."main"."model_${String(i).padStart(5, "0")}"`,
    contract: (i, name) => (i % contractEvery === 0 ? [launchReadyContract(`${name}_to_hubspot`, "email", { first_name: "firstname", last_name: "lastname" })] : undefined),
  });
  const child = join(BENCH_DIR, "manifest-child.ts");
  const byMode: Record<string, Record<string, unknown>> = {};
  for (const mode of ["json-parse", "parse-and-gate"] as const) {
    const trials: { elapsedMs: number; maxRssMB: number; phases: Record<string, number> }[] = [];
    let last: ManifestResult | undefined;
    for (let rep = 0; rep < reps; rep += 1) {
      const input: ManifestInput = { mode, manifestPath, runResultsPath };
      const { result, maxRssBytes } = await runChild<ManifestResult>(child, input, { timeoutMs: 10 * 60_000 });
      last = result;
      trials.push({ elapsedMs: round(result.elapsedMs, 1), maxRssMB: mb(maxRssBytes), phases: result.phases });
      log(`manifest ${models} ${mode} rep ${rep + 1}: ${Math.round(result.elapsedMs)} ms, max RSS ${mb(maxRssBytes)} MB`);
    }
    const phaseNames = Object.keys(trials[0]?.phases ?? {});
    byMode[mode] = {
      repetitions: reps,
      elapsedMs: median(trials.map((t) => t.elapsedMs)),
      maxRssMB: median(trials.map((t) => t.maxRssMB)),
      phasesMs: Object.fromEntries(phaseNames.map((p) => [p, median(trials.map((t) => t.phases[p] ?? 0))])),
      models: last?.models,
      gatePassed: last?.passed,
      contracts: last?.contracts,
      trials,
    };
  }
  const ref = byMode["json-parse"] as { elapsedMs: number; maxRssMB: number };
  const ours = byMode["parse-and-gate"] as { elapsedMs: number; maxRssMB: number };
  const result = {
    description:
      "Synthetic dbt artifacts of one `dbt build`: manifest v12 (nodes with dbt's fields) and run_results v6, every node passing. parse-and-gate: readManifest + readRunResults (zod), " +
      "checkInvocation, loadContracts, createGate + a verdict for every model, launch readiness for every contract. Reference: read + JSON.parse of the same files. Fresh process per trial.",
    models,
    tests: models * testsPerModel,
    contracts: Math.ceil(models / contractEvery),
    manifestMB: mb(statSync(manifestPath).size),
    runResultsMB: mb(statSync(runResultsPath).size),
    jsonParse: byMode["json-parse"],
    parseAndGate: byMode["parse-and-gate"],
    timeRatioToJsonParse: round(ours.elapsedMs / ref.elapsedMs, 2),
    rssRatioToJsonParse: round(ours.maxRssMB / ref.maxRssMB, 2),
  };
  writeResult("manifest", result);
  return result;
}
