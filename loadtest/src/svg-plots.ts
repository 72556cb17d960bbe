/**
 * Inline SVG plots for the HTML report, no library and no script: the latency-percentile
 * distribution (HdrHistogram style: the x axis stretches the tail, 1/(1−p) on a log scale),
 * throughput over time, latency over time with the server's GC pauses, and values over time (the
 * soak's RSS and event-loop delay).
 */
import type { GcPause, ServerGcTimeline } from "./gc-timeline";
import type { IntervalLatency } from "./interval-timeline";
import type { PercentilePoint } from "./latency-histogram";

const WIDTH = 560;
const HEIGHT = 260;
const MARGIN = { left: 64, right: 16, top: 16, bottom: 40 };

/** Width of the time plots of a run (latency and throughput over time): twice a small plot, same x axis. */
export const WIDE_WIDTH = 1120;

/** Escapes text for XML/HTML. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The tail-stretching x coordinate of a percentile: log10(1 / (1 − p)), capped at 99.9999 %. */
export function percentileToX(percentile: number): number {
  const p = Math.min(percentile, 99.9999) / 100;
  return Math.log10(1 / (1 - p));
}

/** A "nice" axis maximum ≥ value (1, 2, 5 × 10^n). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function formatMs(us: number): string {
  const ms = us / 1000;
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function frame(title: string, className: string, body: string, width = WIDTH, height = HEIGHT): string {
  return (
    `<svg class="plot ${className}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(title)}">` +
    `<title>${escapeXml(title)}</title><rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>${body}</svg>`
  );
}

/** Size of a plot, in SVG units (the page scales it to its column). */
export interface PlotSize {
  readonly width: number;
  readonly height: number;
}

function timeTicks(spanSeconds: number, count: number): number[] {
  return Array.from({ length: count + 1 }, (_, tick) => (spanSeconds * tick) / count);
}

function formatSeconds(seconds: number, spanSeconds: number): string {
  return seconds.toFixed(spanSeconds < 10 ? 1 : 0);
}

/** Latency (ms) against percentile. */
export function latencyPercentilePlot(title: string, points: readonly PercentilePoint[]): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const maxX = percentileToX(99.9999);
  const maxY = niceCeiling(Math.max(1, ...points.map((point) => point.valueUs)));
  const x = (percentile: number): number => MARGIN.left + (percentileToX(percentile) / maxX) * plotWidth;
  const y = (valueUs: number): number => MARGIN.top + plotHeight - (valueUs / maxY) * plotHeight;
  const parts: string[] = [];
  for (const [label, percentile] of [["0%", 0], ["90%", 90], ["99%", 99], ["99.9%", 99.9], ["99.99%", 99.99], ["99.999%", 99.999]] as const) {
    const px = x(percentile).toFixed(1);
    parts.push(`<line x1="${px}" y1="${MARGIN.top}" x2="${px}" y2="${MARGIN.top + plotHeight}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${px}" y="${HEIGHT - MARGIN.bottom + 16}" font-size="11" text-anchor="middle" fill="#444">${label}</text>`);
  }
  for (let tick = 0; tick <= 4; tick++) {
    const value = (maxY * tick) / 4;
    const py = y(value).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" y1="${py}" x2="${WIDTH - MARGIN.right}" y2="${py}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${py}" font-size="11" text-anchor="end" dominant-baseline="middle" fill="#444">${formatMs(value)}</text>`);
  }
  const path = points.map((point, index) => `${index === 0 ? "M" : "L"}${x(point.percentile).toFixed(1)},${y(point.valueUs).toFixed(1)}`).join(" ");
  parts.push(`<path class="series" d="${path}" fill="none" stroke="#1f6feb" stroke-width="2"/>`);
  for (const point of points) {
    parts.push(`<circle cx="${x(point.percentile).toFixed(1)}" cy="${y(point.valueUs).toFixed(1)}" r="2" fill="#1f6feb"><title>p${point.percentile}: ${formatMs(point.valueUs)} ms</title></circle>`);
  }
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 6}" font-size="11" text-anchor="middle" fill="#222">percentile</text>`);
  parts.push(`<text x="14" y="${MARGIN.top + plotHeight / 2}" font-size="11" text-anchor="middle" fill="#222" transform="rotate(-90 14 ${MARGIN.top + plotHeight / 2})">latency (ms)</text>`);
  return frame(title, "latency-percentile-plot", parts.join(""));
}

