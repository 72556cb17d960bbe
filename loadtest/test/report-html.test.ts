import assert from "node:assert/strict";
import { renderHtmlReport } from "../src/report-html";
import { latencyPercentilePlot, niceCeiling, percentileToX, throughputPlot } from "../src/svg-plots";
import { sampleReport, sampleRun } from "./helpers/sample-runs";

describe("HTML report", () => {
  const html = renderHtmlReport(sampleReport([sampleRun("get-stateward-node-unary"), sampleRun("echo-echo-node")]));

  it("holds a latency-percentile plot and a throughput-over-time plot per run, as inline SVG", () => {
    assert.equal(html.match(/<svg class="plot latency-percentile-plot"/g)?.length, 2);
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
