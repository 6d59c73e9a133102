/**
 * Shared helpers for the benchmarks: options (quick mode), medians, machine info, child processes that report their
 * peak RSS, and the results files. Nothing here asserts on time: benchmarks measure and report.
 */
import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { arch, cpus, freemem, loadavg, platform, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, "results");
export const DATA_DIR = join(BENCH_DIR, ".data");
export const QUICK = process.env.BENCH_QUICK === "1";

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

let benchStartedAt = Date.now();

/** Marks the start of one benchmark (bench/run.ts), so its results record how long it took (issue 19 item 7). */
export function benchStarted(): void {
  benchStartedAt = Date.now();
}

export function machine(): Record<string, unknown> {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? "unknown",
    memoryBytes: totalmem(),
    freeMemoryBytesAtStart: freemem(),
    node: process.version,
    platform: `${platform()} ${release()} ${arch()}`,
    date: new Date().toISOString(),
    loadAverageAtEnd: loadavg().map((l) => round(l, 2)),
    quick: QUICK,
    benchSeconds: Math.round((Date.now() - benchStartedAt) / 1000),
  };
}

export function writeResult(name: string, result: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ benchmark: name, machine: machine(), ...result }, null, 2)}\n`);
  return path;
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** What a child reports back: its own figures, plus the process's peak RSS (bytes) read at the end. */
export interface ChildReport<T> {
  result: T;
  maxRssBytes: number;
}

/**
 * Runs `file` (a bench module with a `childMain` handled by `runAsChild`) in a fresh Node process with `input`, and
 * returns its result and peak RSS. A fresh process per case keeps one case's heap out of another's figures.
 * `BENCH_CPU_PROF=<dir>` writes each child's V8 CPU profile there (`node --cpu-prof`), to find where the time goes.
 */
export function runChild<T>(file: string, input: unknown, options: { timeoutMs?: number; nodeHeap?: boolean; execArgv?: string[] } = {}): Promise<ChildReport<T>> {
  return new Promise((resolve, reject) => {
    const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
    // 16 GB lets the naive baselines finish; `nodeHeap`: Node's own default heap limit, as a user's process has (a
    // larger limit lets garbage pile up, which shows in peak RSS).
    const heap = options.nodeHeap ? [] : ["--max-old-space-size=16384"];
    const child = fork(file, [], { execPath: process.execPath, execArgv: [...heap, ...(options.execArgv ?? []), ...profile], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let report: ChildReport<T> | undefined;
    let failure: string | undefined;
    const timer = options.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs) : undefined;
    child.on("message", (message: { report?: ChildReport<T>; error?: string }) => {
      if (message.report) report = message.report;
      if (message.error) failure = message.error;
    });
    child.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (report) resolve(report);
      else reject(new Error(`${file} exited ${signal ?? code}: ${failure ?? "no report"}`));
    });
    child.send({ input });
  });
}

/** The child side of `runChild`: waits for its input, runs `work`, reports result and peak RSS, exits. */
export function runAsChild<I, T>(work: (input: I) => Promise<T>): void {
  process.once("message", (message: { input: I }) => {
    work(message.input).then(
      (result) => {
        const maxRssBytes = process.resourceUsage().maxRSS * 1024;
        process.send!({ report: { result, maxRssBytes } }, () => process.exit(0));
      },
      (error: unknown) => {
        process.send!({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.exit(1));
      },
    );
  });
}

/** Samples this process's RSS and V8 heap while `work` runs (peak values, bytes). */
export async function sampled<T>(work: () => Promise<T>, everyMs = 50): Promise<{ value: T; peakHeapBytes: number; peakRssSampledBytes: number }> {
  let peakHeapBytes = 0;
  let peakRssSampledBytes = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakHeapBytes = Math.max(peakHeapBytes, m.heapUsed + m.external + m.arrayBuffers);
    peakRssSampledBytes = Math.max(peakRssSampledBytes, m.rss);
  };
  const timer = setInterval(sample, everyMs);
  try {
    sample();
    const value = await work();
    sample();
    return { value, peakHeapBytes, peakRssSampledBytes };
  } finally {
    clearInterval(timer);
  }
}

export const MB = 1024 * 1024;

export function mb(bytes: number): number {
  return round(bytes / MB, 1);
}