/** Operations per second in each interval (`size`: e.g. {@link WIDE_WIDTH} to line up with the latency over time). */
export function throughputPlot(title: string, counts: readonly number[], intervalMs: number, size: PlotSize = { width: WIDTH, height: HEIGHT }): string {
  const { width, height } = size;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const rates = counts.map((count) => (count * 1000) / intervalMs);
  const maxY = niceCeiling(Math.max(1, ...rates));
  // The same span as latencyOverTimePlot's, so that the two line up.
  const spanSeconds = Math.max(intervalMs / 1000, (counts.length * intervalMs) / 1000);
  const x = (seconds: number): number => MARGIN.left + (seconds / spanSeconds) * plotWidth;
  const y = (rate: number): number => MARGIN.top + plotHeight - (rate / maxY) * plotHeight;
  const parts: string[] = [];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (maxY * tick) / 4;
    const py = y(value).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" y1="${py}" x2="${width - MARGIN.right}" y2="${py}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${py}" font-size="11" text-anchor="end" dominant-baseline="middle" fill="#444">${Math.round(value).toLocaleString("en-US")}</text>`);
  }
  for (const seconds of timeTicks(spanSeconds, width > WIDTH ? 10 : 5)) {
    parts.push(`<text x="${x(seconds).toFixed(1)}" y="${height - MARGIN.bottom + 16}" font-size="11" text-anchor="middle" fill="#444">${formatSeconds(seconds, spanSeconds)}</text>`);
  }
  // Steps: each interval's rate is flat over the interval.
  const path = rates
    .map((rate, index) => `${index === 0 ? "M" : "L"}${x((index * intervalMs) / 1000).toFixed(1)},${y(rate).toFixed(1)} L${x(((index + 1) * intervalMs) / 1000).toFixed(1)},${y(rate).toFixed(1)}`)
    .join(" ");
  if (path !== "") parts.push(`<path class="series" d="${path}" fill="none" stroke="#2da44e" stroke-width="2"/>`);
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#222">time (s)</text>`);
  parts.push(`<text x="14" y="${MARGIN.top + plotHeight / 2}" font-size="11" text-anchor="middle" fill="#222" transform="rotate(-90 14 ${MARGIN.top + plotHeight / 2})">ops/s</text>`);
  return frame(title, "throughput-plot", parts.join(""), width, height);
}

/** One line of a {@link timeSeriesPlot}: `[seconds, value]` points; a null value breaks the line. */
export interface TimeSeries {
  readonly label: string;
  readonly points: readonly (readonly [number, number | null])[];
  /** Stroke colour (default: one of the palette by position). */
  readonly color?: string;
}

/** Extras of a {@link timeSeriesPlot}. */
export interface TimeSeriesOptions {
  /** CSS class of the plot, e.g. `rss-plot`. */
  readonly className: string;
  /** Label of the y axis, e.g. `RSS (MiB)`. */
  readonly yLabel: string;
  /** Vertical lines at these times (s), e.g. the end of the warm-up. */
  readonly markers?: readonly { readonly x: number; readonly label: string }[];
  /** Horizontal dashed lines at these values, e.g. a limit. */
  readonly levels?: readonly { readonly y: number; readonly label: string; readonly color?: string }[];
  /** Axis tick format (default: up to 3 significant digits). */
  readonly formatY?: (value: number) => string;
}

const PALETTE = ["#1f6feb", "#cf222e", "#2da44e", "#8250df", "#bf8700"];

