/**
 * The soak's report: the JSON model (every sample kept) and a self-contained HTML page drawn with
 * the load tester's SVG plot helpers (RSS, event-loop delay, throughput, CPU, sessions, latency).
 */
import type { LatencySummary, PercentilePoint } from "./latency-histogram";
import { formatCount, formatErrors, formatLatencyMs, formatMiB } from "./report-format";
import type { MachineInfo } from "./report-model";
import type { SoakOptions } from "./soak-args";
import type { SoakSample } from "./soak-sampler";
import type { ExpiryCheck, GrowthVerdict, LockedSession } from "./soak-verdict";
import { escapeXml, latencyPercentilePlot, timeSeriesPlot, type TimeSeries } from "./svg-plots";
import { plural } from "./plural";

/** Figures of one operation kind. */
export interface SoakOperationSummary {
  readonly count: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly errors: Readonly<Record<string, number>>;
  /** µs. */
  readonly latency: LatencySummary;
}

/** Headline figures of the run. */
export interface SoakSummary {
  readonly operations: number;
  readonly opsPerSecond: number;
  /** Measured load time, ms. */
  readonly loadMs: number;
  /** RSS of the server after start, before the pool was written. */
  readonly rssIdleBytes: number | null;
  /** RSS in the first sample of the load. */
  readonly rssStartBytes: number | null;
  /** RSS in the last sample of the load. */
  readonly rssEndBytes: number | null;
  /** Largest RSS sampled. */
  readonly rssMaxSampledBytes: number | null;
  /** The server's VmHWM at the end. */
  readonly rssPeakBytes: number | null;
  /** Median and p99 over the run of the per-interval p99 of the server's event-loop delay, and its largest max, ms. */
  readonly serverLoopDelayMedianP99Ms: number | null;
  readonly serverLoopDelayP99Ms: number | null;
  readonly serverLoopDelayMaxMs: number | null;
  readonly generatorLoopDelayMedianP99Ms: number;
  readonly generatorLoopDelayP99Ms: number;
  readonly generatorLoopDelayMaxMs: number;
  /** Mean server CPU over the load, cores. */
  readonly serverCpuCores: number | null;
  /** Longest GC pause of the server during the load, ms. */
  readonly gcMaxPauseMs: number | null;
  /** Sessions expired per second on average (active expiry at work). */
  readonly expiredPerSecond: number | null;
  /** Sampling scrapes of /metrics that failed. */
  readonly scrapeFailures: number;
  /** The machine's 1-minute load average at the start and the end of the load. */
  readonly loadAverageStart: number;
  readonly loadAverageEnd: number;
}

/** The verdict and what it rests on. */
export interface SoakVerdictSection {
  readonly passed: boolean;
  readonly failures: readonly string[];
  readonly growth: GrowthVerdict;
  readonly lockedAtEnd: readonly LockedSession[];
  readonly sessionsChecked: number;
  readonly uncheckedSessions: number;
  readonly abortLeaks: readonly LockedSession[];
  readonly waiterGrants: number;
  readonly leaseExpiries: number | null;
  /** The server's stateward_locks_held after the check (0 expected). */
  readonly locksHeldAfterCheck: number | null;
  readonly drained: boolean;
  /** The end-of-run expiry check. */
  readonly expiry?: ExpiryCheck;
  /** Short-lived sessions the load created. */
  readonly shortLivedCreated: number;
  readonly serverExit?: string;
}

/** The whole soak report (soak-report.json). */
export interface SoakReport {
  readonly tool: "stateward-loadtest";
  readonly kind: "soak";
  readonly reportVersion: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly options: SoakOptions;
  readonly server: { readonly address: string; readonly metricsPort: number; readonly pid: number; readonly command: string };
  readonly verdict: SoakVerdictSection;
  readonly summary: SoakSummary;
  readonly operations: Readonly<Record<string, SoakOperationSummary>>;
  /** Failures by status name over the run. */
  readonly errors: Readonly<Record<string, number>>;
  /** Failures that were not the point of their operation, by CODE/REASON. */
  readonly unexpectedErrors: Readonly<Record<string, number>>;
  readonly latency: { readonly summary: LatencySummary; readonly distribution: readonly PercentilePoint[] };
  readonly samples: readonly SoakSample[];
  readonly notes: readonly string[];
}

