/**
 * One Salesforce run in its own process: N rows through our engine and jsforce to the Salesforce emulator, forced
 * onto sObject Collections (threshold above N) or Bulk API 2.0 (threshold 1), with the mapping preflight first.
 */
import type { Contract } from "../src/contract/load.ts";
import { openDestination } from "../src/pipeline/destination.ts";
import type { DestinationRecord } from "../src/destinations/types.ts";
import { retrying } from "../src/engine/retry.ts";
import { sendRecords } from "../src/engine/send.ts";
import { runAsChild } from "./lib.ts";
import { SALESFORCE_ACCOUNTS, contractOn } from "../test/support/contracts.ts";

export interface SalesforceInput {
  url: string;
  token: string;
  rows: number;
  path: "collections" | "bulk";
}

export interface SalesforceResult {
  elapsedMs: number;
  written: number;
  lost: number;
  bulk: boolean;
  cpuMs: number;
  /** The child's peak RSS, KB (`process.resourceUsage().maxRSS`): the engine, jsforce and the rows, not the emulator. */
  maxRssKB: number;
  /**
   * The most memory held after a full garbage collection, sampled every 20,000 rows read (V8 heap + external +
   * array buffers, MB): what the run keeps, without the garbage that a peak RSS also counts until V8 collects it.
   */
  liveMB: number;
}

const contract: Contract = contractOn({ name: "accounts" }, SALESFORCE_ACCOUNTS, { name: "bench_accounts" });

const BANDS = ["low", "medium", "high"];

const gc = (globalThis as { gc?: () => void }).gc;
let liveBytes = 0;

function sampleLive(): void {
  if (!gc) return;
  gc();
  const m = process.memoryUsage();
  liveBytes = Math.max(liveBytes, m.heapUsed + m.external + m.arrayBuffers);
}

async function* accounts(count: number, chunk = 2000): AsyncIterable<DestinationRecord[]> {
  for (let start = 0; start < count; start += chunk) {
    if (start > 0 && start % 20_000 === 0) sampleLive();
    const rows: DestinationRecord[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i += 1) rows.push({ key: `b-${i}`, fields: { Churn_Risk_Band__c: BANDS[i % 3]!, Risk_Reason_Code__c: `reason-${i % 101}` } });
    yield rows;
  }
}

runAsChild<SalesforceInput, SalesforceResult>(async (input) => {
  const cpu = process.cpuUsage();
  const destination = openDestination(contract, {
    SALESFORCE_INSTANCE_URL: input.url,
    SALESFORCE_ACCESS_TOKEN: input.token,
    SALESFORCE_BULK_THRESHOLD: input.path === "bulk" ? "1" : String(Number.MAX_SAFE_INTEGER),
  });
  const started = performance.now();
  const problems = await retrying(() => destination.checkMapping(), {}, { requests: 0, retries: 0 });
  if (problems.length > 0) throw new Error(problems.join("; "));
  const summary = await sendRecords(destination, accounts(input.rows));
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    elapsedMs,
    written: summary.created + summary.updated,
    lost: summary.failed + summary.notSent,
    bulk: summary.bulk,
    cpuMs: (used.user + used.system) / 1000,
    maxRssKB: process.resourceUsage().maxRSS,
    liveMB: (sampleLive(), Math.round(liveBytes / 1e5) / 10),
  };
});