function defaultTick(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  return abs >= 100 ? Math.round(value).toLocaleString("en-US") : abs >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** Values over time (s) as lines, with optional markers and levels, and a legend. */
export function timeSeriesPlot(title: string, series: readonly TimeSeries[], options: TimeSeriesOptions): string {
  // A taller top margin than the other plots: the legend sits in it, above the lines.
  const top = 30;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - top - MARGIN.bottom;
  const values = series.flatMap((line) => line.points.map(([, value]) => value)).filter((value): value is number => value !== null && Number.isFinite(value));
  // reduce, not Math.max(...): a long soak has tens of thousands of points.
  const maxY = niceCeiling([...values, ...(options.levels ?? []).map((level) => level.y)].reduce((max, value) => Math.max(max, value), 0));
  const times = [...series.flatMap((line) => line.points.map(([seconds]) => seconds)), ...(options.markers ?? []).map((marker) => marker.x)];
  const spanSeconds = times.reduce((max, seconds) => Math.max(max, seconds), 1);
  const x = (seconds: number): number => MARGIN.left + (seconds / spanSeconds) * plotWidth;
  const y = (value: number): number => top + plotHeight - (Math.min(value, maxY) / maxY) * plotHeight;
  const format = options.formatY ?? defaultTick;
  const parts: string[] = [];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (maxY * tick) / 4;
    const py = y(value).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" y1="${py}" x2="${WIDTH - MARGIN.right}" y2="${py}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${py}" font-size="11" text-anchor="end" dominant-baseline="middle" fill="#444">${escapeXml(format(value))}</text>`);
  }
  for (let tick = 0; tick <= 5; tick++) {
    const seconds = (spanSeconds * tick) / 5;
    parts.push(`<text x="${x(seconds).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 16}" font-size="11" text-anchor="middle" fill="#444">${seconds.toFixed(seconds < 10 ? 1 : 0)}</text>`);
  }
  for (const marker of options.markers ?? []) {
    const px = x(marker.x).toFixed(1);
    parts.push(`<line class="marker" x1="${px}" y1="${top}" x2="${px}" y2="${top + plotHeight}" stroke="#8c959f" stroke-dasharray="2 3"/>`);
    parts.push(`<text x="${px}" y="${top + plotHeight - 4}" font-size="10" text-anchor="start" fill="#57606a" transform="translate(3 0)">${escapeXml(marker.label)}</text>`);
  }
  (options.levels ?? []).forEach((level, index) => {
    const py = y(level.y).toFixed(1);
    const color = level.color ?? "#cf222e";
    parts.push(`<line class="level" x1="${MARGIN.left}" y1="${py}" x2="${WIDTH - MARGIN.right}" y2="${py}" stroke="${color}" stroke-dasharray="6 4"/>`);
    // Labels alternate above and below their lines, and step left, so that close levels stay legible.
    const dy = index % 2 === 0 ? -3 : 11;
    parts.push(`<text x="${WIDTH - MARGIN.right - 4 - index * 150}" y="${py}" font-size="10" text-anchor="end" fill="${color}" transform="translate(0 ${dy})">${escapeXml(level.label)}</text>`);
  });
  series.forEach((line, index) => {
    const color = line.color ?? PALETTE[index % PALETTE.length] ?? "#1f6feb";
    let path = "";
    let pen = false;
    for (const [seconds, value] of line.points) {
      if (value === null || !Number.isFinite(value)) {
        pen = false;
        continue;
      }
      path += `${path === "" ? "" : " "}${pen ? "L" : "M"}${x(seconds).toFixed(1)},${y(value).toFixed(1)}`;
      pen = true;
    }
    if (path !== "") parts.push(`<path class="series" d="${path}" fill="none" stroke="${color}" stroke-width="1.5"><title>${escapeXml(line.label)}</title></path>`);
    // Legend: one row in the top margin.
    const lx = MARGIN.left + index * 130;
    parts.push(`<line x1="${lx}" y1="12" x2="${lx + 16}" y2="12" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${lx + 20}" y="12" font-size="10" dominant-baseline="middle" fill="#222">${escapeXml(line.label)}</text>`);
  });
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 6}" font-size="11" text-anchor="middle" fill="#222">time (s)</text>`);
  parts.push(`<text x="14" y="${top + plotHeight / 2}" font-size="11" text-anchor="middle" fill="#222" transform="rotate(-90 14 ${top + plotHeight / 2})">${escapeXml(options.yLabel)}</text>`);
  return frame(title, options.className, parts.join(""));
}

/** What {@link latencyOverTimePlot} draws: a run's time line (see `RunTimeline` in report-model.ts). */
export interface LatencyTimeline {
  readonly intervalMs: number;
  /** Operations per interval: their number sets the time axis (the same as the throughput plot's). */
  readonly counts: readonly number[];
  readonly latency: readonly IntervalLatency[];
  readonly serverGc: ServerGcTimeline;
}

