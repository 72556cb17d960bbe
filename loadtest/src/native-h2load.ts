/**
 * The native generator: h2load (Debian's nghttp2-client) posting a pre-framed gRPC request over
 * HTTP/2, which takes the client's cost out of the picture and finds the server's ceiling. One
 * fixed request body per run, so it drives Get of one session or Echo; h2load sees HTTP status,
 * not grpc-status, so the caller checks the same request once through a real client first.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { gcTimeline, type GcSource } from "./gc-timeline";
import { parseH2loadLog } from "./h2load-log";
import { summarizeIntervals } from "./interval-timeline";
import type { ObservedServer } from "./node-run";
import { sampleProcess } from "./process-stats";
import type { RunResult, RunSettings } from "./report-model";

/** Parameters of {@link runH2load}. */
export interface H2loadParams {
  readonly id: string;
  readonly title: string;
  readonly scenario: string;
  readonly targetLabel: string;
  readonly unit: string;
  readonly command: string;
  /** `host:port`. */
  readonly address: string;
  /** gRPC method path, e.g. `/stateward.v1.SessionState/Get`. */
  readonly path: string;
  /** The framed request body. */
  readonly body: Buffer;
  /** HTTP/2 connections. */
  readonly connections: number;
  /** Streams in flight per connection. */
  readonly inFlight: number;
  /** h2load threads. */
  readonly threads: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly intervalMs: number;
  readonly payload: string;
  readonly server?: ObservedServer;
  /** The server's GC trace for the time line, or why there is none. */
  readonly gcSource: GcSource;
  /** The h2load binary. */
  readonly binary?: string;
}

function run(binary: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, [...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`h2load failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Runs h2load: a warm-up run, then the measured one, with the server's CPU sampled around it. */
export async function runH2load(params: H2loadParams): Promise<RunResult> {
  const binary = params.binary ?? "h2load";
  const dir = mkdtempSync(path.join(os.tmpdir(), "stateward-h2load-"));
  try {
    const bodyFile = path.join(dir, "request.bin");
    const logFile = path.join(dir, "requests.log");
    writeFileSync(bodyFile, params.body);
    const common = [
      "-c", String(params.connections),
      "-m", String(params.inFlight),
      "-t", String(params.threads),
      "-d", bodyFile,
      "-H", "content-type: application/grpc",
      "-H", "te: trailers",
    ];
    const url = `http://${params.address}${params.path}`;
    const seconds = (ms: number): string => `${Math.max(1, Math.round(ms / 1000))}`;
    if (params.warmupMs > 0) await run(binary, [...common, "-D", seconds(params.warmupMs), url], params.warmupMs + 30_000);
    params.server?.gc?.reset();
    const before = params.server === undefined ? undefined : sampleProcess(params.server.pid);
    const started = Date.now();
    await run(binary, [...common, "-D", seconds(params.durationMs), "--log-file", logFile, url], params.durationMs + 30_000);
    const wallMs = Math.max(1, Date.now() - started);
    const after = params.server === undefined ? undefined : sampleProcess(params.server.pid);
    const log = parseH2loadLog(readFileSync(logFile, "utf8"), params.intervalMs);
    const completed = log.ok + Object.values(log.errors).reduce((sum, count) => sum + count, 0);
    const settings: RunSettings = {
      mode: "closed",
      inFlight: params.inFlight,
      channels: params.connections,
      workers: params.threads,
      concurrency: params.inFlight * params.connections,
      durationMs: params.durationMs,
      warmupMs: params.warmupMs,
      payload: params.payload,
      pool: 1,
    };
    return {
      id: params.id,
      title: params.title,
      scenario: params.scenario,
      target: params.targetLabel,
      generator: "h2load",
      command: params.command,
      settings,
      unit: params.unit,
      throughput: log.spanMs > 0 ? (completed * 1000) / log.spanMs : 0,
      completed,
      measuredMs: log.spanMs,
      latency: log.histogram.summary(),
      distribution: log.histogram.distribution(),
      histogram: log.histogram.encode(),
      outcomes: { OK: log.ok },
      errors: log.errors,
      timeline: {
        intervalMs: params.intervalMs,
        counts: log.timeline,
        latency: summarizeIntervals({ counts: log.timeline, latency: log.intervalLatency }, params.intervalMs, log.timeline.length),
        // h2load's times are the epoch's; the GC tracker's are this thread's performance clock.
        serverGc: gcTimeline(params.gcSource, log.startUs / 1000 - performance.timeOrigin, log.timeline.length * params.intervalMs),
      },
      ...(before !== undefined && after !== undefined
        ? {
            server: {
              // h2load's whole measured run (including its connection setup) over its completions.
              cpuUsPerOp: (after.cpuUs - before.cpuUs) / Math.max(1, completed),
              cpuCores: (after.cpuUs - before.cpuUs) / 1000 / wallMs,
              rssBytes: after.rssBytes,
              peakRssBytes: after.peakRssBytes,
              ...(params.server?.gc === undefined ? {} : { gc: params.server.gc.summary() }),
            },
          }
        : {}),
      extra: {},
      loadAverage: os.loadavg()[0] ?? 0,
      notes: ["h2load checks HTTP status only; the request was verified once through the gRPC client before the run"],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
