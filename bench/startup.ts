/**
 * 6. Start-up: `--version` and `validate` on examples/acme_saas as whole processes, each against its floor run in
 * turn with it (A B A B …, one warm-up pair first): `node -e 0` for `--version`; for `validate`, `node -e 0` plus
 * the time to read the project (bench/startup-floor.ts: read and parse dbt_project.yml and every schema YAML). Wall
 * and CPU time and peak RSS per process from GNU time (`/usr/bin/time`), medians, and the ratio pair by pair (so a
 * drift of the machine's speed hits both sides). Goals (issue 19): within 1.5x of the floor, under 120 MB.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH_DIR, QUICK, log, median, round, writeResult } from "./lib.ts";

const REPO = join(BENCH_DIR, "..");
const EXAMPLE = join(REPO, "examples", "acme_saas");
const TIME = "/usr/bin/time";

interface Sample {
  wallMs: number;
  cpuMs: number;
  maxRssMB: number;
  exitCode: number;
}

/** One run of `args` under GNU time: its wall and CPU time and peak RSS as the kernel accounted them. */
function timed(args: string[], cwd: string): Sample {
  const dir = mkdtempSync(join(tmpdir(), "bench-startup-"));
  const out = join(dir, "time.txt");
  try {
    const run = spawnSync(TIME, ["-f", "%e %U %S %M", "-o", out, process.execPath, ...args], { cwd, stdio: "ignore" });
    const [wall, user, sys, rssKb] = readFileSync(out, "utf8").trim().split("\n").at(-1)!.split(" ").map(Number);
    return { wallMs: wall! * 1000, cpuMs: (user! + sys!) * 1000, maxRssMB: round(rssKb! / 1024, 1), exitCode: run.status ?? -1 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The published entry (bin → dist) when it is built, else the source (Node strips the types: slower to start). */
function cliEntry(): { args: string[]; entry: string } {
  const built = existsSync(join(REPO, "dist", "src", "cli", "main.js"));
  return built ? { args: [join(REPO, "bin", "dbt-activation.js")], entry: "bin/dbt-activation.js (dist, as published)" } : { args: [join(REPO, "src", "cli", "run.ts")], entry: "src/cli/run.ts (source: run `npm run build` first to time the published dist)" };
}

function pair(name: string, ours: string[], floor: string[], cwd: string, runs: number): Record<string, unknown> {
  timed(ours, cwd);
  timed(floor, cwd); // warm-up pair: file cache, not counted
  const a: Sample[] = [];
  const b: Sample[] = [];
  for (let i = 0; i < runs; i += 1) {
    a.push(timed(ours, cwd));
    b.push(timed(floor, cwd));
  }
  const ratio = (f: (s: Sample) => number): number => round(median(a.map((s, i) => f(s) / f(b[i]!))), 2);
  const summary = (s: Sample[]) => ({ wallMs: round(median(s.map((x) => x.wallMs)), 0), cpuMs: round(median(s.map((x) => x.cpuMs)), 0), maxRssMB: median(s.map((x) => x.maxRssMB)), exitCodes: [...new Set(s.map((x) => x.exitCode))] });
  const result = { ours: summary(a), floor: summary(b), wallRatio: ratio((s) => s.wallMs), cpuRatio: ratio((s) => s.cpuMs), runs };
  log(`startup ${name}: ${result.ours.wallMs} ms vs floor ${result.floor.wallMs} ms (x${result.wallRatio} wall, x${result.cpuRatio} CPU), ${result.ours.maxRssMB} MB`);
  return result;
}

export async function run(): Promise<Record<string, unknown>> {
  execFileSync(TIME, ["-f", "%e", "true"], { stdio: "ignore" }); // GNU time is needed: fail early and clearly
  const runs = QUICK ? 3 : 9;
  const { args, entry } = cliEntry();
  const empty = ["-e", "0"];
  const version = pair("--version", [...args, "--version"], empty, REPO, runs);
  const validate = pair("validate", [...args, "validate"], [join(BENCH_DIR, "startup-floor.ts"), EXAMPLE], EXAMPLE, runs);
  const goal = (r: Record<string, unknown>) => {
    const x = r as { wallRatio: number; ours: { maxRssMB: number } };
    return { within1_5x: x.wallRatio <= 1.5, under120MB: x.ours.maxRssMB < 120 };
  };
  const result = {
    description:
      "Whole processes, A B A B after one warm-up pair, medians; ratio = ours ÷ floor pair by pair. --version against `node -e 0`; validate (examples/acme_saas, no manifest) " +
      "against `node bench/startup-floor.ts` (node start + reading and parsing the project's YAML). Peak RSS: the kernel's max RSS of the process (GNU time).",
    entry,
    version: { ...version, goals: goal(version) },
    validate: { ...validate, goals: goal(validate) },
  };
  writeResult("startup", result);
  return result;
}
