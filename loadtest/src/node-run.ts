/**
 * A run of the Node generator: split the load over worker threads, sample the server's CPU time
 * and the generator's own around the measured phase, and turn what was measured into a
 * {@link RunResult}. Also the preloading of session pools.
 */
import os from "node:os";
import { performance } from "node:perf_hooks";
import type { CliOptions } from "./args";
import type { GcTracker } from "./gc-trace";
import { gcTimeline, type GcSource } from "./gc-timeline";
import { intervalMsOf, summarizeIntervals } from "./interval-timeline";
import type { LiveCounters } from "./load-driver";
import { formatPayloadSpec, type PayloadSpec } from "./payloads";
import { sampleProcess, type ProcessSample } from "./process-stats";
import { startProgress, type ProgressOptions } from "./progress-line";
import type { RunResult, RunSettings } from "./report-model";
import type { TargetSpec } from "./target-spec";
import { runOnThreads } from "./worker-pool";
import type { WorkloadName, WorkSpec } from "./work-spec";
import { plural } from "./plural";

/** The load shape of a run (concurrency, rate, duration), as the command line gave it. */
export type LoadShape = Pick<NodeRunParams, "mode" | "inFlight" | "channels" | "workers" | "ratePerSecond" | "durationMs" | "warmupMs" | "maxRequests" | "intervalMs">;

/** The {@link LoadShape} of `options`: every scenario's Node run takes it unchanged. */
export function loadShapeOf(options: CliOptions): LoadShape {
  return {
    mode: options.mode,
    inFlight: options.inFlight,
    channels: options.channels,
    workers: options.workers,
    ...(options.rate === undefined ? {} : { ratePerSecond: options.rate }),
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    ...(options.requests === undefined ? {} : { maxRequests: options.requests }),
    intervalMs: intervalMsOf(options),
  };
}

/** The server process whose own CPU time and memory are reported. */
export interface ObservedServer {
  readonly pid: number;
  readonly gc?: GcTracker;
}

/** A second process whose CPU time is reported beside the server's (its backend, e.g. redis-server). */
export interface ObservedPeer {
  readonly name: string;
  readonly pid: number;
}

/** Parameters of {@link runNodeLoad}. */
export interface NodeRunParams {
  readonly id: string;
  readonly title: string;
  readonly scenario: string;
  /** `stateward`, `redis` or `echo`. */
  readonly targetLabel: string;
  readonly unit: string;
  readonly command: string;
  readonly workload: WorkloadName;
  readonly target: TargetSpec;
  readonly mode: "closed" | "open";
  readonly inFlight: number;
  readonly channels: number;
  readonly workers: number;
  /** Open loop: total arrivals per second over all workers. */
  readonly ratePerSecond?: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly maxRequests?: number;
  /** Interval of the time line (throughput, latency and GC over time), ms. */
  readonly intervalMs: number;
  readonly payload: PayloadSpec;
  readonly pool: { readonly prefix: string; readonly size: number };
  readonly writeRatio: number;
  readonly thinkMs: number;
  readonly leaseMs: number;
  readonly server?: ObservedServer;
  /** The server's backend process, sampled at the same instants as the server. */
  readonly peer?: ObservedPeer;
  /** The server's GC trace for the time line, or why there is none. */
  readonly gcSource: GcSource;
  readonly progress: ProgressOptions;
}

function workSpecs(params: NodeRunParams): WorkSpec[] {
  const workers = Math.max(1, params.workers);
  return Array.from({ length: workers }, () => ({
    workload: params.workload,
    target: params.target,
    channels: params.channels,
    load: {
      mode: params.mode,
      concurrency: params.inFlight * params.channels,
      ratePerSecond: params.ratePerSecond === undefined ? undefined : params.ratePerSecond / workers,
      warmupMs: params.warmupMs,
      durationMs: params.durationMs,
      maxRequests: params.maxRequests === undefined ? undefined : Math.ceil(params.maxRequests / workers),
      intervalMs: params.intervalMs,
    },
    payload: params.payload,
    pool: params.pool,
    writeRatio: params.writeRatio,
    thinkMs: params.thinkMs,
    leaseMs: params.leaseMs,
    preloadFrom: 0,
  }));
}

/** The settings block of a run's report. */
export function runSettings(params: NodeRunParams): RunSettings {
  return {
    mode: params.mode,
    inFlight: params.inFlight,
    channels: params.channels,
    workers: params.workers,
    concurrency: params.inFlight * params.channels * params.workers,
    ...(params.ratePerSecond === undefined ? {} : { ratePerSecond: params.ratePerSecond }),
    durationMs: params.durationMs,
    warmupMs: params.warmupMs,
    ...(params.maxRequests === undefined ? {} : { maxRequests: params.maxRequests }),
    payload: formatPayloadSpec(params.payload),
    pool: params.pool.size,
  };
}

