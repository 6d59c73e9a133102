/**
 * Progress of the rows a sync sends, per contract, on stderr (never stdout: that is the report, JSON or not). On a
 * terminal, a live bar per contract (cli-progress) with rows done of the plan's total, percent, records/s and ETA; in
 * logs (CI, orchestrators), a plain line with the same numbers every interval, through the logger so
 * `--log-format json` makes them JSON; `--quiet` shows nothing.
 */
import { MultiBar, type SingleBar } from "cli-progress";
import type { SendSummary } from "../engine/send.ts";
import type { Log } from "./io.ts";

export const PROGRESS_INTERVAL_ENV = "DBT_ACTIVATION_PROGRESS_INTERVAL_MS";

export interface ProgressNumbers {
  contract: string;
  /** Rows that reached an end (written, failed, or given up as not sent) of the rows the plan will send. */
  done: number;
  total: number;
  percent: number;
  /** Records per second since this contract began sending. */
  rate: number;
  /** Seconds left at that rate, or null before the first row. */
  etaSeconds: number | null;
  failed: number;
  requests: number;
  retries: number;
}

export interface Progress {
  /** A contract begins sending `total` rows (the plan's creates and updates). */
  start(contract: string, total: number): void;
  update(contract: string, summary: SendSummary): void;
  /** Every contract is done: the live display gives the terminal back. */
  stop(): void;
}

/** The numbers one line or bar shows, from the send summary so far. */
export function progressNumbers(contract: string, total: number, s: SendSummary, elapsedMs: number): ProgressNumbers {
  const done = Math.min(total, s.created + s.updated + s.failed + s.notSent);
  const rate = elapsedMs > 0 ? (1000 * (s.created + s.updated + s.failed)) / elapsedMs : 0;
  return {
    contract,
    done,
    total,
    percent: total > 0 ? Math.floor((100 * done) / total) : 100,
    rate: Math.round(rate * 10) / 10,
    etaSeconds: rate > 0 ? Math.ceil((total - done) / rate) : null,
    failed: s.failed,
    requests: s.requests,
    retries: s.retries,
  };
}

function duration(seconds: number | null): string {
  if (seconds === null) return "?";
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(seconds % 60).padStart(2, "0")}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export function progressLine(n: ProgressNumbers): string {
  return `${n.contract}: ${n.done}/${n.total} rows (${n.percent}%), ${n.rate} rec/s, ETA ${duration(n.etaSeconds)}, ${n.failed} failed, ${n.requests} requests${n.retries ? `, ${n.retries} retries` : ""}`;
}

interface Running {
  total: number;
  started: number;
  last?: SendSummary;
  bar?: SingleBar;
  printed: boolean;
}

export interface ProgressOptions {
  /** none: --quiet; bar: a terminal; lines: anything else. */
  mode: "none" | "bar" | "lines";
  log: Log;
  /** The terminal for the bars (stderr). */
  stream?: NodeJS.WritableStream;
  /** Lines mode: at most one line per contract this often (default 5 s). */
  everyMs?: number;
  now?: () => number;
}

export function createProgress(options: ProgressOptions): Progress {
  const now = options.now ?? Date.now;
  const everyMs = options.everyMs ?? 5_000;
  const running = new Map<string, Running>();
  // The first answer prints at once: a long run shows its pace early.
  let lastLine = Number.NEGATIVE_INFINITY;
  let bars: MultiBar | undefined;
  if (options.mode === "none") return { start: () => undefined, update: () => undefined, stop: () => undefined };

  const payload = (n: ProgressNumbers): Record<string, unknown> => ({ contract: n.contract, rate: n.rate, eta: duration(n.etaSeconds), failed: n.failed });
  const line = (run: Running, contract: string, level: "info" = "info"): void => {
    if (!run.last) return;
    const n = progressNumbers(contract, run.total, run.last, now() - run.started);
    run.printed = true;
    options.log(progressLine(n), { level, event: "progress", ...n });
  };

  return {
    start(contract, total) {
      const run: Running = { total, started: now(), printed: false };
      running.set(contract, run);
      if (options.mode === "bar") {
        bars ??= new MultiBar({
          stream: options.stream,
          format: "{contract} [{bar}] {percentage}% | {value}/{total} rows | {rate} rec/s | ETA {eta} | {failed} failed",
          hideCursor: true,
          clearOnComplete: false,
          fps: 5,
        });
        run.bar = bars.create(total, 0, payload(progressNumbers(contract, total, { created: 0, updated: 0, failed: 0, notSent: 0, failures: [], requests: 0, retries: 0, throttled: 0, bulk: false }, 0)));
      }
    },
    update(contract, summary) {
      const run = running.get(contract);
      if (!run) return;
      run.last = summary;
      if (run.bar) {
        const n = progressNumbers(contract, run.total, summary, now() - run.started);
        run.bar.update(n.done, payload(n));
        return;
      }
      if (now() - lastLine < everyMs) return;
      lastLine = now();
      line(run, contract);
    },
    stop() {
      bars?.stop();
      bars = undefined;
      // In logs, a contract that showed progress also shows where it ended.
      for (const [contract, run] of running) if (!run.bar && run.printed) line(run, contract);
      running.clear();
    },
  };
}
