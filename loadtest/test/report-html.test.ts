import assert from "node:assert/strict";
import type { IntervalLatency } from "../src/interval-timeline";
import { renderHtmlReport, slowestInterval } from "../src/report-html";
import { latencyOverTimePlot, latencyPercentilePlot, niceCeiling, percentileToX, throughputPlot } from "../src/svg-plots";
import { sampleReport, sampleRun } from "./helpers/sample-runs";

describe("HTML report", () => {
  const html = renderHtmlReport(sampleReport([sampleRun("get-stateward-node-unary"), sampleRun("echo-echo-node")]));

  it("holds a latency-percentile plot, a latency-over-time plot and a throughput-over-time plot per run, as inline SVG", () => {
    assert.equal(html.match(/<svg class="plot latency-percentile-plot"/g)?.length, 2);
    assert.equal(html.match(/<svg class="plot latency-time-plot"/g)?.length, 2);
    assert.equal(html.match(/<svg class="plot throughput-plot"/g)?.length, 2);
    assert.match(html, /<path class="series" d="M/);
  });

  it("is self-contained: no script, no external resource", () => {
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /(src|href)="https?:/i);
    assert.match(html, /^<!doctype html>/);
  });

  it("has the summary table and the run figures, with titles escaped", () => {
    assert.match(html, /<th>p99\.9<\/th>/);
    assert.match(html, /get-stateward-node-unary &lt;title&gt;/);
    assert.doesNotMatch(html, /unary <title>/);
    assert.match(html, /server CPU/);
    assert.match(html, /Test CPU/);
  });
});

describe("latency over time", () => {
  // A synthetic 5 s run in 250 ms intervals: 20 intervals, two of them without a success.
  const latency: IntervalLatency[] = Array.from({ length: 20 }, (_, index) =>
    index === 7 || index === 8
      ? { startMs: index * 250, count: 0, p50: null, p99: null, max: null }
      : { startMs: index * 250, count: 1_000, p50: 800 + index, p99: index === 12 ? 40_000 : 3_000, max: index === 12 ? 45_000 : 3_500 },
  );
  const pauses = [
    { startMs: 3_010, pauseMs: 38.5, kind: "Mark-Compact" },
    { startMs: 600, pauseMs: 1.2, kind: "Scavenge" },
    { startMs: 4_100, pauseMs: 0.9, kind: "Scavenge" },
  ];
  const timeline = { intervalMs: 250, counts: latency.map((interval) => interval.count), latency, serverGc: { available: true as const, source: "test", pauses } };

  it("draws a p50 and a p99 point for every interval with successes, and breaks the lines at empty ones", () => {
    const svg = latencyOverTimePlot("t", timeline);
    assert.equal(svg.match(/<circle class="p50"/g)?.length, 18);
    assert.equal(svg.match(/<circle class="p99"/g)?.length, 18);
    // Two line segments each: before and after the gap.
    const p99Path = /<path class="series p99-series" d="([^"]*)"/.exec(svg)?.[1] ?? "";
    assert.equal(p99Path.match(/M/g)?.length, 2);
    assert.equal(p99Path.match(/L/g)?.length, 16);
    assert.match(svg, /3\.00–3\.25 s: p99 40\.0 ms \(1,000 ops\)/);
  });

  it("marks every server GC pause on the same time axis, as high as it is long", () => {
    const svg = latencyOverTimePlot("t", timeline);
    const bars = [...svg.matchAll(/<rect class="gc-pause" x="([\d.]+)" y="([\d.]+)"/g)];
    assert.equal(bars.length, 3);
    assert.match(svg, /server GC: Mark-Compact 38\.50 ms at 3\.010 s/);
    // The 38.5 ms pause starts in interval 12 (3.00–3.25 s), left of that interval's p99 point, and reaches about as high.
    const p99At12 = /<circle class="p99" cx="([\d.]+)" cy="([\d.]+)"[^>]*><title>3\.00/.exec(svg);
    const markCompact = /<rect class="gc-pause" x="([\d.]+)" y="([\d.]+)"[^>]*><title>server GC: Mark-Compact/.exec(svg);
    assert.ok(p99At12 !== null && markCompact !== null);
    const barX = Number(markCompact[1]);
    const pointX = Number(p99At12[1]);
    assert.ok(barX < pointX && pointX - barX < 40, `bar at ${barX}, point at ${pointX}`);
    assert.ok(Math.abs(Number(markCompact[2]) - Number(p99At12[2])) < 5);
  });

  it("draws pauses that start in the same pixel as one bar, as high as the longest", () => {
    const crowded = [0, 0.5, 1, 1.5].map((offset, index) => ({ startMs: 1_000 + offset, pauseMs: index === 2 ? 9 : 1, kind: "Scavenge" }));
    const svg = latencyOverTimePlot("t", { ...timeline, serverGc: { available: true, source: "test", pauses: [...pauses, ...crowded] } });
    assert.equal(svg.match(/class="gc-pause"/g)?.length, 4);
    assert.match(svg, /server GC: Scavenge 9\.00 ms at 1\.001 s \(the longest of 4 pauses here\)/);
  });

  it("says why when the server's GC pauses are not known", () => {
    const svg = latencyOverTimePlot("t", { ...timeline, serverGc: { available: false, reason: "redis-server is not a V8 process: there is no GC trace to read" } });
    assert.doesNotMatch(svg, /class="gc-pause"/);
    assert.match(svg, /class="gc-unavailable"[^>]*>server GC pauses not shown: redis-server is not a V8 process/);
  });

  it("names the slowest interval and the GC pauses in it", () => {
    const run = sampleRun("get-stateward-node-unary");
    assert.equal(
      slowestInterval(run),
      "p99 15.0 ms in 1.00–2.00 s (p50 0.60 ms, 1,000 Gets); server GC in it: 1 pause, 14.0 ms in all, longest Mark-Compact 14.0 ms at 1.200 s",
    );
    const html = renderHtmlReport(sampleReport([run]));
    assert.match(html, /<dt>slowest interval<\/dt><dd>p99 15\.0 ms in 1\.00–2\.00 s/);
    assert.match(html, /<dt>time line<\/dt><dd>3 intervals of 1000 ms/);
    const redis = sampleRun("get-redis-node", { timeline: { ...run.timeline, serverGc: { available: false, reason: "no trace" } } });
    assert.match(slowestInterval(redis), /; server GC not known: no trace$/);
  });
});

describe("SVG plot geometry", () => {
  it("stretches the tail: each nine is one unit further", () => {
    assert.equal(percentileToX(0), 0);
    assert.ok(Math.abs(percentileToX(90) - 1) < 1e-9);
    assert.ok(Math.abs(percentileToX(99.9) - 3) < 1e-9);
    assert.ok(Math.abs(percentileToX(100) - 6) < 1e-6);
  });

  it("rounds axis maxima up to 1, 2 or 5 × 10^n", () => {
    assert.equal(niceCeiling(0), 1);
    assert.equal(niceCeiling(1.2), 2);
    assert.equal(niceCeiling(3_000), 5_000);
    assert.equal(niceCeiling(7_001), 10_000);
  });

  it("draws a point per percentile and a step per interval", () => {
    const latency = latencyPercentilePlot("t", [
      { percentile: 50, valueUs: 1_000 },
      { percentile: 99, valueUs: 5_000 },
    ]);
    assert.equal(latency.match(/<circle/g)?.length, 2);
    const throughput = throughputPlot("t", [10, 20, 30], 1_000);
    assert.equal(throughput.match(/ L/g)?.length, 5);
  });
});