/** 1, 2, 5 × 10^k from `lowUs` to `highUs` (powers of ten). */
function logTicks(lowUs: number, highUs: number): number[] {
  const ticks: number[] = [];
  for (let decade = lowUs; decade < highUs * 1.0001; decade *= 10) {
    for (const step of [1, 2, 5]) if (decade * step <= highUs * 1.0001) ticks.push(decade * step);
  }
  return ticks;
}

const GC_COLORS: Readonly<Record<string, string>> = { Scavenge: "#8c959f", "Minor Mark-Sweep": "#8c959f" };

/**
 * p50 and p99 latency per interval (a point at the middle of each interval that had successes, on
 * a log scale), and the server's GC pauses on the same axes: a bar from the start to the end of
 * each pause, as high as the pause is long, so that a tail and a pause of the same size line up.
 * Full collections (Mark-Compact) are drawn darker than young-generation ones. Without a GC trace
 * the plot says why.
 */
export function latencyOverTimePlot(title: string, timeline: LatencyTimeline, size: PlotSize = { width: WIDE_WIDTH, height: 300 }): string {
  const { width, height } = size;
  const top = 34;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - top - MARGIN.bottom;
  const spanSeconds = Math.max(timeline.intervalMs / 1000, (timeline.counts.length * timeline.intervalMs) / 1000);
  const gc = timeline.serverGc;
  const pauses = gc.available ? gc.pauses : [];
  const values = [
    ...timeline.latency.flatMap((interval) => [interval.p50, interval.p99]).filter((value): value is number => value !== null && value > 0),
    ...pauses.map((pause) => pause.pauseMs * 1000).filter((value) => value > 0),
  ];
  const lowest = values.reduce((min, value) => Math.min(min, value), Number.POSITIVE_INFINITY);
  const highest = values.reduce((max, value) => Math.max(max, value), 0);
  const lowUs = Number.isFinite(lowest) ? 10 ** Math.floor(Math.log10(Math.max(1, lowest))) : 100;
  const highUs = Math.max(lowUs * 10, highest > 0 ? 10 ** Math.ceil(Math.log10(highest)) : 10_000);
  const x = (seconds: number): number => MARGIN.left + (Math.min(Math.max(seconds, 0), spanSeconds) / spanSeconds) * plotWidth;
  const y = (valueUs: number): number =>
    top + plotHeight - ((Math.log10(Math.min(Math.max(valueUs, lowUs), highUs)) - Math.log10(lowUs)) / (Math.log10(highUs) - Math.log10(lowUs))) * plotHeight;
  const parts: string[] = [];
  for (const tick of logTicks(lowUs, highUs)) {
    const py = y(tick).toFixed(1);
    const decade = Math.abs(Math.log10(tick) - Math.round(Math.log10(tick))) < 1e-9;
    parts.push(`<line x1="${MARGIN.left}" y1="${py}" x2="${width - MARGIN.right}" y2="${py}" stroke="${decade ? "#d0d7de" : "#eeeeee"}"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${py}" font-size="11" text-anchor="end" dominant-baseline="middle" fill="#444">${formatMs(tick)}</text>`);
  }
  for (const seconds of timeTicks(spanSeconds, width > WIDTH ? 10 : 5)) {
    parts.push(`<text x="${x(seconds).toFixed(1)}" y="${height - MARGIN.bottom + 16}" font-size="11" text-anchor="middle" fill="#444">${formatSeconds(seconds, spanSeconds)}</text>`);
  }
  // The pauses first, under the lines. Pauses that start in the same pixel column share one bar,
  // as high as the longest of them, so that a long run's thousands of pauses stay a small file.
  const columns: { left: number; right: number; longest: GcPause; count: number }[] = [];
  for (const pause of [...pauses].sort((a, b) => a.startMs - b.startMs)) {
    const startSeconds = pause.startMs / 1000;
    const left = x(startSeconds);
    const right = Math.max(left + 2, x(startSeconds + pause.pauseMs / 1000));
    const last = columns[columns.length - 1];
    if (last !== undefined && Math.floor(last.left) === Math.floor(left)) {
      last.right = Math.max(last.right, right);
      last.count++;
      if (pause.pauseMs > last.longest.pauseMs) last.longest = pause;
    } else {
      columns.push({ left, right, longest: pause, count: 1 });
    }
  }
  for (const column of columns) {
    const pause = column.longest;
    const barTop = y(pause.pauseMs * 1000);
    const color = GC_COLORS[pause.kind] ?? "#bf8700";
    const label = `server GC: ${pause.kind} ${pause.pauseMs.toFixed(2)} ms at ${(pause.startMs / 1000).toFixed(3)} s`;
    parts.push(
      `<rect class="gc-pause" x="${column.left.toFixed(1)}" y="${barTop.toFixed(1)}" width="${(column.right - column.left).toFixed(1)}" height="${(top + plotHeight - barTop).toFixed(1)}" fill="${color}" fill-opacity="0.55">` +
        `<title>${escapeXml(column.count === 1 ? label : `${label} (the longest of ${column.count} pauses here)`)}</title></rect>`,
    );
  }
  const intervalSeconds = timeline.intervalMs / 1000;
  for (const [key, label, color] of [["p50", "p50", "#1f6feb"], ["p99", "p99", "#cf222e"]] as const) {
    let path = "";
    let pen = false;
    const dots: string[] = [];
    for (const interval of timeline.latency) {
      const value = interval[key];
      if (value === null) {
        pen = false;
        continue;
      }
      const from = interval.startMs / 1000;
      const px = x(from + intervalSeconds / 2).toFixed(1);
      const py = y(value).toFixed(1);
      path += `${path === "" ? "" : " "}${pen ? "L" : "M"}${px},${py}`;
      pen = true;
      dots.push(
        `<circle class="${key}" cx="${px}" cy="${py}" r="2.5" fill="${color}"><title>${escapeXml(
          `${from.toFixed(2)}–${(from + intervalSeconds).toFixed(2)} s: ${label} ${formatMs(value)} ms (${interval.count.toLocaleString("en-US")} ops)`,
        )}</title></circle>`,
      );
    }
    if (path !== "") parts.push(`<path class="series ${key}-series" d="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    parts.push(...dots);
  }
  // Legend in the top margin.
  parts.push(`<line x1="${MARGIN.left}" y1="14" x2="${MARGIN.left + 16}" y2="14" stroke="#1f6feb" stroke-width="2"/><text x="${MARGIN.left + 20}" y="14" font-size="11" dominant-baseline="middle" fill="#222">p50</text>`);
  parts.push(`<line x1="${MARGIN.left + 60}" y1="14" x2="${MARGIN.left + 76}" y2="14" stroke="#cf222e" stroke-width="2"/><text x="${MARGIN.left + 80}" y="14" font-size="11" dominant-baseline="middle" fill="#222">p99</text>`);
  const gcLegendX = MARGIN.left + 124;
  if (!gc.available) {
    parts.push(`<text class="gc-unavailable" x="${gcLegendX}" y="14" font-size="11" dominant-baseline="middle" fill="#57606a">${escapeXml(`server GC pauses not shown: ${gc.reason}`)}</text>`);
  } else {
    parts.push(`<rect x="${gcLegendX}" y="8" width="6" height="12" fill="#8c959f" fill-opacity="0.55"/><rect x="${gcLegendX + 8}" y="8" width="6" height="12" fill="#bf8700" fill-opacity="0.55"/>`);
    const text =
      pauses.length === 0
        ? "server GC: no pause in this span"
        : `server GC pauses (${pauses.length.toLocaleString("en-US")}; bar height = pause, width = its time; grey: young generation, amber: full)`;
    parts.push(`<text x="${gcLegendX + 20}" y="14" font-size="11" dominant-baseline="middle" fill="#222">${escapeXml(text)}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#222">time (s), ${escapeXml(`${timeline.intervalMs} ms intervals`)}</text>`);
  parts.push(`<text x="14" y="${top + plotHeight / 2}" font-size="11" text-anchor="middle" fill="#222" transform="rotate(-90 14 ${top + plotHeight / 2})">latency (ms, log scale)</text>`);
  return frame(title, "latency-time-plot", parts.join(""), width, height);
}
