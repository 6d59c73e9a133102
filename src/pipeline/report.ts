/**
 * The HTML run report (src/report/html.ts) from what a sync just did (its report and the samples taken while it sent)
 * or, for `report`, from the run log alone: a past run, or the last N runs per contract.
 */
import { HUBSPOT_DOCUMENTED_LIMITS } from "../destinations/hubspot/limits.ts";
import { SALESFORCE_DOCUMENTED_LIMITS } from "../destinations/salesforce/limits.ts";
import type { DestinationLimits } from "../destinations/types.ts";
import { failureReasons, runHistory, type HistoryRun } from "../ledger/history.ts";
import { renderHtml, type ContractSection, type SendSample } from "../report/html.ts";
import type { ContractOutcome, SyncReport } from "../report/types.ts";
import { openLedgerSession, type SessionOptions } from "./session.ts";

const DOCUMENTED: Record<string, DestinationLimits> = { hubspot: HUBSPOT_DOCUMENTED_LIMITS, salesforce: SALESFORCE_DOCUMENTED_LIMITS };

/** The destination's documented request limit per second (HubSpot: 100 per 10 s), from "hubspot contacts". */
function limitPerSecond(destination: string | undefined): number | undefined {
  const limits = DOCUMENTED[(destination ?? "").split(" ")[0] ?? ""];
  return limits?.requestsPerWindow ? (limits.requestsPerWindow * 1000) / limits.windowMs : undefined;
}

function fromOutcome(o: ContractOutcome, samples: SendSample[], history: HistoryRun[]): ContractSection {
  const base = { contract: o.contract, model: o.model, destination: o.destination, status: o.status, series: samples, limitPerSecond: limitPerSecond(o.destination), history, failures: [], notes: [] as string[] };
  switch (o.status) {
    case "skipped":
      return { ...base, gate: { passed: o.gate ? false : null, reasons: o.reasons }, classes: {} };
    case "busy":
    case "failed":
      return { ...base, gate: { passed: true, reasons: [] }, classes: {}, notes: o.reasons };
    case "stopped":
      return { ...base, gate: { passed: true, reasons: [] }, classes: { ...o.plan }, notes: o.reasons };
    case "planned":
      return { ...base, gate: { passed: true, reasons: [] }, classes: { ...o.plan }, notes: o.wouldStop.map((w) => `would stop: ${w}`) };
    case "synced": {
      const notes = [...(o.stopped ? [`stopped early: ${o.stopped}`] : []), ...(o.paused ? [`paused by its pause rule: ${o.paused}`] : []), ...(o.overridden ?? []).map((x) => `overridden: ${x}`)];
      const throttled = samples.at(-1)?.throttled ?? 0;
      return { ...base, gate: { passed: true, reasons: [] }, classes: { ...o.counts }, totals: { requests: o.requests, retries: o.retries, throttled, durationMs: o.durationMs }, notes };
    }
  }
}

function fromRun(run: HistoryRun, history: HistoryRun[]): ContractSection {
  return {
    contract: run.contract,
    status: run.status,
    gate: { passed: null, reasons: [] },
    classes: { ...run.counts },
    series: [],
    history,
    failures: [],
    notes: [`run ${run.runId}, started ${run.startedAt?.toISOString() ?? "?"}`, ...(run.stopReason ? [run.stopReason] : [])],
  };
}

export interface HtmlReportOptions extends SessionOptions {
  /** The sync just run, with the samples taken while each contract sent. */
  sync?: { report: SyncReport; samples: Map<string, SendSample[]> };
  /** `report`: only these contracts; one run; or the last N runs per contract (default 20). */
  contracts?: string[];
  runId?: string | undefined;
  last?: number;
}

export async function buildHtmlReport(options: HtmlReportOptions): Promise<{ html: string; contracts: number }> {
  const session = await openLedgerSession(options);
  try {
    const last = options.last ?? 20;
    const names = options.sync ? options.sync.report.contracts.map((c) => c.contract) : options.contracts;
    const history = await runHistory(session.warehouse, session.tables, { contracts: names, limit: last });
    const historyOf = (contract: string): HistoryRun[] => history.filter((h) => h.contract === contract);
    let sections: ContractSection[];
    if (options.sync) {
      const { report, samples } = options.sync;
      sections = report.contracts.map((o) => fromOutcome(o, samples.get(o.contract) ?? [], historyOf(o.contract)));
    } else if (options.runId) {
      const [run] = await runHistory(session.warehouse, session.tables, { runId: options.runId, limit: 1 });
      if (!run) return { html: renderHtml({ title: "dbt-activation run report", subtitle: `run ${options.runId}: not in the run log`, generatedAt: new Date(), contracts: [] }), contracts: 0 };
      sections = [fromRun(run, historyOf(run.contract))];
    } else {
      const latest = [...new Set(history.map((h) => h.contract))].map((c) => historyOf(c)[0]!);
      sections = latest.map((run) => fromRun(run, historyOf(run.contract)));
    }
    // Failures by reason from the dead letters of each contract's run shown (complete counts, a few samples).
    for (const section of sections) {
      const runId = options.sync ? (options.sync.report.contracts.find((c) => c.contract === section.contract) as { runId?: string } | undefined)?.runId : (options.runId ?? section.history[0]?.runId);
      if (runId) section.failures = await failureReasons(session.warehouse, session.tables, runId);
    }
    const subtitle = options.sync
      ? `dbt ${options.sync.report.command} invocation ${options.sync.report.invocationId}, exit code ${options.sync.report.exitCode}`
      : options.runId
        ? `run ${options.runId}`
        : `the last ${last} runs per contract`;
    return { html: renderHtml({ title: "dbt-activation run report", subtitle, generatedAt: new Date(), contracts: sections }), contracts: sections.length };
  } finally {
    await session.close();
  }
}
