/**
 * The load tester's Go caller (loadtest/go, issue 16) from the Node side: built once with `go
 * build`, run as a child process per measured run, its JSON lines read: `measuring` and `measured`
 * bracket its measured phase (the server's CPU is sampled there), `result` is the run. Turned into
 * a {@link RunResult} like the Node generator's, with its histogram rebuilt from the driver's buckets.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
import { gcTimeline, type GcSource } from "./gc-timeline";
import type { IntervalLatency } from "./interval-timeline";
import { LatencyHistogram } from "./latency-histogram";
import type { ObservedServer } from "./node-run";
import { sampleProcess, type ProcessSample } from "./process-stats";
import type { RunResult, RunSettings } from "./report-model";
import { REPO_ROOT } from "./server-processes";

/** The Go module of the driver. */
export const GO_DRIVER_DIR = path.join(REPO_ROOT, "loadtest", "go");

/** What the driver loads: Stateward through the Go SDK, go-redis GET of the data key, or EVALSHA of the Lua Get script. */
export type GoDriverTarget = "stateward" | "redis-get" | "redis-evalsha";

/** The `result` line of the driver (latencies in µs). */
export interface GoDriverResult {
  readonly target: GoDriverTarget;
  /** Stateward: the Go SDK transport. */
  readonly transport?: string;
  readonly concurrency: number;
  readonly pool: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly measuredMs: number;
  readonly completed: number;
  readonly opsPerSecond: number;
  readonly latencyUs: { readonly count: number; readonly mean: number; readonly p50: number; readonly p90: number; readonly p99: number; readonly p999: number; readonly max: number };
  /** The non-empty buckets: their highest values (µs) and counts, ascending. */
  readonly histogram: { readonly values: readonly number[]; readonly counts: readonly number[] };
  readonly outcomes: Readonly<Record<string, number>>;
  readonly errors: Readonly<Record<string, number>>;
  readonly intervalMs: number;
  readonly timeline: { readonly counts: readonly number[]; readonly latency: readonly IntervalLatency[] };
  /** The driver's own user + system CPU over the measured phase, µs. */
  readonly clientCpuUs: number;
  /** Sessions written before the load (0 without -seed). */
  readonly seeded: number;
  /** Redis: go-redis's connection pool size. */
  readonly redisPoolSize?: number;
  readonly goVersion: string;
  readonly gomaxprocs: number;
}

/** A driver output that is not what this side expects. */
export class GoDriverOutputError extends Error {
  override readonly name = "GoDriverOutputError";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function numberField(record: Record<string, unknown>, name: string): number {
  const value = record[name];
  if (typeof value !== "number" || !Number.isFinite(value)) throw new GoDriverOutputError(`the Go driver's result has no number ${name}`);
  return value;
}

function countsField(record: Record<string, unknown>, name: string): Record<string, number> {
  const value = record[name];
  if (!isRecord(value) || !Object.values(value).every((count) => typeof count === "number" && Number.isInteger(count) && count >= 0)) {
    throw new GoDriverOutputError(`the Go driver's result has no counts ${name}`);
  }
  return value as Record<string, number>;
}

function numbers(value: unknown, name: string): number[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "number" && Number.isFinite(item))) throw new GoDriverOutputError(`the Go driver's ${name} is not a list of numbers`);
  return value as number[];
}

