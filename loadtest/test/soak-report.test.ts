import assert from "node:assert/strict";
import { LatencyHistogram } from "../src/latency-histogram";
import { parseSoakArgs } from "../src/soak-args";
import { percentile, renderSoakHtml, type SoakReport } from "../src/soak-report";
import type { SoakSample } from "../src/soak-sampler";
import { rssGrowthVerdict } from "../src/soak-verdict";
import { timeSeriesPlot } from "../src/svg-plots";

const MIB = 1024 * 1024;

function sample(t: number): SoakSample {
  return {
    tMs: t * 1000,
    rssBytes: (150 + (t % 3)) * MIB,
    rssAnonBytes: (110 + (t % 3)) * MIB,
    serverCpuCores: 0.4,
    // The scrape at t = 7 failed: no server gauges.
    serverLoopDelay: t === 7 ? null : { p50Ms: 0.2, p99Ms: 4 + (t % 5), maxMs: 10 + (t % 5) },
    generatorLoopDelay: { p50Ms: 0.1, p99Ms: 3, maxMs: 8 },
    opsPerSecond: 5000,
    errorsPerSecond: 200,
    errors: { CANCELLED: 150, DEADLINE_EXCEEDED: 50 },
    sessions: t === 7 ? null : 3500,
    locksHeld: t === 7 ? null : 12,
    waiters: t === 7 ? null : 3,
    expiredPerSecond: t === 7 ? null : 350,
    leaseExpiries: t === 7 ? null : 0,
    memoryUsedBytes: t === 7 ? null : 40 * MIB,
    gcMaxPauseMs: 6,
    loadAverage: 1.5,
  };
}

function report(failures: string[]): SoakReport {
  const samples = Array.from({ length: 60 }, (_, t) => sample(t + 1));
  const options = parseSoakArgs(["--duration", "60s"]);
  const histogram = new LatencyHistogram();
  for (let us = 100; us <= 5_000; us += 7) histogram.record(us);
  const growth = rssGrowthVerdict(
    samples.map((s) => ({ tMs: s.tMs, rssBytes: s.rssBytes ?? 0 })),
    { warmupMs: options.warmupMs, tolerancePercent: 10, toleranceBytes: 32 * MIB, minSamplesPerThird: 5 },
  );
  return {
    tool: "stateward-loadtest",
    kind: "soak",
    reportVersion: 1,
    startedAt: "2026-12-01T10:00:00.000Z",
    finishedAt: "2026-12-01T10:01:10.000Z",
    command: "stateward-loadtest soak --duration 60s",
    machine: { cpus: 2, cpuModel: "Test CPU", memoryBytes: 24 * 1024 ** 3, nodeVersion: "v20.20.2", platform: "linux x64", kernel: "6.1", loadAverageAtStart: 0.5 },
    options,
    server: { address: "127.0.0.1:40000", metricsPort: 40001, pid: 1234, command: "node --trace-gc server/dist/cli.js serve --host 127.0.0.1" },
    verdict: {
      passed: failures.length === 0,
      failures,
      growth,
      lockedAtEnd: [],
      sessionsChecked: 2064,
      uncheckedSessions: 0,
      abortLeaks: [],
      waiterGrants: 0,
      leaseExpiries: 0,
      locksHeldAfterCheck: 0,
      drained: true,
      expiry: { swept: true, residentAfter: 2060, residentLimit: 2064, waitedMs: 4200, sampled: 256, servedAfterExpiry: 0 },
      shortLivedCreated: 20_000,
    },
    summary: {
      operations: 300_000,
      opsPerSecond: 5_000,
      loadMs: 60_000,
      rssIdleBytes: 70 * MIB,
      rssStartBytes: 150 * MIB,
      rssEndBytes: 151 * MIB,
      rssMaxSampledBytes: 152 * MIB,
      rssPeakBytes: 155 * MIB,
      serverLoopDelayMedianP99Ms: 6,
      serverLoopDelayP99Ms: 8,
      serverLoopDelayMaxMs: 14,
      generatorLoopDelayMedianP99Ms: 3,
      generatorLoopDelayP99Ms: 3,
      generatorLoopDelayMaxMs: 8,
      serverCpuCores: 0.4,
      gcMaxPauseMs: 6,
      expiredPerSecond: 350,
      scrapeFailures: 1,
      loadAverageStart: 0.5,
      loadAverageEnd: 1.5,
    },
    operations: { get: { count: 100, outcomes: { ok: 90, "not-found": 10 }, errors: {}, latency: histogram.summary() } },
    errors: { CANCELLED: 9000 },
    unexpectedErrors: {},
    latency: { summary: histogram.summary(), distribution: histogram.distribution() },
    samples,
    notes: ["a <note>"],
  };
}

