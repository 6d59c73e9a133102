/** Builds the benchmark tables of docs/benchmarks.md from bench/results/*.json (whatever results exist). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RESULTS_DIR } from "./lib.ts";

// Results are this benchmark's own JSON: read loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function load(name: string): Json | undefined {
  const path = join(RESULTS_DIR, `${name}.json`);
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Json) : undefined;
}

const fmt = (n: number | null | undefined, digits = 2): string => (n === null || n === undefined || !Number.isFinite(n) ? "–" : n.toFixed(digits));
const int = (n: number | null | undefined): string => (n === null || n === undefined ? "–" : Math.round(n).toLocaleString("en-US"));

export function summarize(): string {
  const lines: string[] = [];
  const t = load("throughput");
  if (t) {
    lines.push(`**1. Throughput at the limit** (${int(t.rows)} rows, HubSpot emulator; median of ${t.cases[0]?.repetitions ?? "?"}; fraction of ideal = records/s ÷ (100 × allowed requests/s))`, "");
    lines.push("| limit | client | fraction of ideal | records/s | 429s (median / max) | busiest window (requests) | API calls per record | rows lost |", "|---|---|---|---|---|---|---|---|");
    for (const c of t.cases) {
      const m = c.median;
      const ideal = c.perWindow >= 100_000 ? "– (no limit)" : fmt(m.fractionOfIdeal);
      const busiest = c.perWindow >= 100_000 ? "–" : `${int(m.busiestWindow)} of ${int(c.perWindow)}`;
      lines.push(`| ${c.limit} | ${c.variant} | ${ideal} | ${int(m.recordsPerSecond)} | ${int(m.status429)} / ${int(c.max429)} | ${busiest} | ${fmt(m.apiCallsPerRecord, 4)} | ${int(m.lost)} |`);
    }
    lines.push("");
  }
  const s = load("salesforce");
  if (s) {
    lines.push(`**2. Salesforce: API calls per record** (median polls per Bulk job: ${s.medianPollsPerBulkJob}; calls break even at about ${int(s.callsCrossoverRows)} rows)`, "");
    lines.push("| rows | Collections calls / record | Bulk 2.0 calls / record | calls ratio bulk ÷ collections | time ratio bulk ÷ collections (emulator) |", "|---|---|---|---|---|");
    for (const c of s.cases) {
      const extrapolated = c.collections.extrapolated ? " (computed)" : "";
      lines.push(`| ${int(c.rows)} | ${fmt(c.collections.apiCallsPerRecord, 5)}${extrapolated} | ${fmt(c.bulk.apiCallsPerRecord, 6)} | ${fmt(c.callsRatioBulkToCollections, 4)} | ${fmt(c.timeRatioBulkToCollections)} |`);
    }
    lines.push("");
    const m = s.bulkMemory;
    if (m) {
      lines.push(
        `Bulk path memory, 100,000 rows → 1,000,000 (a full GC every 20,000 rows): peak RSS ${fmt(m.maxRssMB100k, 0)} → ${fmt(m.maxRssMB1M, 0)} MB ` +
          `(x${fmt(m.ratio1MTo100k)}; goal x${fmt(m.goal)}: ${m.flat ? "met" : "not met"}); held after a GC ${fmt(m.liveMB100k, 1)} → ${fmt(m.liveMB1M, 1)} MB (x${fmt(m.liveRatio1MTo100k)}).`,
        "",
      );
    }
  }
  const p = load("planner");
  if (p) {
    lines.push(
      "**3. Planner on DuckDB** (peak RSS of the whole process, DuckDB included. Streaming: what `sync` does by default, in partitions of about 1M keys under the syncer's memory_limit 256MB; " +
        `uncapped: the same partitions under DuckDB's own limit (${p.duckdbDefaultLimit}); single query: no partitions, DuckDB's own limit; naive: a diff in Node Maps)`,
      "",
    );
    lines.push(
      "| rows | trials | partitions | streaming time ÷ floor (the join's bare count(*)) | streaming time ÷ naive | streaming time ÷ single query | streaming max RSS | uncapped max RSS | single-query max RSS | naive max RSS | streaming Node heap peak | counts agree |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|",
    );
    for (const c of p.cases) {
      lines.push(
        `| ${int(c.rows)} | ${c.streaming.repetitions} | ${c.streaming.partitions} | ${c.floor ? `${fmt(c.timeRatioStreamingToFloor)} (${fmt(c.floor.elapsedMs / 1000, 1)} s)` : "-"} | ${c.naive ? `${fmt(c.timeRatioStreamingToNaive)} (${fmt(c.streaming.elapsedMs / 1000, 1)} s vs ${fmt(c.naive.elapsedMs / 1000, 1)} s)` : `not run (${fmt(c.streaming.elapsedMs / 1000, 1)} s)`} | ${fmt(c.timeRatioStreamingToSingleQuery)} (${fmt(c.singleQuery.elapsedMs / 1000, 1)} s) | ${int(c.streaming.maxRssMB)} MB | ${int(c.streamingUncapped.maxRssMB)} MB | ${int(c.singleQuery.maxRssMB)} MB | ${c.naive ? `${int(c.naive.maxRssMB)} MB` : "not run"} | ${int(c.streaming.peakHeapMB)} MB | ${c.countsAgree ? "yes" : "NO"} |`,
      );
    }
    lines.push(
      "",
      // Older results files carry no phases.
      ...p.cases
        .filter((c: Json) => c.planWithoutReadingToFloor !== undefined)
        .map(
          (c: Json) =>
            `Where the streaming time goes at ${int(c.rows)} rows (median phases): the plan materialized ${int(c.streaming.phases.materializeMs)} ms, its counts ${int(c.streaming.phases.countsMs)} ms and rejected keys ${int(c.streaming.phases.rejectedKeysMs)} ms: x${fmt(c.planWithoutReadingToFloor)} of the floor; ` +
            `the ${int(c.streaming.counts.create + c.streaming.counts.update)} rows to send read into Node ${int(c.streaming.phases.readRowsToSendMs)} ms: x${fmt(c.readRowsToSendToFloor)} of the floor by themselves.`,
        ),
      "",
      `RSS growth 1M → 10M: streaming ×${fmt(p.rssGrowthStreaming)}, uncapped ×${fmt(p.rssGrowthStreamingUncapped)}, single query ×${fmt(p.rssGrowthSingleQuery)}, ${p.rssGrowthNaive === null ? "naive not run at the larger size (BENCH_PLANNER_NAIVE_MAX_ROWS)" : `naive ×${fmt(p.rssGrowthNaive)}`}; streaming Node heap ×${fmt(p.heapGrowthStreaming)}.`,
      "",
    );
  }
  const n = load("noop");
  if (n) {
    lines.push(`**4. No-op rerun** (${int(n.rows)} rows, median of ${n.repetitions}): ${n.noopApiCalls} API calls; rerun time ÷ full run = ${fmt(n.median.noopFractionOfFull, 3)} (${int(n.median.noopMs)} ms vs ${int(n.median.fullMs)} ms). Full run at ${fmt(n.median.fullFractionOfIdeal)} of the rate limit's ideal; ledger checkpoints ${fmt((n.median.checkpointShareOfFull ?? 0) * 100, 0)} % of it${n.median.sendMs ? ` (phases: start-up and plan ${int(n.median.planMs)} ms, preflight ${int(n.median.preflightMs)} ms, send to the last checkpoint ${int(n.median.sendMs)} ms, the send alone at ${fmt(n.median.sendFractionOfIdeal)} of the ideal)` : ""}. ${n.realLimit ? ` At HubSpot's own limit (190 per 10 s, not time-scaled; median of ${n.realLimit.repetitions}) the same full run reaches ${fmt(n.realLimit.median.fullFractionOfIdeal)} of the ideal (${int(n.realLimit.median.fullMs)} ms; start-up and plan ${int(n.realLimit.median.planMs)} ms).` : ""} runSync probe on an empty ledger: ${int(n.runSyncProbe?.created)} of ${int(n.rows)} rows created.`, "");
  }
  const m = load("manifest");
  if (m) {
    const phases = Object.entries(m.parseAndGate.phasesMs as Record<string, number>).map(([k, v]) => `${k} ${int(v)} ms`).join(", ");
    lines.push(
      `**5. Manifest scale** (${int(m.models)} models, ${int(m.tests)} tests, ${int(m.contracts)} contracts; manifest ${m.manifestMB} MB, run_results ${m.runResultsMB} MB; median of ${m.parseAndGate.repetitions}): parse + gate ${fmt(m.parseAndGate.elapsedMs / 1000, 1)} s = ×${fmt(m.timeRatioToJsonParse)} of read + JSON.parse; peak RSS ${int(m.parseAndGate.maxRssMB)} MB = ×${fmt(m.rssRatioToJsonParse)} of JSON.parse's. Phases: ${phases}.`,
      "",
    );
  }
  const st = load("startup");
  if (st) {
    lines.push(`**6. Start-up** (whole processes, median of ${st.version.runs} pairs; ratio to the floor pair by pair; ${st.entry}; goals: within 1.5x of the floor, under 120 MB)`, "");
    lines.push("| command | wall | floor | wall ÷ floor | CPU ÷ floor | peak RSS | goals met |", "|---|---|---|---|---|---|---|");
    for (const [label, c, floor] of [["`--version`", st.version, "`node -e 0`"], ["`validate` (examples/acme_saas)", st.validate, "`node -e 0` + reading the project"]] as const) {
      const met = c.goals.within1_5x && c.goals.under120MB ? "yes" : `${c.goals.within1_5x ? "" : "time "}${c.goals.under120MB ? "" : "memory "}not met`.trim();
      lines.push(`| ${label} | ${int(c.ours.wallMs)} ms | ${floor}: ${int(c.floor.wallMs)} ms | ${fmt(c.wallRatio)} | ${fmt(c.cpuRatio)} | ${fmt(c.ours.maxRssMB, 0)} MB | ${met} |`);
    }
    lines.push("");
  }
  const sh = load("shards");
  if (sh) {
    lines.push(
      `**7. Shards against one portal** (${sh.shards} workers of ${int(sh.rows / sh.shards)} rows, each paced at 1/${sh.shards} of ${sh.limit.perWindow} per ${sh.limit.windowMs} ms; median of ${sh.repetitions}): ` +
        `${fmt(sh.median.fractionOfIdeal)} of the ideal in aggregate (goal 0.9), 429s ${int(sh.median.status429)} / ${int(sh.max429)} (median / max), busiest window ${int(sh.median.busiestWindow)} of ${int(sh.limit.perWindow)}, ${int(sh.median.lost)} rows lost; goal ${sh.goalMet ? "met" : "not met"}.`,
      "",
    );
  }
  for (const [at, name] of [[8, "braze"], [9, "zendesk"]] as const) {
    const d = load(name);
    if (!d) continue;
    lines.push(`**${at}. ${name === "braze" ? "Braze" : "Zendesk"} at the limit** (${int(d.rows)} rows, ${d.perRequest} per write request, ${d.limit.perWindow} requests per ${d.limit.windowMs / 1000} s; fraction of ideal = records/s ÷ (${d.perRequest} × allowed requests/s))`, "");
    lines.push("| client | fraction of ideal | records/s | 429s (median / max) | API calls per record | rows lost |", "|---|---|---|---|---|---|");
    for (const c of d.cases) {
      const m = c.median;
      lines.push(`| ${c.variant === "ours" ? "ours" : "hand-written fetch loop"} | ${fmt(m.fractionOfIdeal)} | ${int(m.recordsPerSecond)} | ${int(m.status429)} / ${int(c.max429)} | ${fmt(m.apiCallsPerRecord, 4)} | ${int(m.lost)} |`);
    }
    lines.push("");
  }
  const e = load("engine");
  if (e) {
    lines.push(
      `**10. Engine cost per record** (${int(e.rows)} rows to the HubSpot emulator, median of ${e.repetitions}; CPU of the client process during the send): ours ${fmt(e.cpuUsPerRecord.ours)} µs per record, ` +
        `the floor (serialize each request body and parse each response body once) ${fmt(e.cpuUsPerRecord.floor)} µs: x${fmt(e.cpuRatio)} (goal at most x${e.cpuGoal}); ` +
        (e.cpuUsPerRecord.wire === undefined
          ? ""
          : `the same requests sent by a bare node:http loop (no engine, no destination code) ${fmt(e.cpuUsPerRecord.wire)} µs, x${fmt(e.wireRatio)} of the floor by itself, ours x${fmt(e.oursOverWire)} of it; `) +
        `capacity ${int(e.capacityRecordsPerSecond)} records/s with no limit; ` +
        `at 75,000 records/s (750 requests of 100 per second) ${fmt(e.atBrazeCeiling.fractionOfIdeal)} of the ideal (goal ${e.fractionGoal}), ${int(e.atBrazeCeiling.status429)} 429s, ${int(e.atBrazeCeiling.lost)} rows lost` +
        (e.brazeAtItsCeiling === undefined
          ? "."
          : `; through the Braze destination at its own ceiling (3,000 requests of 75 per 3 s, ${int(e.brazeAtItsCeiling.rows)} rows) ${fmt(e.brazeAtItsCeiling.fractionOfIdeal)} of the ideal, ` +
            `${int(e.brazeAtItsCeiling.recordsPerSecond)} records/s, ${int(e.brazeAtItsCeiling.status429)} 429s, ${int(e.brazeAtItsCeiling.lost)} rows lost, ${fmt(e.brazeAtItsCeiling.clientCpuUsPerRecord)} µs of client CPU per record.`),
      "",
    );
  }
  // Results come from different runs (a benchmark can run alone): one machine line per benchmark, in run order.
  const named: [string, Json][] = [["throughput", t], ["salesforce", s], ["planner", p], ["noop", n], ["manifest", m], ["startup", st], ["shards", sh], ["braze", load("braze")], ["zendesk", load("zendesk")], ["engine", e]];
  for (const [name, result] of named.filter(([, r]) => r?.machine).sort((a, b) => String(a[1].machine.date).localeCompare(String(b[1].machine.date)))) {
    const machine = result.machine;
    lines.push(`Machine (${name}): ${machine.cpus} × ${machine.cpuModel}, ${int(machine.memoryBytes / 2 ** 30)} GiB, Node ${machine.node}, ${machine.date.slice(0, 16).replace("T", " ")}, load average at the end ${machine.loadAverageAtEnd?.join(" / ")}.`);
  }
  // Item 7: the whole bench within 20 minutes, summed from each benchmark's latest run (they may run apart).
  const timed = named.filter(([, r]) => typeof r?.machine?.benchSeconds === "number");
  const untimed = named.filter(([, r]) => r && typeof r.machine?.benchSeconds !== "number").map(([name]) => name);
  if (timed.length > 0) {
    const seconds = timed.reduce((sum, [, r]) => sum + Number(r.machine.benchSeconds), 0);
    const each = timed.map(([name, r]) => `${name} ${int(r.machine.benchSeconds)} s`).join(", ");
    lines.push(
      "",
      `Bench time (issue 19 item 7, goal at most 20 minutes for the whole bench): ${fmt(seconds / 60, 1)} min summed over the latest runs of ${each}` +
        `${untimed.length > 0 ? `; not timed (results from before the bench recorded its time): ${untimed.join(", ")}` : ""}.`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
