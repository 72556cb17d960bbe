/** Synthetic runs for the report tests: real histograms, made-up but consistent figures. */
import { LatencyHistogram } from "../../src/latency-histogram";
import type { Report, RunResult } from "../../src/report-model";

/** A run whose latencies are `fromUs` … `toUs` and whose server spends `cpuUsPerOp`. */
export function sampleRun(id: string, overrides: Partial<RunResult> = {}, fromUs = 100, toUs = 2_000, cpuUsPerOp = 50): RunResult {
  const histogram = new LatencyHistogram();
  for (let value = fromUs; value <= toUs; value++) histogram.record(value);
  return {
    id,
    title: `${id} <title>`,
    scenario: id.split("-")[0] ?? id,
    target: "stateward",
    generator: "node",
    command: `npx stateward-loadtest ${id}`,
    settings: { mode: "closed", inFlight: 32, channels: 2, workers: 1, concurrency: 64, durationMs: 10_000, warmupMs: 2_000, payload: "1 KiB", pool: 10_000 },
    unit: "Get",
    throughput: 10_000,
    completed: histogram.count,
    measuredMs: 10_000,
    latency: histogram.summary(),
    distribution: histogram.distribution(),
    histogram: histogram.encode(),
    outcomes: { OK: histogram.count },
    errors: {},
    timeline: {
      intervalMs: 1_000,
      counts: [900, 1_000, 1_100],
      latency: [
        { startMs: 0, count: 900, p50: 500, p99: 1_900, max: 2_000 },
        { startMs: 1_000, count: 1_000, p50: 600, p99: 15_000, max: 20_000 },
        { startMs: 2_000, count: 1_100, p50: 550, p99: 1_800, max: 1_990 },
      ],
      serverGc: {
        available: true,
        source: "test",
        pauses: [
          { startMs: 400, pauseMs: 1.5, kind: "Scavenge" },
          { startMs: 1_200, pauseMs: 14, kind: "Mark-Compact" },
        ],
      },
    },
    server: { cpuUsPerOp, cpuCores: 0.9, rssBytes: 100 * 1024 * 1024, peakRssBytes: 120 * 1024 * 1024, gc: { count: 3, totalPauseMs: 4, maxPauseMs: 2, maxPauseKind: "Scavenge" } },
    client: { cpuUsPerOp: 150 },
    extra: {},
    notes: [],
    ...overrides,
  };
}

/** A report around `runs`. */
export function sampleReport(runs: RunResult[]): Report {
  return {
    tool: "stateward-loadtest",
    reportVersion: 1,
    startedAt: "2026-11-24T10:00:00.000Z",
    finishedAt: "2026-11-24T10:08:00.000Z",
    command: "stateward-loadtest suite",
    machine: { cpus: 2, cpuModel: "Test CPU", memoryBytes: 24 * 1024 ** 3, nodeVersion: "v20.20.2", platform: "linux x64", kernel: "6.1", loadAverageAtStart: 1.5 },
    runs,
  };
}
