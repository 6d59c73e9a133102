/**
 * The run report as one self-contained HTML file: styles and the one script inline, charts drawn here as SVG (no
 * charting library, nothing fetched), so it opens offline from a CI artifact. Per contract: the gate outcome, rows per
 * class, failures by reason with samples, requests / 429s / retries over time, throughput against the destination's
 * limit, and the run history.
 */
import type { FailureReason, HistoryRun } from "../ledger/history.ts";

/** One sample of a running send, taken at each progress callback. */
export interface SendSample {
  /** Milliseconds since the contract began sending. */
  t: number;
  done: number;
  requests: number;
  retries: number;
  /** Requests the destination refused for its rate limit (429). */
  throttled: number;
}

export interface ContractSection {
  contract: string;
  model?: string | undefined;
  destination?: string | undefined;
  status: string;
  gate: { passed: boolean | null; reasons: string[] };
  classes: Record<string, number>;
  failures: FailureReason[];
  totals?: { requests: number; retries: number; throttled: number; durationMs: number } | undefined;
  series: SendSample[];
  /** The destination's documented request limit, per second. */
  limitPerSecond?: number | undefined;
  history: HistoryRun[];
  notes: string[];
}

export interface HtmlReport {
  title: string;
  generatedAt: Date;
  subtitle: string;
  contracts: ContractSection[];
}

function esc(text: unknown): string {
  return String(text).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

const W = 560;
const H = 200;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };
const COLORS: Record<string, string> = {
  created: "#2e7d32", updated: "#1565c0", unchanged: "#9e9e9e", removed: "#6d4c41", skipped: "#8e24aa", failed: "#c62828", rejected: "#ef6c00", notSent: "#f9a825",
  requests: "#1565c0", retries: "#ef6c00", throttled: "#c62828", throughput: "#2e7d32", limit: "#c62828",
};

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value) ?? value;
}

function axes(maxY: number, xLabel: string): string {
  const ticks = [0, 0.5, 1].map((f) => {
    const y = PAD.top + (1 - f) * (H - PAD.top - PAD.bottom);
    return `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" class="grid"/><text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end">${esc(Number((maxY * f).toFixed(1)))}</text>`;
  });
  return `${ticks.join("")}<text x="${(W + PAD.left) / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>`;
}

function legend(names: string[]): string {
  return `<div class="legend">${names.map((n) => `<span><i style="background:${COLORS[n] ?? "#333"}"></i>${esc(n)}</span>`).join("")}</div>`;
}

function chart(id: string, title: string, body: string, names: string[]): string {
  return `<figure><figcaption>${esc(title)}</figcaption><svg class="chart" id="${esc(id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><g class="marks">${body}</g></svg>${legend(names)}</figure>`;
}

/** Horizontal bars, one per class. */
function classBars(id: string, classes: Record<string, number>): string {
  const entries = Object.entries(classes).filter(([k]) => k !== "eligible");
  const max = niceMax(Math.max(1, ...entries.map(([, v]) => v)));
  const rowH = (H - PAD.top - PAD.bottom) / Math.max(1, entries.length);
  const bars = entries.map(([name, value], i) => {
    const y = PAD.top + i * rowH;
    const w = ((W - PAD.left - 100 - PAD.right) * value) / max;
    return `<text x="${PAD.left + 44}" y="${y + rowH * 0.7}" text-anchor="end">${esc(name)}</text><rect class="mark" x="${PAD.left + 50}" y="${y + 2}" width="${Math.max(w, value > 0 ? 1 : 0)}" height="${Math.max(1, rowH - 4)}" fill="${COLORS[name] ?? "#555"}"><title>${esc(name)}: ${value}</title></rect><text x="${PAD.left + 56 + w}" y="${y + rowH * 0.7}">${value}</text>`;
  });
  return chart(id, `Rows per class (${classes.eligible ?? 0} eligible)`, bars.join(""), []);
}

function polyline(points: [number, number][], maxX: number, maxY: number, color: string, name: string, dashed = false): string {
  const sx = (x: number): number => PAD.left + ((W - PAD.left - PAD.right) * x) / Math.max(1, maxX);
  const sy = (y: number): number => PAD.top + (1 - y / maxY) * (H - PAD.top - PAD.bottom);
  const pts = points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
  return `<polyline class="mark" points="${pts}" fill="none" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="6 4"' : ""}><title>${esc(name)}</title></polyline>`;
}