describe("soak: HTML report", () => {
  it("plots RSS and both event-loop delays over time, with the thirds and the limit", () => {
    const html = renderSoakHtml(report([]));
    for (const plot of ["rss-plot", "server-loop-delay-plot", "generator-loop-delay-plot", "throughput-plot", "cpu-plot", "sessions-plot", "latency-percentile-plot"]) {
      assert.equal(html.match(new RegExp(`<svg class="plot ${plot}"`, "g"))?.length, 1, plot);
    }
    const rss = /<svg class="plot rss-plot"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? "";
    assert.equal(rss.match(/class="marker"/g)?.length, 3);
    assert.equal(rss.match(/class="level"/g)?.length, 3);
    assert.match(rss, /limit 183\.0 MiB/);
    assert.match(html, /PASSED: RSS stable/);
  });

  it("breaks the server's lines where a scrape failed", () => {
    const html = renderSoakHtml(report([]));
    const server = /<svg class="plot server-loop-delay-plot"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? "";
    const p99 = /<path class="series" d="([^"]*)"/.exec(server)?.[1] ?? "";
    assert.equal(p99.match(/M/g)?.length, 2, "one gap, two pieces");
  });

  it("lists failures, escapes text, and stays self-contained", () => {
    const html = renderSoakHtml(report(["RSS keeps growing: <x>", "1 session still locked"]));
    assert.match(html, /<div class="fail"><p>FAILED:<\/p><ul><li>RSS keeps growing: &lt;x&gt;<\/li><li>1 session still locked<\/li><\/ul>/);
    assert.match(html, /a &lt;note&gt;/);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /(src|href)="https?:/i);
  });

  it("percentile by nearest rank", () => {
    assert.equal(percentile([], 99), null);
    assert.equal(percentile([5, 1, 3], 50), 3);
    assert.equal(percentile(Array.from({ length: 100 }, (_, index) => index + 1), 99), 99);
    assert.equal(percentile([7], 99), 7);
  });
});

describe("SVG time-series plot", () => {
  it("draws a path per series, a legend entry each, and scales to the largest value or level", () => {
    const svg = timeSeriesPlot(
      "t",
      [
        { label: "a", points: [[0, 1], [1, 2], [2, 3]] },
        { label: "b", points: [[0, null], [1, 5], [2, null], [3, 4]] },
      ],
      { className: "x-plot", yLabel: "ms", levels: [{ y: 9, label: "limit" }], markers: [{ x: 1, label: "warm-up end" }] },
    );
    assert.match(svg, /^<svg class="plot x-plot"/);
    assert.equal(svg.match(/<path class="series"/g)?.length, 2);
    assert.match(svg, /<path class="series" d="M[0-9.]+,[0-9.]+ M[0-9.]+,[0-9.]+"/, "b: two one-point pieces");
    // The axis goes to niceCeiling(9) = 10.
    assert.match(svg, />10\.0</);
    assert.equal(svg.match(/class="marker"/g)?.length, 1);
    assert.equal(svg.match(/class="level"/g)?.length, 1);
  });
});
