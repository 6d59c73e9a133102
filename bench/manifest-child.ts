/**
 * One manifest-scale case in its own process: either the reference (read both artifacts and JSON.parse them, nothing
 * else) or our path (readManifest + readRunResults with their schemas, checkInvocation, loadContracts, createGate,
 * a verdict for every model, and launch readiness for every contract as `sync` checks it).
 */
import { readFile } from "node:fs/promises";
import { loadContracts } from "../src/contract/load.ts";
import { launchReadiness } from "../src/contract/readiness.ts";
import { readManifest, readRunResults } from "../src/dbt/artifacts.ts";
import { checkInvocation, createGate } from "../src/gate/gate.ts";
import { runAsChild } from "./lib.ts";

export interface ManifestInput {
  mode: "json-parse" | "parse-and-gate";
  manifestPath: string;
  runResultsPath: string;
}

export interface ManifestResult {
  elapsedMs: number;
  phases: Record<string, number>;
  models: number;
  passed: number;
  contracts: number;
}

runAsChild<ManifestInput, ManifestResult>(async (input) => {
  const phases: Record<string, number> = {};
  let last = performance.now();
  const started = last;
  const phase = (name: string): void => {
    const now = performance.now();
    phases[name] = Math.round((now - last) * 10) / 10;
    last = now;
  };
  if (input.mode === "json-parse") {
    const [m, r] = await Promise.all([readFile(input.manifestPath, "utf8"), readFile(input.runResultsPath, "utf8")]);
    const manifest = JSON.parse(m) as { nodes: Record<string, { resource_type: string }> };
    JSON.parse(r);
    phase("read + JSON.parse");
    const models = Object.values(manifest.nodes).filter((n) => n.resource_type === "model").length;
    return { elapsedMs: performance.now() - started, phases, models, passed: 0, contracts: 0 };
  }
  const [manifest, runResults] = await Promise.all([readManifest(input.manifestPath), readRunResults(input.runResultsPath)]);
  phase("read + parse (schemas)");
  checkInvocation({ manifest, runResults, manifestPath: input.manifestPath, runResultsPath: input.runResultsPath });
  const contracts = loadContracts(manifest);
  phase("contracts");
  const gate = createGate(manifest, runResults);
  const models = Object.values(manifest.nodes).filter((n) => n.resource_type === "model");
  let passed = 0;
  for (const model of models) if (gate.verdictFor(model.unique_id).passed) passed += 1;
  phase("gate (every model)");
  const ready = contracts.filter((c) => launchReadiness(c, manifest).ready).length;
  phase("launch readiness (every contract)");
  if (ready !== contracts.length) throw new Error(`${contracts.length - ready} contracts not launch-ready`);
  return { elapsedMs: performance.now() - started, phases, models: models.length, passed, contracts: contracts.length };
});