/** Cumulative requests, retries and 429s over the send. */
function requestsChart(id: string, series: SendSample[]): string {
  const maxX = Math.max(1, ...series.map((s) => s.t));
  const maxY = niceMax(Math.max(1, ...series.map((s) => s.requests)));
  const origin: SendSample = { t: 0, done: 0, requests: 0, retries: 0, throttled: 0 };
  const all = [origin, ...series];
  const lines = (["requests", "retries", "throttled"] as const).map((k) => polyline(all.map((s) => [s.t, s[k]]), maxX, maxY, COLORS[k]!, k));
  return chart(id, "Requests, retries and 429s over time (cumulative)", axes(maxY, `seconds (0 – ${(maxX / 1000).toFixed(1)})`) + lines.join(""), ["requests", "retries", "throttled"]);
}

/** Requests per second between samples, against the destination's documented limit. */
function throughputChart(id: string, series: SendSample[], limitPerSecond: number | undefined): string {
  const rates: [number, number][] = [];
  let previous: SendSample = { t: 0, done: 0, requests: 0, retries: 0, throttled: 0 };
  for (const s of series) {
    const dt = (s.t - previous.t) / 1000;
    if (dt > 0) rates.push([s.t, (s.requests - previous.requests) / dt]);
    previous = s;
  }
  const maxX = Math.max(1, ...series.map((s) => s.t));
  const maxY = niceMax(Math.max(1, limitPerSecond ?? 0, ...rates.map(([, r]) => r)));
  let body = axes(maxY, "seconds") + polyline([[0, rates[0]?.[1] ?? 0], ...rates], maxX, maxY, COLORS.throughput!, "requests/s");
  if (limitPerSecond) body += polyline([[0, limitPerSecond], [maxX, limitPerSecond]], maxX, maxY, COLORS.limit!, `limit ${limitPerSecond} requests/s`, true);
  return chart(id, `Throughput: requests/s${limitPerSecond ? ` against the limit of ${limitPerSecond}/s` : ""}`, body, limitPerSecond ? ["throughput", "limit"] : ["throughput"]);
}

/** Stacked bars per run, oldest left: created, updated, failed, not sent. */
function historyChart(id: string, history: HistoryRun[]): string {
  const runs = [...history].reverse();
  const keys = ["created", "updated", "failed", "notSent"] as const;
  const maxY = niceMax(Math.max(1, ...runs.map((r) => keys.reduce((a, k) => a + r.counts[k], 0))));
  const slot = (W - PAD.left - PAD.right) / Math.max(1, runs.length);
  const plotH = H - PAD.top - PAD.bottom;
  const bars = runs.map((r, i) => {
    let y = PAD.top + plotH;
    const x = PAD.left + i * slot + slot * 0.15;
    const parts = keys.map((k) => {
      const h = (plotH * r.counts[k]) / maxY;
      y -= h;
      return h > 0 ? `<rect class="mark" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[k]}"><title>${esc(`${r.startedAt?.toISOString() ?? "?"} ${r.status}: ${k} ${r.counts[k]}`)}</title></rect>` : "";
    });
    // A run that wrote nothing (held, stopped, unchanged) still shows, as a baseline tick with its status.
    const tick = `<rect class="mark" x="${x.toFixed(1)}" y="${PAD.top + plotH - 2}" width="${(slot * 0.7).toFixed(1)}" height="2" fill="#424242"><title>${esc(`${r.runId} ${r.status}`)}</title></rect>`;
    return parts.join("") + tick;
  });
  return chart(id, `Run history (last ${runs.length} runs, oldest left)`, axes(maxY, "runs") + bars.join(""), [...keys]);
}