/** The p-th percentile (nearest rank) of `values`; null when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? null;
}

const MIB = 1024 * 1024;

function mib(bytes: number | null): string {
  return bytes === null ? "–" : formatMiB(bytes);
}

function ms(value: number | null, digits = 1): string {
  return value === null ? "–" : `${value.toFixed(digits)} ms`;
}

function definitionList(entries: readonly [string, string][]): string {
  return `<dl>${entries.map(([term, value]) => `<dt>${escapeXml(term)}</dt><dd>${escapeXml(value)}</dd>`).join("")}</dl>`;
}

function seconds(sample: SoakSample): number {
  return sample.tMs / 1000;
}

function series(label: string, samples: readonly SoakSample[], value: (sample: SoakSample) => number | null, color?: string): TimeSeries {
  return { label, points: samples.map((sample) => [seconds(sample), value(sample)] as const), ...(color === undefined ? {} : { color }) };
}

/** The RSS plot: RSS and RssAnon over time, the warm-up and thirds marked, the medians and the limit drawn. */
export function rssPlot(report: Pick<SoakReport, "samples" | "verdict">): string {
  const growth = report.verdict.growth;
  const [first, middle, last] = growth.thirds;
  return timeSeriesPlot(
    "Server RSS over time",
    [
      series("RSS (VmRSS)", report.samples, (sample) => (sample.rssBytes === null ? null : sample.rssBytes / MIB), "#1f6feb"),
      series("RssAnon", report.samples, (sample) => (sample.rssAnonBytes === null ? null : sample.rssAnonBytes / MIB), "#8250df"),
    ],
    {
      className: "rss-plot",
      yLabel: "MiB",
      markers: [
        { x: first.fromMs / 1000, label: "warm-up end" },
        { x: middle.fromMs / 1000, label: "middle third" },
        { x: last.fromMs / 1000, label: "last third" },
      ],
      levels: [
        { y: middle.medianBytes / MIB, label: `middle median ${formatMiB(middle.medianBytes)}`, color: "#2da44e" },
        { y: last.medianBytes / MIB, label: `last median ${formatMiB(last.medianBytes)}`, color: "#bf8700" },
        { y: (middle.medianBytes + growth.allowedBytes) / MIB, label: `limit ${formatMiB(middle.medianBytes + growth.allowedBytes)}`, color: "#cf222e" },
      ],
    },
  );
}

/** The event-loop delay plots: the server's (from its metrics) and the generator's own. */
export function loopDelayPlots(samples: readonly SoakSample[]): string {
  const server = timeSeriesPlot(
    "Server event-loop delay per interval",
    [
      series("p99", samples, (sample) => sample.serverLoopDelay?.p99Ms ?? null, "#1f6feb"),
      series("max", samples, (sample) => sample.serverLoopDelay?.maxMs ?? null, "#cf222e"),
      series("longest GC pause", samples, (sample) => sample.gcMaxPauseMs, "#8c959f"),
    ],
    { className: "server-loop-delay-plot", yLabel: "ms" },
  );
  const generator = timeSeriesPlot(
    "Load generator event-loop delay per interval",
    [series("p99", samples, (sample) => sample.generatorLoopDelay.p99Ms, "#1f6feb"), series("max", samples, (sample) => sample.generatorLoopDelay.maxMs, "#cf222e")],
    { className: "generator-loop-delay-plot", yLabel: "ms" },
  );
  return server + generator;
}