/** Parses and checks the driver's `result` line (the histogram must hold every latency counted). */
export function parseGoDriverResult(line: string): GoDriverResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new GoDriverOutputError("the Go driver's result is not JSON");
  }
  if (!isRecord(parsed) || parsed["event"] !== "result") throw new GoDriverOutputError("not a result line of the Go driver");
  const target = parsed["target"];
  if (target !== "stateward" && target !== "redis-get" && target !== "redis-evalsha") throw new GoDriverOutputError(`the Go driver's result has an unknown target ${String(target)}`);
  const latency = parsed["latencyUs"];
  const histogram = parsed["histogram"];
  const timeline = parsed["timeline"];
  if (!isRecord(latency) || !isRecord(histogram) || !isRecord(timeline)) throw new GoDriverOutputError("the Go driver's result lacks latencyUs, histogram or timeline");
  const values = numbers(histogram["values"], "histogram values");
  const counts = numbers(histogram["counts"], "histogram counts");
  const latencyUs = {
    count: numberField(latency, "count"),
    mean: numberField(latency, "mean"),
    p50: numberField(latency, "p50"),
    p90: numberField(latency, "p90"),
    p99: numberField(latency, "p99"),
    p999: numberField(latency, "p999"),
    max: numberField(latency, "max"),
  };
  if (values.length !== counts.length || counts.reduce((sum, count) => sum + count, 0) !== latencyUs.count) {
    throw new GoDriverOutputError("the Go driver's histogram does not add up to its latency count");
  }
  const outcomes = countsField(parsed, "outcomes");
  const errors = countsField(parsed, "errors");
  const completed = numberField(parsed, "completed");
  const sum = (record: Record<string, number>): number => Object.values(record).reduce((total, count) => total + count, 0);
  if (sum(outcomes) !== latencyUs.count || sum(outcomes) + sum(errors) !== completed) {
    throw new GoDriverOutputError("the Go driver's outcomes and errors do not add up to its completed calls");
  }
  const intervalCounts = numbers(timeline["counts"], "timeline counts");
  const intervalLatency = timeline["latency"];
  if (!Array.isArray(intervalLatency) || intervalLatency.length !== intervalCounts.length) throw new GoDriverOutputError("the Go driver's time line is malformed");
  const transport = parsed["transport"];
  const poolSize = parsed["redisPoolSize"];
  return {
    target,
    ...(typeof transport === "string" ? { transport } : {}),
    concurrency: numberField(parsed, "concurrency"),
    pool: numberField(parsed, "pool"),
    durationMs: numberField(parsed, "durationMs"),
    warmupMs: numberField(parsed, "warmupMs"),
    measuredMs: numberField(parsed, "measuredMs"),
    completed,
    opsPerSecond: numberField(parsed, "opsPerSecond"),
    latencyUs,
    histogram: { values, counts },
    outcomes,
    errors,
    intervalMs: numberField(parsed, "intervalMs"),
    timeline: { counts: intervalCounts, latency: intervalLatency as IntervalLatency[] },
    clientCpuUs: numberField(parsed, "clientCpuUs"),
    seeded: numberField(parsed, "seeded"),
    ...(typeof poolSize === "number" ? { redisPoolSize: poolSize } : {}),
    goVersion: typeof parsed["goVersion"] === "string" ? parsed["goVersion"] : "",
    gomaxprocs: numberField(parsed, "gomaxprocs"),
  };
}

/** The Go version the driver's go.mod asks for (what a missing or older `go` must be told). */
export function goDriverMinVersion(): string {
  const match = /^go (\S+)$/m.exec(readFileSync(path.join(GO_DRIVER_DIR, "go.mod"), "utf8"));
  return match?.[1] ?? "?";
}

interface ChildOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; a missing command rejects with `missing`'s message. */
function runToEnd(command: string, args: readonly string[], cwd: string, missing: () => string): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", (error: NodeJS.ErrnoException) => reject(error.code === "ENOENT" ? new Error(missing()) : error));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Builds the driver into `outDir` with `go` from PATH (`goCommand` for tests) and returns the
 * binary's path. A missing `go` fails with what to install or leave out.
 */