function section(c: ContractSection, index: number): string {
  const gate = c.gate.passed === null ? "not consulted" : c.gate.passed ? "passed" : "held";
  const status = `<span class="status ${esc(c.status)}">${esc(c.status)}</span>`;
  const failures = c.failures.length
    ? `<table><tr><th>reason</th><th>rows</th><th>samples</th></tr>${c.failures.map((f) => `<tr><td>${esc(f.reason)}</td><td>${f.count}</td><td>${f.samples.map((s) => `<code>${esc(s.key)}</code> ${esc(s.message)}`).join("<br>")}</td></tr>`).join("")}</table>`
    : "<p>No failed rows.</p>";
  const totals = c.totals ? `<p>${c.totals.requests} requests, ${c.totals.retries} retries, ${c.totals.throttled} answered 429 while sending, ${(c.totals.durationMs / 1000).toFixed(1)} s.</p>` : "";
  // A contract held by its gate has no rows per class: no empty chart for it.
  const charts = Object.keys(c.classes).some((k) => k !== "eligible") ? [classBars(`classes-${index}`, c.classes)] : [];
  if (c.series.length > 0) charts.push(requestsChart(`requests-${index}`, c.series), throughputChart(`throughput-${index}`, c.series, c.limitPerSecond));
  if (c.history.length > 0) charts.push(historyChart(`history-${index}`, c.history));
  return `<section id="contract-${esc(c.contract)}">
<h2>${esc(c.contract)} ${status}</h2>
<p class="meta">${c.model ? `model <code>${esc(c.model)}</code>` : ""}${c.destination ? ` → ${esc(c.destination)}` : ""} · gate: <b>${gate}</b></p>
${c.gate.reasons.length ? `<ul class="reasons">${c.gate.reasons.map((r) => `<li>${esc(r)}</li>`).join("")}</ul>` : ""}
${c.notes.length ? `<ul class="notes">${c.notes.map((r) => `<li>${esc(r)}</li>`).join("")}</ul>` : ""}
${totals}
<div class="charts">${charts.join("\n")}</div>
<h3>Failures by reason</h3>
${failures}
${c.history.length ? `<h3>Runs</h3><table><tr><th>started</th><th>status</th><th>created</th><th>updated</th><th>unchanged</th><th>failed</th><th>not sent</th><th>run</th></tr>${c.history.map((r) => `<tr><td>${esc(r.startedAt?.toISOString() ?? "")}</td><td>${esc(r.status)}</td><td>${r.counts.created}</td><td>${r.counts.updated}</td><td>${r.counts.unchanged}</td><td>${r.counts.failed}</td><td>${r.counts.notSent}</td><td><code>${esc(r.runId)}</code></td></tr>`).join("")}</table>` : ""}
</section>`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#212121;max-width:1200px}h1{margin:0 0 4px}h2{margin:32px 0 4px;border-top:1px solid #ddd;padding-top:16px}
.meta{color:#555}.status{font-size:12px;padding:2px 8px;border-radius:10px;background:#eee;vertical-align:middle}.status.synced{background:#c8e6c9}.status.skipped,.status.stopped,.status.busy{background:#ffe0b2}.status.failed,.status.error,.status.paused{background:#ffcdd2}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}svg.chart{background:#fafafa;border:1px solid #e0e0e0}svg text{font-size:11px;fill:#424242}.grid{stroke:#e0e0e0}
.legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #e0e0e0;padding:4px 8px;text-align:left;vertical-align:top}code{font-size:12px}`;

/** Marks each chart that laid out with a visible size: a headless browser (the test) reads the count back from the DOM. */
const SCRIPT = `document.addEventListener("DOMContentLoaded",function(){var n=0;document.querySelectorAll("svg.chart").forEach(function(svg){var b=svg.querySelector("g.marks").getBBox();var marks=svg.querySelectorAll(".mark").length;if(b.width>0&&b.height>0&&marks>0){svg.setAttribute("data-rendered",b.width.toFixed(0)+"x"+b.height.toFixed(0));n++;}});document.documentElement.setAttribute("data-charts-rendered",String(n));});`;

export function renderHtml(report: HtmlReport): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(report.title)}</title><style>${STYLE}</style><script>${SCRIPT}</script></head>
<body><h1>${esc(report.title)}</h1><p class="meta">${esc(report.subtitle)} · generated ${esc(report.generatedAt.toISOString())}</p>
${report.contracts.length ? report.contracts.map(section).join("\n") : "<p>No contracts.</p>"}
</body></html>
`;
}