function operationRow(kind: string, figures: SoakOperationSummary): string {
  const cells = [
    escapeXml(kind),
    formatCount(figures.count),
    escapeXml(Object.entries(figures.outcomes).map(([name, count]) => `${name} ${formatCount(count)}`).join(", ") || "–"),
    escapeXml(formatErrors(figures.errors)),
    formatLatencyMs(figures.latency.p50),
    formatLatencyMs(figures.latency.p99),
    formatLatencyMs(figures.latency.max),
  ];
  return `<tr>${cells.map((cell, index) => (index === 0 || index === 2 || index === 3 ? `<td>${cell}</td>` : `<td class="num">${cell}</td>`)).join("")}</tr>`;
}

/** Renders the soak report as one HTML document (no script, no external resource). */
export function renderSoakHtml(report: SoakReport): string {
  const m = report.machine;
  const s = report.summary;
  const v = report.verdict;
  const o = report.options;
  const verdict = v.passed
    ? `<p class="pass">PASSED: ${escapeXml(v.growth.message)}; no session left locked; short-lived sessions expired.</p>`
    : `<div class="fail"><p>FAILED:</p><ul>${v.failures.map((failure) => `<li>${escapeXml(failure)}</li>`).join("")}</ul></div>`;
  const figures: [string, string][] = [
    ["load", `${(s.loadMs / 1000).toFixed(0)} s (${(o.warmupMs / 1000).toFixed(0)} s warm-up), ${plural(o.concurrency, "loop")}, at most ${o.rate === 0 ? "unlimited" : formatCount(o.rate)} iterations/s, pool ${plural(o.pool, "session")}, ${Math.round(o.shortTtlShare * 100)} % of iterations create a short-lived session (ttl ${o.shortTtlSeconds.min}–${o.shortTtlSeconds.max} s), payloads ${o.payload.minBytes}–${o.payload.maxBytes} B log-uniform`],
    ["operations", `${formatCount(s.operations)}, ${formatCount(s.opsPerSecond)}/s`],
    ["errors by code", formatErrors(report.errors)],
    ["unexpected errors", formatErrors(report.unexpectedErrors)],
    ["server RSS", `idle ${mib(s.rssIdleBytes)}, load start ${mib(s.rssStartBytes)}, end ${mib(s.rssEndBytes)}, largest sample ${mib(s.rssMaxSampledBytes)}, VmHWM ${mib(s.rssPeakBytes)}`],
    ["RSS slope after warm-up", `${(v.growth.slopeBytesPerMinute / MIB).toFixed(2)} MiB/min (information; the verdict uses the medians)`],
    ["server event-loop delay", `per-interval p99: median ${ms(s.serverLoopDelayMedianP99Ms)}, p99 ${ms(s.serverLoopDelayP99Ms)}; largest max ${ms(s.serverLoopDelayMaxMs)}`],
    ["generator event-loop delay", `per-interval p99: median ${ms(s.generatorLoopDelayMedianP99Ms)}, p99 ${ms(s.generatorLoopDelayP99Ms)}; largest max ${ms(s.generatorLoopDelayMaxMs)}`],
    ["machine load", `1-minute load average ${s.loadAverageStart.toFixed(2)} at the start, ${s.loadAverageEnd.toFixed(2)} at the end, on ${plural(m.cpus, "CPU")} (above that, other work competed with the run and the delays say more about the machine than the server)`],
    ["server CPU", s.serverCpuCores === null ? "–" : `${s.serverCpuCores.toFixed(2)} cores on average`],
    ["server GC", s.gcMaxPauseMs === null ? "–" : `longest pause ${s.gcMaxPauseMs.toFixed(1)} ms`],
    [
      "active expiry",
      `${s.expiredPerSecond === null ? "–" : s.expiredPerSecond.toFixed(1)} sessions expired per second; ${plural(v.shortLivedCreated, "short-lived session")} created; ${
        v.expiry === undefined
          ? "not checked at the end"
          : `${v.expiry.swept ? "all swept" : "not all swept"} ${(v.expiry.waitedMs / 1000).toFixed(1)} s after the last ttl ran out (${v.expiry.residentAfter ?? "?"} resident, at most ${v.expiry.residentLimit}), ${v.expiry.servedAfterExpiry} of ${v.expiry.sampled} sampled still served`
      }`,
    ],
    ["locks", `${plural(v.sessionsChecked, "session")} checked with Lock(wait 0) at the end: ${v.lockedAtEnd.length} locked, ${v.uncheckedSessions} unchecked; aborted waiters that left a lock ${v.abortLeaks.length}, granted while held ${v.waiterGrants}; lease expiries ${v.leaseExpiries ?? "–"}; locks held after the check ${v.locksHeldAfterCheck ?? "–"}`],
    ["server", `${report.server.command} (pid ${report.server.pid}, ${report.server.address}, metrics on 127.0.0.1:${report.server.metricsPort})`],
  ];
  for (const note of report.notes) figures.push(["note", note]);
  const samples = report.samples;
  const throughput = timeSeriesPlot(
    "Operations and errors per second",
    [series("operations/s", samples, (sample) => sample.opsPerSecond, "#2da44e"), series("errors/s", samples, (sample) => sample.errorsPerSecond, "#cf222e")],
    { className: "throughput-plot", yLabel: "per second" },
  );
  const cpu = timeSeriesPlot(
    "Server CPU and machine load",
    [series("server CPU (cores)", samples, (sample) => sample.serverCpuCores, "#1f6feb"), series("load average (1 min)", samples, (sample) => sample.loadAverage, "#8c959f")],
    { className: "cpu-plot", yLabel: "cores / runnable tasks" },
  );
  const sessions = timeSeriesPlot(
    "Sessions, locks and expiry",
    [
      series("resident sessions", samples, (sample) => sample.sessions, "#1f6feb"),
      series("expired/s", samples, (sample) => sample.expiredPerSecond, "#bf8700"),
      series("locks held", samples, (sample) => sample.locksHeld, "#cf222e"),
    ],
    { className: "sessions-plot", yLabel: "count" },
  );
  const latency = latencyPercentilePlot("Latency of every operation by percentile", report.latency.distribution);
  const operations = Object.entries(report.operations)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, figures]) => operationRow(kind, figures))
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stateward soak report</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1f2328;max-width:1200px}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 8px}th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;grid-template-columns:220px 1fr;gap:2px 12px;font-size:13px}
dt{color:#57606a}dd{margin:0}.plots{display:flex;flex-wrap:wrap;gap:12px}section{border-top:1px solid #d0d7de;margin-top:24px}
code{background:#f6f8fa;padding:1px 4px}.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
</style></head><body>
<h1>Stateward soak report</h1>
<p>${escapeXml(report.startedAt)} → ${escapeXml(report.finishedAt)} · ${plural(m.cpus, "CPU")} (${escapeXml(m.cpuModel)}) · ${formatMiB(m.memoryBytes)} memory · Node ${escapeXml(m.nodeVersion)} · ${escapeXml(m.platform)}</p>
<p>Command: <code>${escapeXml(report.command)}</code></p>
${verdict}
<p>Growth rule: the median RSS of the last third of the time after the warm-up may exceed the median of the middle third by at most max(${o.rssTolerancePercent} % of it, ${o.rssToleranceMiB} MiB).</p>
${definitionList(figures)}
<section><h2>Memory and event-loop delay</h2><div class="plots">${rssPlot(report)}${loopDelayPlots(samples)}</div></section>
<section><h2>Load</h2><div class="plots">${throughput}${cpu}${sessions}${latency}</div></section>
<section><h2>Operations</h2><p>Latency in ms, from the call to its answer (service time, not corrected for coordinated omission: the soak is not a latency benchmark).</p>
<table><thead><tr><th>operation</th><th>count</th><th>outcomes</th><th>errors</th><th>p50</th><th>p99</th><th>max</th></tr></thead><tbody>${operations}</tbody></table></section>
</body></html>
`;
}
