/**
 * `npm run bench [-- --only NAME[,NAME]]` or `node bench/run.ts NAME [NAME …]` (one benchmark alone, e.g.
 * `node bench/run.ts braze`): runs the benchmarks in order and writes bench/results/<name>.json and
 * bench/results/summary.md (the tables for docs/benchmarks.md). `BENCH_QUICK=1` runs smaller cases for a smoke run.
 * Never part of `npm test`: figures are measured and reported, never asserted on time.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { braze, zendesk } from "./destinations.ts";
import { run as engine } from "./engine.ts";
import { run as manifest } from "./manifest.ts";
import { run as noop } from "./noop.ts";
import { run as planner } from "./planner.ts";
import { run as salesforce } from "./salesforce.ts";
import { run as shards } from "./shards.ts";
import { run as startup } from "./startup.ts";
import { summarize } from "./summary.ts";
import { run as throughput } from "./throughput.ts";
import { QUICK, RESULTS_DIR, benchStarted, log } from "./lib.ts";

const BENCHMARKS: Record<string, () => Promise<Record<string, unknown>>> = { throughput, engine, salesforce, planner, noop, manifest, startup, shards, braze, zendesk };

function selected(): string[] {
  const args = process.argv.slice(2);
  const at = args.findIndex((a) => a === "--only" || a.startsWith("--only="));
  const positional = args.filter((a) => !a.startsWith("-"));
  if (at < 0 && positional.length === 0) return Object.keys(BENCHMARKS);
  const value = at < 0 ? positional.join(",") : args[at]!.includes("=") ? args[at]!.split("=")[1] : args[at + 1];
  const names = (value ?? "").split(",").filter(Boolean);
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (names.length === 0 || unknown.length > 0) {
    console.error(`--only takes one or more of ${Object.keys(BENCHMARKS).join(", ")} (comma separated)${unknown.length ? `; unknown: ${unknown.join(", ")}` : ""}`);
    process.exit(2);
  }
  return names;
}

const names = selected();
const started = Date.now();
log(`running ${names.join(", ")}${QUICK ? " (BENCH_QUICK=1: smaller cases)" : ""}`);
for (const name of names) {
  const at = Date.now();
  benchStarted();
  await BENCHMARKS[name]!();
  log(`${name} done in ${Math.round((Date.now() - at) / 1000)} s`);
}
const minutes = (Date.now() - started) / 60_000;
log(`all done in ${minutes.toFixed(1)} min`);
const table = summarize();
writeFileSync(join(RESULTS_DIR, "summary.md"), table);
console.log(table);
