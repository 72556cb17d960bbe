import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LatencyHistogram } from "../src/latency-histogram";
import { writeReportFiles } from "../src/report-files";
import type { Report } from "../src/report-model";
import { sampleReport, sampleRun } from "./helpers/sample-runs";

describe("report files", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "loadtest-report-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a JSON report of the documented shape, and the HTML beside it", () => {
    const paths = writeReportFiles(sampleReport([sampleRun("get-stateward-node-unary")]), path.join(dir, "nested"));
    const report = JSON.parse(readFileSync(paths.json, "utf8")) as Report;
    assert.equal(report.tool, "stateward-loadtest");
    assert.equal(report.reportVersion, 1);
    assert.equal(report.machine.cpus, 2);
    const [run] = report.runs;
    assert.ok(run !== undefined);
    assert.deepEqual(Object.keys(run.latency).sort(), ["count", "max", "mean", "p50", "p90", "p99", "p999"]);
    assert.equal(typeof run.throughput, "number");
    assert.deepEqual(run.errors, {});
    assert.equal(typeof run.server?.cpuUsPerOp, "number");
    assert.equal(typeof run.server?.rssBytes, "number");
    assert.equal(run.timeline.counts.length, 3);
    // Latency over time and the server's GC pauses travel in the JSON, interval by interval.
    assert.deepEqual(Object.keys(run.timeline).sort(), ["counts", "intervalMs", "latency", "serverGc"]);
    assert.equal(run.timeline.latency.length, run.timeline.counts.length);
    assert.deepEqual(Object.keys(run.timeline.latency[0] ?? {}).sort(), ["count", "max", "p50", "p99", "startMs"]);
    assert.ok(run.timeline.serverGc.available && run.timeline.serverGc.pauses.length === 2);
    // The histogram travels in the report: percentiles can be recomputed from it.
    assert.equal(LatencyHistogram.decode(run.histogram).count, run.latency.count);
    assert.match(readFileSync(paths.html, "utf8"), /latency-percentile-plot/);
  });
});
