/**
 * The self-contained HTML report: one file, no script, no external resource; a summary table, then
 * per run its figures, its latency-percentile plot and its throughput-over-time plot.
 */
import { formatCount, formatErrors, formatLatencyMs, formatMiB } from "./report-format";
import type { Report, RunResult } from "./report-model";
import { escapeXml, latencyPercentilePlot, throughputPlot } from "./svg-plots";
import { plural } from "./plural";

function summaryRow(run: RunResult): string {
  const cells = [
    `<a href="#${escapeXml(run.id)}">${escapeXml(run.title)}</a>`,
    formatCount(run.throughput),
    escapeXml(run.unit),
    formatLatencyMs(run.latency.p50),
    formatLatencyMs(run.latency.p90),
    formatLatencyMs(run.latency.p99),
    formatLatencyMs(run.latency.p999),
    formatLatencyMs(run.latency.max),
    escapeXml(formatErrors(run.errors)),
    run.server === undefined ? "–" : run.server.cpuUsPerOp.toFixed(1),
    run.server === undefined ? "–" : formatMiB(run.server.rssBytes),
  ];
  return `<tr>${cells.map((cell, index) => (index === 0 ? `<td>${cell}</td>` : `<td class="num">${cell}</td>`)).join("")}</tr>`;
}

function definitionList(entries: readonly [string, string][]): string {
  return `<dl>${entries.map(([term, value]) => `<dt>${escapeXml(term)}</dt><dd>${escapeXml(value)}</dd>`).join("")}</dl>`;
}

function runSection(run: RunResult): string {
  const s = run.settings;
  const entries: [string, string][] = [
    ["command", run.command],
    ["generator", run.transport === undefined ? run.generator : `${run.generator} (${run.transport})`],
    ["load", `${s.mode} loop, ${s.inFlight} in flight × ${plural(s.channels, "channel")} × ${plural(s.workers, "worker")} = ${s.concurrency}${s.ratePerSecond === undefined ? "" : `, ${formatCount(s.ratePerSecond)}/s arrivals`}`],
    ["phases", `${s.warmupMs / 1000} s warm-up, ${s.durationMs / 1000} s measured (${(run.measuredMs / 1000).toFixed(2)} s actual)`],
    ["payload, pool", `${s.payload}, ${plural(s.pool, "session")}`],
    ["completed", `${plural(run.completed, run.unit)}, ${formatCount(run.throughput)}/s`],
    ["outcomes", Object.entries(run.outcomes).map(([name, count]) => `${name} ${formatCount(count)}`).join(", ") || "–"],
    ["errors by status", formatErrors(run.errors)],
  ];
  if (run.server !== undefined) {
    entries.push(["server CPU", `${run.server.cpuUsPerOp.toFixed(1)} µs per ${run.unit}, ${run.server.cpuCores.toFixed(2)} cores`]);
    entries.push(["server RSS", `${formatMiB(run.server.rssBytes)} (peak ${formatMiB(run.server.peakRssBytes)})`]);
    if (run.server.gc !== undefined) {
      entries.push(["server GC", `${plural(run.server.gc.count, "collection")}, ${run.server.gc.totalPauseMs.toFixed(1)} ms paused, longest ${run.server.gc.maxPauseMs.toFixed(1)} ms (${run.server.gc.maxPauseKind || "–"})`]);
    }
  }
  if (run.client !== undefined) entries.push(["generator CPU", `${run.client.cpuUsPerOp.toFixed(1)} µs per ${run.unit}`]);
  if (run.loadAverage !== undefined) entries.push(["machine load", `1-minute load average ${run.loadAverage.toFixed(2)} at the end of the run`]);
  for (const [name, value] of Object.entries(run.extra)) entries.push([name, typeof value === "number" ? String(Math.round(value * 1000) / 1000) : value]);
  for (const note of run.notes) entries.push(["note", note]);
  return `<section id="${escapeXml(run.id)}"><h2>${escapeXml(run.title)}</h2>${definitionList(entries)}<div class="plots">${latencyPercentilePlot(
    `${run.title}: latency by percentile`,
    run.distribution,
  )}${throughputPlot(`${run.title}: throughput over time`, run.timeline.counts, run.timeline.intervalMs)}</div></section>`;
}

/** Renders the report as one HTML document. */
export function renderHtmlReport(report: Report): string {
  const m = report.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stateward load test report</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1f2328;max-width:1200px}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 8px}th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;grid-template-columns:260px 1fr;gap:2px 12px;font-size:13px}
dt{color:#57606a}dd{margin:0}.plots{display:flex;flex-wrap:wrap;gap:12px}section{border-top:1px solid #d0d7de;margin-top:24px}
code{background:#f6f8fa;padding:1px 4px}
</style></head><body>
<h1>Stateward load test report</h1>
<p>${escapeXml(report.startedAt)} → ${escapeXml(report.finishedAt)} · ${plural(m.cpus, "CPU")} (${escapeXml(m.cpuModel)}) · ${formatMiB(m.memoryBytes)} memory · Node ${escapeXml(m.nodeVersion)} · ${escapeXml(m.platform)}</p>
<p>Command: <code>${escapeXml(report.command)}</code></p>
<p>Latencies in ms. Ratios between runs of this report count; absolute numbers drift with whatever else the machine runs.</p>
<table><thead><tr><th>run</th><th>ops/s</th><th>op</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th><th>server µs/op</th><th>server RSS</th></tr></thead>
<tbody>${report.runs.map(summaryRow).join("")}</tbody></table>
${report.runs.map(runSection).join("\n")}
</body></html>
`;
}
