/** The shape of the JSON report: one {@link Report} holds every run of an invocation. */
import type { GcSummary } from "./gc-trace";
import type { ServerGcTimeline } from "./gc-timeline";
import type { IntervalLatency } from "./interval-timeline";
import type { LatencySummary, PercentilePoint } from "./latency-histogram";

/** How a run was driven. */
export interface RunSettings {
  /** `closed` (fixed concurrency) or `open` (fixed arrival rate). */
  readonly mode: "closed" | "open";
  /** Requests in flight per channel. */
  readonly inFlight: number;
  /** Channels (connections) per worker. */
  readonly channels: number;
  /** Worker threads (or, for ghz, its worker count). */
  readonly workers: number;
  /** inFlight × channels × workers. */
  readonly concurrency: number;
  /** Open loop: total arrivals per second. */
  readonly ratePerSecond?: number;
  /** Measured phase, ms. */
  readonly durationMs: number;
  /** Warm-up before it, ms. */
  readonly warmupMs: number;
  /** Count mode: measured requests asked for. */
  readonly maxRequests?: number;
  /** Payload size(s), human form. */
  readonly payload: string;
  /** Session pool size (0 when not applicable). */
  readonly pool: number;
}

/** What the server process did during the measured phase (absent for a server given by address without its pid). */
export interface ServerFigures {
  /** Server CPU time (user + system) per operation, µs. */
  readonly cpuUsPerOp: number;
  /** Server CPU time over wall time (1.0 = one core busy). */
  readonly cpuCores: number;
  /** RSS at the end of the measured phase, bytes. */
  readonly rssBytes: number;
  /** Peak RSS of the process so far, bytes. */
  readonly peakRssBytes: number;
  /** Garbage collections during the measured phase (Node servers started by the tool). */
  readonly gc?: GcSummary;
}

/**
 * CPU of a second process the operations pass through (redis-server behind a Stateward node over
 * Redis), over the same measured phase, from its /proc/<pid>/stat.
 */
export interface PeerFigures {
  /** What it is, e.g. `redis-server`. */
  readonly name: string;
  /** Its CPU time (user + system) per operation, µs. */
  readonly cpuUsPerOp: number;
  /** Its CPU time over wall time (1.0 = one core busy). */
  readonly cpuCores: number;
}

/** A run's measured phase over time, every time in ms after its start. */
export interface RunTimeline {
  /** Length of an interval, ms (`--interval-ms`; by default chosen for at least 40 intervals). */
  readonly intervalMs: number;
  /** Operations completed per interval (successes and failures). */
  readonly counts: readonly number[];
  /** p50, p99 and max latency of the successful operations per interval (same indexes as `counts`). */
  readonly latency: readonly IntervalLatency[];
  /** The server's GC pauses on the same axis, or why they are unknown (e.g. redis-server). */
  readonly serverGc: ServerGcTimeline;
}

/** One measured run. */
export interface RunResult {
  /** Unique kebab-case id within the report, e.g. `get-stateward-node`. */
  readonly id: string;
  /** Human title, e.g. `get · Stateward · Node generator`. */
  readonly title: string;
  readonly scenario: string;
  /** `stateward`, `redis` or `echo`. */
  readonly target: string;
  /** `node` or `ghz`. */
  readonly generator: string;
  /** Node generator to Stateward: `unary` or `pipeline`. */
  readonly transport?: string;
  /** The command that reproduces this run alone. */
  readonly command: string;
  readonly settings: RunSettings;
  /** What one operation is (`Get`, `Lock+Set pair`, `request`, `Echo call`, `critical section`, …). */
  readonly unit: string;
  /** Operations per second over the measured phase. */
  readonly throughput: number;
  /** Operations completed in the measured phase (successes and failures). */
  readonly completed: number;
  /** Length of the measured phase, ms. */
  readonly measuredMs: number;
  /** Latency of the successful operations, µs. */
  readonly latency: LatencySummary;
  /** Latency-percentile distribution, for the plot. */
  readonly distribution: readonly PercentilePoint[];
  /** The HDR histogram, compressed base64 (empty when there is none, e.g. ghz runs). */
  readonly histogram: string;
  /** Successful operations by outcome. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Failed operations by status name. */
  readonly errors: Readonly<Record<string, number>>;
  /** The measured phase interval by interval: throughput, latency and the server's GC pauses over time. */
  readonly timeline: RunTimeline;
  readonly server?: ServerFigures;
  /** The server's own backend process (redis-server behind Stateward over Redis), when there is one. */
  readonly peer?: PeerFigures;
  /** Load generator CPU per operation, µs (Node generator: this process, all threads). */
  readonly client?: { readonly cpuUsPerOp: number };
  /** Scenario-specific figures (handoff, memory per session, …) by name. */
  readonly extra: Readonly<Record<string, number | string>>;
  /** Remarks (why a figure is missing, what a number means). */
  readonly notes: readonly string[];
  /**
   * The machine's 1-minute load average when the run ended: above the CPU count, other work was
   * competing for the cores during the run and its figures are noisier.
   */
  readonly loadAverage?: number;
}

/** Facts about the machine the runs shared. */
export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryBytes: number;
  readonly nodeVersion: string;
  readonly platform: string;
  readonly kernel: string;
  /** 1-minute load average when the invocation started: above the CPU count, others shared the machine. */
  readonly loadAverageAtStart: number;
}

/** The whole report. */
export interface Report {
  readonly tool: "stateward-loadtest";
  readonly reportVersion: 1;
  /** ISO time the invocation started. */
  readonly startedAt: string;
  /** ISO time it ended. */
  readonly finishedAt: string;
  /** The command line of the invocation. */
  readonly command: string;
  readonly machine: MachineInfo;
  readonly runs: readonly RunResult[];
}