export async function buildGoDriver(outDir: string, goCommand = "go"): Promise<string> {
  const binary = path.join(outDir, "stateward-loadtest-go");
  const missing = (): string =>
    `the go-caller group builds the Go driver (loadtest/go) and needs Go >= ${goDriverMinVersion()}: "${goCommand}" is not on PATH (install it from https://go.dev/dl/ or your distribution's golang package, or leave the group out: --only without go-caller)`;
  // -buildvcs=false: a worktree or an exported tree has no VCS data to stamp, and none is needed.
  const built = await runToEnd(goCommand, ["build", "-buildvcs=false", "-o", binary, "."], GO_DRIVER_DIR, missing);
  if (built.code !== 0) throw new Error(`go build of loadtest/go failed (exit ${built.code ?? "signal"}):\n${built.stderr.trim()}`);
  return binary;
}

/** The Go SDK transports the built driver offers, the SDK's default first. */
export async function goDriverTransports(binary: string): Promise<string[]> {
  const listed = await runToEnd(binary, ["-list-transports"], GO_DRIVER_DIR, () => `the Go driver ${binary} is missing`);
  if (listed.code !== 0) throw new Error(`${binary} -list-transports failed: ${listed.stderr.trim()}`);
  const parsed = JSON.parse(listed.stdout) as { transports?: unknown };
  const transports = parsed.transports;
  if (!Array.isArray(transports) || transports.length === 0 || !transports.every((item) => typeof item === "string")) {
    throw new GoDriverOutputError("the Go driver lists no transports");
  }
  return transports as string[];
}

/** One run of the driver. */
export interface GoDriverRun {
  readonly target: GoDriverTarget;
  readonly address: string;
  /** Stateward: the Go SDK transport (one of {@link goDriverTransports}). */
  readonly transport?: string;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly intervalMs: number;
  readonly pool: number;
  readonly poolPrefix: string;
  readonly payloadBytes: number;
  /** Write every session of the pool first. */
  readonly seed: boolean;
  /** Stateward: the app of the sessions. */
  readonly app: string;
  /** Redis: the lock and data key templates, `$ID` standing for the session id. */
  readonly redisKeys: readonly [string, string];
  readonly ttlSeconds: number;
  /** redis-evalsha: the file with the Lua Get script. */
  readonly luaScriptFile?: string;
}

/** The driver's arguments for `run`. */
export function goDriverArgs(run: GoDriverRun): string[] {
  return [
    "-target", run.target,
    "-address", run.address,
    ...(run.transport === undefined ? [] : ["-transport", run.transport]),
    "-concurrency", String(run.concurrency),
    "-duration", `${run.durationMs}ms`,
    "-warmup", `${run.warmupMs}ms`,
    "-interval", `${run.intervalMs}ms`,
    "-pool", String(run.pool),
    "-pool-prefix", run.poolPrefix,
    "-payload", String(run.payloadBytes),
    ...(run.seed ? ["-seed"] : []),
    "-app", run.app,
    "-redis-keys", run.redisKeys.join(","),
    "-ttl-seconds", String(run.ttlSeconds),
    ...(run.luaScriptFile === undefined ? [] : ["-lua-script-file", run.luaScriptFile]),
  ];
}

/** What the server did during the driver's measured phase, and where that phase started on this process's clock. */
export interface GoDriverMeasured {
  readonly result: GoDriverResult;
  readonly server?: { readonly before: ProcessSample; readonly after: ProcessSample };
  /** `performance.now()` when the driver said `measuring`. */
  readonly measureStartMs: number;
  readonly wallMs: number;
}

/**
 * Runs the driver and samples `server` (CPU, RSS; its GC trace is reset) when it starts and ends
 * its measured phase. Rejects with its stderr when it fails.
 */
