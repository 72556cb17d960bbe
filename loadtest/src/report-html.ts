/**
 * The self-contained HTML report: one file, no script, no external resource; a summary table, then
 * per run its figures beside its latency-percentile plot, and below them, across the page, latency
 * over time (p50 and p99 per interval, with the server's GC pauses) above throughput over time on
 * the same time axis. The plots scale to the width of the window.
 */
import { formatCount, formatErrors, formatLatencyMs, formatMiB } from "./report-format";
import type { IntervalLatency } from "./interval-timeline";
import type { Report, RunResult } from "./report-model";
import { escapeXml, latencyOverTimePlot, latencyPercentilePlot, throughputPlot, WIDE_WIDTH } from "./svg-plots";
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

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

/** The interval with the highest p99, and the server GC pauses that overlap it: where to look first for a tail. */
export function slowestInterval(run: RunResult): string {
  const timeline = run.timeline;
  let worst: IntervalLatency | undefined;
  for (const interval of timeline.latency) {
    if (interval.p99 !== null && (worst === undefined || interval.p99 > (worst.p99 ?? 0))) worst = interval;
  }
  if (worst === undefined || worst.p99 === null) return "–";
  const from = worst.startMs;
  const to = worst.startMs + timeline.intervalMs;
  const text = `p99 ${formatLatencyMs(worst.p99)} ms in ${seconds(from)}–${seconds(to)} s (p50 ${formatLatencyMs(worst.p50 ?? 0)} ms, ${plural(worst.count, run.unit)})`;
  const gc = timeline.serverGc;
  if (!gc.available) return `${text}; server GC not known: ${gc.reason}`;
  const overlapping = gc.pauses.filter((pause) => pause.startMs < to && pause.startMs + pause.pauseMs > from);
  if (overlapping.length === 0) return `${text}; no server GC pause in it`;
  const longest = overlapping.reduce((best, pause) => (pause.pauseMs > best.pauseMs ? pause : best));
  const total = overlapping.reduce((sum, pause) => sum + pause.pauseMs, 0);
  return `${text}; server GC in it: ${plural(overlapping.length, "pause")}, ${total.toFixed(1)} ms in all, longest ${longest.kind} ${longest.pauseMs.toFixed(1)} ms at ${(longest.startMs / 1000).toFixed(3)} s`;
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
  const timeline = run.timeline;
  entries.push(["time line", `${plural(timeline.counts.length, "interval")} of ${timeline.intervalMs} ms (per-interval figures in report.json: timeline.latency, timeline.serverGc)`]);
  entries.push(["slowest interval", slowestInterval(run)]);
  for (const note of run.notes) entries.push(["note", note]);
  return `<section id="${escapeXml(run.id)}"><h2>${escapeXml(run.title)}</h2><div class="run">
<div class="figures">${definitionList(entries)}</div>
<div class="cell">${latencyPercentilePlot(`${run.title}: latency by percentile`, run.distribution)}</div>
<div class="cell wide">${latencyOverTimePlot(`${run.title}: latency over time, with the server's GC pauses`, timeline)}</div>
<div class="cell wide">${throughputPlot(`${run.title}: throughput over time`, timeline.counts, timeline.intervalMs, { width: WIDE_WIDTH, height: 220 })}</div>
</div></section>`;
}

/** Renders the report as one HTML document. */
export function renderHtmlReport(report: Report): string {
  const m = report.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stateward load test report</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;padding:0 24px;color:#1f2328;max-width:1800px}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border:1px solid #d0d7de;padding:4px 8px}th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:3px 16px;font-size:13px;margin:0}
dt{color:#57606a}dd{margin:0;overflow-wrap:anywhere}section{border-top:1px solid #d0d7de;margin-top:24px}
code{background:#f6f8fa;padding:1px 4px;overflow-wrap:anywhere}
.run{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px 24px;align-items:start}
.run .wide{grid-column:1/-1;overflow-x:auto}svg.plot{display:block;width:100%;height:auto}
svg.latency-percentile-plot{max-width:760px}.wide svg.plot{min-width:880px}
@media (max-width:1000px){.run{grid-template-columns:minmax(0,1fr)}}
</style></head><body>
<h1>Stateward load test report</h1>
<p>${escapeXml(report.startedAt)} → ${escapeXml(report.finishedAt)} · ${plural(m.cpus, "CPU")} (${escapeXml(m.cpuModel)}) · ${formatMiB(m.memoryBytes)} memory · Node ${escapeXml(m.nodeVersion)} · ${escapeXml(m.platform)}</p>
<p>Command: <code>${escapeXml(report.command)}</code></p>
<p>Latencies in ms. Ratios between runs of this report count; absolute numbers drift with whatever else the machine runs. Latency over time: p50 and p99 of each interval of the measured phase, with the server's GC pauses as bars on the same axes (for servers the tool started with <code>--trace-gc</code>).</p>
<table><thead><tr><th>run</th><th>ops/s</th><th>op</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th><th>server µs/op</th><th>server RSS</th></tr></thead>
<tbody>${report.runs.map(summaryRow).join("")}</tbody></table>
${report.runs.map(runSection).join("\n")}
</body></html>
`;
}