/** Runs the measured load and reports it. */
export async function runNodeLoad(params: NodeRunParams): Promise<RunResult> {
  const live: LiveCounters = { completed: 0, errors: 0 };
  let serverBefore: ProcessSample | undefined;
  let peerBefore: ProcessSample | undefined;
  let clientBefore: NodeJS.CpuUsage | undefined;
  let wallBefore = 0;
  // The measured phase's start on this thread's performance clock: the GC tracker's clock too.
  let measureStart = 0;
  const stopProgress = startProgress(params.title, live, params.progress);
  let result;
  try {
    result = await runOnThreads(workSpecs(params), {
      live,
      beforeMeasure: () => {
        params.server?.gc?.reset();
        serverBefore = params.server === undefined ? undefined : sampleProcess(params.server.pid);
        peerBefore = params.peer === undefined ? undefined : sampleProcess(params.peer.pid);
        clientBefore = process.cpuUsage();
        wallBefore = Date.now();
        measureStart = performance.now();
      },
    });
  } finally {
    stopProgress();
  }
  const serverAfter = params.server === undefined ? undefined : sampleProcess(params.server.pid);
  const peerAfter = params.peer === undefined ? undefined : sampleProcess(params.peer.pid);
  const clientCpu = process.cpuUsage(clientBefore);
  const wallMs = Math.max(1, Date.now() - wallBefore);
  const ops = Math.max(1, result.completed);
  const notes: string[] = [];
  const server =
    serverBefore !== undefined && serverAfter !== undefined
      ? {
          cpuUsPerOp: (serverAfter.cpuUs - serverBefore.cpuUs) / ops,
          cpuCores: (serverAfter.cpuUs - serverBefore.cpuUs) / 1000 / wallMs,
          rssBytes: serverAfter.rssBytes,
          peakRssBytes: serverAfter.peakRssBytes,
          ...(params.server?.gc === undefined ? {} : { gc: params.server.gc.summary() }),
        }
      : undefined;
  if (server === undefined) notes.push("server CPU and RSS not measured: the server's pid is unknown (give --server-pid)");
  const peer =
    params.peer !== undefined && peerBefore !== undefined && peerAfter !== undefined
      ? { name: params.peer.name, cpuUsPerOp: (peerAfter.cpuUs - peerBefore.cpuUs) / ops, cpuCores: (peerAfter.cpuUs - peerBefore.cpuUs) / 1000 / wallMs }
      : undefined;
  if (params.peer !== undefined && peer === undefined) notes.push(`${params.peer.name} CPU not measured: its /proc/<pid>/stat could not be read`);
  // The time line shows the measured phase only: completions after it (the in-flight tail) are in
  // the totals, but a last, nearly empty interval would read as a throughput collapse. A run in
  // count mode ends where its last request did.
  const planned = Math.ceil(params.durationMs / params.intervalMs);
  const intervals = params.maxRequests === undefined ? planned : Math.min(planned, result.timeline.length);
  const recording = { counts: result.timeline, latency: result.intervalLatency };
  return {
    id: params.id,
    title: params.title,
    scenario: params.scenario,
    target: params.targetLabel,
    generator: "node",
    ...(params.target.kind === "stateward" ? { transport: params.target.transport } : {}),
    command: params.command,
    settings: runSettings(params),
    unit: params.unit,
    throughput: result.measuredMs > 0 ? (result.completed * 1000) / result.measuredMs : 0,
    completed: result.completed,
    measuredMs: result.measuredMs,
    latency: result.histogram.summary(),
    distribution: result.histogram.distribution(),
    histogram: result.histogram.encode(),
    outcomes: result.outcomes,
    errors: result.errors,
    timeline: {
      intervalMs: params.intervalMs,
      counts: Array.from({ length: intervals }, (_, index) => result.timeline[index] ?? 0),
      latency: summarizeIntervals(recording, params.intervalMs, intervals),
      serverGc: gcTimeline(params.gcSource, measureStart, intervals * params.intervalMs),
    },
    ...(server === undefined ? {} : { server }),
    ...(peer === undefined ? {} : { peer }),
    client: { cpuUsPerOp: (clientCpu.user + clientCpu.system) / ops },
    extra: {},
    notes,
    loadAverage: os.loadavg()[0] ?? 0,
  };
}

/** What a preload did. */
export interface PreloadResult {
  readonly written: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly ms: number;
}

/**
 * Writes sessions `<prefix>0` … `<prefix>(size-1)` with unlocked Sets, spread over `workers`
 * threads; bounded by `maxMs`.
 */
export async function preloadPool(
  target: TargetSpec,
  pool: { readonly prefix: string; readonly size: number },
  payload: PayloadSpec,
  shape: { readonly workers: number; readonly channels: number; readonly inFlight: number; readonly maxMs: number },
  progress: ProgressOptions,
): Promise<PreloadResult> {
  const workers = Math.max(1, Math.min(shape.workers, pool.size));
  const share = Math.ceil(pool.size / workers);
  const specs: WorkSpec[] = [];
  for (let worker = 0; worker < workers; worker++) {
    const from = worker * share;
    const count = Math.min(share, pool.size - from);
    if (count <= 0) break;
    specs.push({
      workload: "preload",
      target,
      channels: shape.channels,
      load: { mode: "closed", concurrency: shape.inFlight * shape.channels, warmupMs: 0, durationMs: shape.maxMs, maxRequests: count, intervalMs: 1000 },
      payload,
      pool,
      writeRatio: 0,
      thinkMs: 0,
      leaseMs: 0,
      preloadFrom: from,
    });
  }
  const live: LiveCounters = { completed: 0, errors: 0 };
  const stop = startProgress(`preload ${plural(pool.size, "session")}`, live, progress);
  const started = Date.now();
  try {
    const result = await runOnThreads(specs, { live, beforeMeasure: () => undefined });
    return { written: result.histogram.count, errors: result.errors, ms: Date.now() - started };
  } finally {
    stop();
  }
}