export function runGoDriver(binary: string, run: GoDriverRun, server?: ObservedServer): Promise<GoDriverMeasured> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, goDriverArgs(run), { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4000)));
    let before: ProcessSample | undefined;
    let after: ProcessSample | undefined;
    let measureStartMs = 0;
    let wallBefore = 0;
    let wallMs = 0;
    let result: GoDriverResult | undefined;
    let failure: Error | undefined;
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      if (failure !== undefined || !line.startsWith("{")) return;
      try {
        const event = (JSON.parse(line) as { event?: unknown }).event;
        if (event === "measuring") {
          server?.gc?.reset();
          before = server === undefined ? undefined : sampleProcess(server.pid);
          measureStartMs = performance.now();
          wallBefore = Date.now();
        } else if (event === "measured") {
          after = server === undefined ? undefined : sampleProcess(server.pid);
          wallMs = Date.now() - wallBefore;
        } else if (event === "result") {
          result = parseGoDriverResult(line);
        }
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
      }
    });
    child.once("error", reject);
    child.once("close", (code) => {
      if (code !== 0) return reject(new Error(`the Go driver (${run.target}) exited with ${code ?? "a signal"}: ${stderr.trim()}`));
      if (failure !== undefined) return reject(failure);
      if (result === undefined) return reject(new GoDriverOutputError(`the Go driver (${run.target}) printed no result`));
      resolve({ result, ...(before !== undefined && after !== undefined ? { server: { before, after } } : {}), measureStartMs, wallMs });
    });
  });
}

/** Parameters of {@link goDriverRunResult} beyond the measured run. */
export interface GoRunLabels {
  readonly id: string;
  readonly title: string;
  readonly command: string;
  readonly payload: string;
  readonly server?: ObservedServer;
  readonly gcSource: GcSource;
}

/** The report's run of a measured driver run. */
export function goDriverRunResult(measured: GoDriverMeasured, labels: GoRunLabels): RunResult {
  const { result } = measured;
  const histogram = new LatencyHistogram();
  result.histogram.values.forEach((value, index) => histogram.recordCount(value, result.histogram.counts[index] ?? 0));
  const ops = Math.max(1, result.completed);
  const wallMs = Math.max(1, measured.wallMs);
  const sample = measured.server;
  const settings: RunSettings = {
    mode: "closed",
    inFlight: result.concurrency,
    channels: 1,
    workers: 1,
    concurrency: result.concurrency,
    durationMs: result.durationMs,
    warmupMs: result.warmupMs,
    payload: labels.payload,
    pool: result.pool,
  };
  const intervals = result.timeline.counts.length;
  return {
    id: labels.id,
    title: labels.title,
    scenario: "get",
    target: result.target === "stateward" ? "stateward" : "redis",
    generator: "go",
    ...(result.transport === undefined ? {} : { transport: result.transport }),
    command: labels.command,
    settings,
    unit: "Get",
    throughput: result.opsPerSecond,
    completed: result.completed,
    measuredMs: result.measuredMs,
    // The driver's maximum is exact; the rebuilt histogram rounds it to its bucket.
    latency: { ...histogram.summary(), max: result.latencyUs.max },
    distribution: histogram.distribution(),
    histogram: histogram.encode(),
    outcomes: result.outcomes,
    errors: result.errors,
    timeline: {
      intervalMs: result.intervalMs,
      counts: result.timeline.counts,
      latency: result.timeline.latency,
      serverGc: gcTimeline(labels.gcSource, measured.measureStartMs, intervals * result.intervalMs),
    },
    ...(sample === undefined
      ? {}
      : {
          server: {
            cpuUsPerOp: (sample.after.cpuUs - sample.before.cpuUs) / ops,
            cpuCores: (sample.after.cpuUs - sample.before.cpuUs) / 1000 / wallMs,
            rssBytes: sample.after.rssBytes,
            peakRssBytes: sample.after.peakRssBytes,
            ...(labels.server?.gc === undefined ? {} : { gc: labels.server.gc.summary() }),
          },
        }),
    client: { cpuUsPerOp: result.clientCpuUs / ops },
    extra: {
      goVersion: result.goVersion,
      gomaxprocs: result.gomaxprocs,
      ...(result.redisPoolSize === undefined ? {} : { redisPoolSize: result.redisPoolSize }),
    },
    notes: sample === undefined ? ["server CPU and RSS not measured: the server's pid is unknown"] : [],
    loadAverage: os.loadavg()[0] ?? 0,
  };
}
