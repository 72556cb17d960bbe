import assert from "node:assert/strict";
import { renderBenchmarksMarkdown } from "../src/benchmarks-markdown";
import { nounFor, plural } from "../src/plural";
import { formatProgress } from "../src/progress-line";
import { renderHtmlReport } from "../src/report-html";
import { sampleReport, sampleRun } from "./helpers/sample-runs";

describe("plural", () => {
  it("uses the singular for exactly one and the plural otherwise, zero included", () => {
    assert.equal(plural(1, "worker"), "1 worker");
    assert.equal(plural(2, "worker"), "2 workers");
    assert.equal(plural(0, "error"), "0 errors");
    assert.equal(plural(10_000, "session"), "10,000 sessions");
    assert.equal(plural(1, "Lock+Set pair"), "1 Lock+Set pair");
    assert.equal(nounFor(3, "CPU"), "CPUs");
  });

  it("takes an irregular plural", () => {
    assert.equal(plural(1, "process", "processes"), "1 process");
    assert.equal(plural(3, "process", "processes"), "3 processes");
  });

  it("is used by the progress line", () => {
    assert.equal(formatProgress("get", 1000, 1, 1, 1), "get  1.0 s  1 done  1/s  1 error");
  });

  it("is used by the HTML report and BENCHMARKS.md: no \"1 workers\", \"1 channels\", \"1 sessions\", \"1 CPUs\"", () => {
    const run = sampleRun("get-stateward-node-unary", {
      settings: { mode: "closed", inFlight: 1, channels: 1, workers: 1, concurrency: 1, durationMs: 1_000, warmupMs: 0, payload: "1 KiB", pool: 1 },
      completed: 1,
      server: { cpuUsPerOp: 1, cpuCores: 1, rssBytes: 1, peakRssBytes: 1, gc: { count: 1, totalPauseMs: 1, maxPauseMs: 1, maxPauseKind: "Scavenge" } },
    });
    const report = sampleReport([run]);
    const oneCpu = { ...report, machine: { ...report.machine, cpus: 1 } };
    const html = renderHtmlReport(oneCpu);
    assert.match(html, /1 in flight × 1 channel × 1 worker = 1/);
    assert.match(html, /1 KiB, 1 session</);
    assert.match(html, /1 Get, /);
    assert.match(html, /1 collection, /);
    assert.match(html, /· 1 CPU \(/);
    const markdown = renderBenchmarksMarkdown(oneCpu, { suiteCommand: "x", reportDir: "." });
    assert.match(markdown, /\(on 1 CPU;/);
    for (const text of [html, markdown]) assert.doesNotMatch(text, /\b1 (workers|channels|sessions|CPUs|collections|Gets|runs)\b/);
  });
});
