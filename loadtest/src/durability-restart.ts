/**
 * The restart and snapshot runs of the durability group (issue 15), on one data directory:
 *
 * - Restart: a server with `--data-dir --fsync everysec` (default snapshot settings) is filled with
 *   `--durability-sessions` sessions of 1 KiB through the pipeline (unlocked Sets, as fast as they
 *   go), left to finish a snapshot it may be writing and to settle, and its steady RSS (VmRSS) is
 *   read; then SIGTERM, and a new server on the same directory. Measured: from its spawn to its
 *   "stateward listening" line, and its peak RSS until then (VmHWM when it listens, and VmRSS
 *   sampled every 20 ms from the spawn on) against the steady RSS before the restart.
 * - Snapshot: the restarted server has the smallest snapshot thresholds the server accepts
 *   (durability-runs.ts SNAPSHOT_TRIGGER_ARGS), which replay never acts on. A probe client sends a
 *   unary Get every millisecond (of a session that does not exist: a Get that moves nothing, so the
 *   probe itself never writes); after a quiet baseline, Sets of the replayed sessions run until a
 *   snapshot starts (its `.tmp` file appears in the data directory), then stop; the probe goes on
 *   until the server logs "snapshot written". The figure is the longest time in that window in
 *   which no probe was answered; beside it the server's own longestSliceMs, its event-loop lag max
 *   (nodejs_eventloop_lag_max_seconds over the window) and its longest GC pause.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { suiteGroupCommand } from "./alternating-runs";
import {
  DURABILITY_RESTART_RUN_ID,
  DURABILITY_SNAPSHOT_RUN_ID,
  durabilityServerArgs,
  SNAPSHOT_TRIGGER_ARGS,
} from "./durability-runs";
import { findFreePort } from "./free-port";
import { GrpcUnarySessionOps } from "./grpc-unary-session-ops";
import { LatencyHistogram } from "./latency-histogram";
import { preloadPool } from "./node-run";
import { formatPayloadSpec, type PayloadSpec } from "./payloads";
import { PipelineSessionOps } from "./pipeline-session-ops";
import { plural } from "./plural";
import type { ProbeMessage, ProbeSpec } from "./probe-worker";
import { metricValue, parsePrometheusText } from "./prometheus-text";
import { parseStatusMemory, sampleProcess } from "./process-stats";
import type { RunResult, ServerFigures } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import { LOADTEST_APP } from "./session-scenario";
import { scrapeMetrics } from "./soak-sampler";
import type { StatewardTarget } from "./target-spec";

const KIB = 1024;
/** The sessions' payload. */
const PAYLOAD: PayloadSpec = { minBytes: KIB, maxBytes: KIB };
/** Their key prefix. */
const PREFIX = "durable-";
/** The fill's load shape: the preload of the resident scenario. */
const FILL = { workers: 2, channels: 2, inFlight: 64 } as const;
/** Idle time before a steady RSS is read. */
const SETTLE_MS = 3_000;
/** Quiet probing before the writes that start the snapshot. */
const BASELINE_MS = 2_000;
/** Probing after the snapshot ended. */
const AFTER_MS = 1_000;
/** Longest wait for a snapshot to start, to end, or for the restarted server to listen. */
const LONG_WAIT_MS = 5 * 60_000;
/** Sessions read back after the restart to check that they survived it. */
const CHECK_SESSIONS = 1_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A JSON log line of the server, or undefined. */
function logRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const record: unknown = JSON.parse(line);
    return typeof record === "object" && record !== null ? (record as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function numberField(record: Record<string, unknown> | undefined, name: string): number | undefined {
  const value = record?.[name];
  return typeof value === "number" ? value : undefined;
}

/** VmRSS and VmHWM of `pid` now, bytes; undefined when it cannot be read. */
function statusMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const memory = parseStatusMemory(readFileSync(`/proc/${pid}/status`, "utf8"));
    return { rss: memory.vmRssBytes, hwm: memory.vmHwmBytes };
  } catch {
    return undefined;
  }
}

/** The names in `dir` (none when it cannot be read). */
function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Whether a snapshot is being written in `dir` (its temporary file exists). */
function snapshotInProgress(dir: string): boolean {
  return listDir(dir).some((name) => name.endsWith(".tmp"));
}

/** The logs of `dir` but the newest generation's (names carry a 16-digit generation, so they sort). */
function olderLogFiles(dir: string): string[] {
  const logs = listDir(dir)
    .filter((name) => name.endsWith(".swlog"))
    .sort();
  return logs.slice(0, -1);
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Bytes of the snapshot files and of the log files in `dir`. */
function dataDirBytes(dir: string): { snapshotBytes: number; logBytes: number; files: number } {
  let snapshotBytes = 0;
  let logBytes = 0;
  let files = 0;
  if (!existsSync(dir)) return { snapshotBytes, logBytes, files };
  for (const name of readdirSync(dir)) {
    const size = statSync(`${dir}/${name}`).size;
    if (name.endsWith(".swsnap")) {
      snapshotBytes += size;
      files++;
    } else if (name.endsWith(".swlog")) {
      logBytes += size;
      files++;
    }
  }
  return { snapshotBytes, logBytes, files };
}

async function waitFor(condition: () => boolean, timeoutMs: number, pollMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

/**
 * The longest stretch of [from, to] in which no answer arrived: its length and its start, ms after
 * `from` (the gaps between consecutive answers, the window's ends bounded by the last answer
 * before it and the first after it). `answersAt` is sorted.
 */
export function longestAnswerGap(answersAt: readonly number[], from: number, to: number): { gapMs: number; atMs: number } {
  let previous = from;
  for (const at of answersAt) {
    if (at > from) break;
    previous = at;
  }
  let gapMs = 0;
  let atMs = 0;
  for (const at of answersAt) {
    if (at <= from) continue;
    if (at - previous > gapMs) {
      gapMs = at - previous;
      atMs = previous - from;
    }
    previous = at;
    if (at >= to) return { gapMs, atMs };
  }
  // No answer after the window: it ends unanswered since the last one.
  if (to - previous > gapMs) return { gapMs: to - previous, atMs: previous - from };
  return { gapMs, atMs };
}

/** A run of this module: one figure per run, no load time line. */
function figureRun(fields: {
  id: string;
  title: string;
  unit: string;
  command: string;
  completed: number;
  measuredMs: number;
  histogram?: LatencyHistogram;
  errors?: Readonly<Record<string, number>>;
  outcomes?: Readonly<Record<string, number>>;
  server?: ServerFigures;
  extra: Record<string, number | string>;
  notes: string[];
  settings: { inFlight: number; channels: number; workers: number; durationMs: number; pool: number };
}): RunResult {
  const histogram = fields.histogram ?? new LatencyHistogram();
  return {
    id: fields.id,
    title: fields.title,
    scenario: "durability",
    target: "stateward",
    generator: "node",
    transport: "pipeline",
    command: fields.command,
    settings: {
      mode: "closed",
      ...fields.settings,
      concurrency: fields.settings.inFlight * fields.settings.channels * fields.settings.workers,
      warmupMs: 0,
      payload: formatPayloadSpec(PAYLOAD),
    },
    unit: fields.unit,
    throughput: fields.measuredMs > 0 ? (fields.completed * 1000) / fields.measuredMs : 0,
    completed: fields.completed,
    measuredMs: fields.measuredMs,
    latency: histogram.summary(),
    distribution: histogram.distribution(),
    histogram: histogram.encode(),
    outcomes: fields.outcomes ?? {},
    errors: fields.errors ?? {},
    timeline: { intervalMs: 1000, counts: [], latency: [], serverGc: { available: false, reason: "not a load run: see its extra figures" } },
    ...(fields.server === undefined ? {} : { server: fields.server }),
    extra: fields.extra,
    notes: fields.notes,
    loadAverage: os.loadavg()[0] ?? 0,
  };
}

/** The server figures of `target` now (no CPU per operation: these runs are not load runs). */
function serverNow(target: LoadTarget): ServerFigures | undefined {
  const pid = target.observed?.pid;
  const sample = pid === undefined ? undefined : sampleProcess(pid);
  return sample === undefined ? undefined : { cpuUsPerOp: 0, cpuCores: 0, rssBytes: sample.rssBytes, peakRssBytes: sample.peakRssBytes };
}

/** The probe's session: it does not exist, so a probe's Get moves nothing and is never written. */
const PROBE_SESSION = "probe-missing-session";

/** What the probe thread measured: per probe its send and answer times (NaN: failed), epoch ms. */
class ProbeResult {
  constructor(
    readonly sentAt: readonly number[],
    readonly answeredAt: readonly number[],
  ) {}

  /** Answer times, sorted. */
  answers(): number[] {
    return this.answeredAt.filter((at) => !Number.isNaN(at)).sort((a, b) => a - b);
  }

  /** Latencies (µs) of the probes sent in [from, to], and how many of them failed. */
  within(from: number, to: number): { histogram: LatencyHistogram; sent: number; failed: number } {
    const histogram = new LatencyHistogram();
    let sent = 0;
    let failed = 0;
    this.sentAt.forEach((at, index) => {
      if (at < from || at > to) return;
      sent++;
      const answered = this.answeredAt[index] ?? Number.NaN;
      if (Number.isNaN(answered)) failed++;
      else histogram.record((answered - at) * 1000);
    });
    return { histogram, sent, failed };
  }
}

/** Starts the probe thread on `address`; resolves once its first Get was answered, with its stop. */
async function startProbe(address: string): Promise<() => Promise<ProbeResult>> {
  const typescript = __filename.endsWith(".ts");
  const worker = new Worker(path.join(__dirname, typescript ? "probe-worker.ts" : "probe-worker.js"), {
    workerData: { address, app: LOADTEST_APP, sessionId: PROBE_SESSION, periodMs: 1 } satisfies ProbeSpec,
    execArgv: typescript ? ["--require", "tsx/cjs"] : [],
  });
  const result = new Promise<ProbeResult>((resolve, reject) => {
    worker.on("message", (message: ProbeMessage) => {
      if (message.type === "result") {
        resolve(new ProbeResult(message.sentAt, message.answeredAt));
        void worker.terminate();
      }
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the probe thread exited with code ${code}`)));
  });
  await new Promise<void>((resolve, reject) => {
    worker.on("message", (message: ProbeMessage) => {
      if (message.type === "ready") resolve();
    });
    result.catch(reject);
  });
  let stopped: Promise<ProbeResult> | undefined;
  // Idempotent: the caller's finally stops a probe that an error left running.
  return () => {
    if (stopped === undefined) {
      worker.postMessage("stop");
      stopped = result;
    }
    return stopped;
  };
}

/** Runs the restart and the snapshot runs on `dataDir` (removed by the caller). */
export async function runRestartAndSnapshot(context: RunContext, dataDir: string): Promise<RunResult[]> {
  const sessions = context.options.durabilitySessions;
  const command = suiteGroupCommand("durability", context.options, { "durability-sessions": sessions });
  const spec = (target: LoadTarget): StatewardTarget => ({ kind: "stateward", addresses: target.addresses, transport: "pipeline", app: LOADTEST_APP });

  // ---- fill, then the steady state before the restart -------------------------------------------
  const fillSnapshots: Record<string, unknown>[] = [];
  const first = await context.stateward("plaintext", {
    serverArgs: durabilityServerArgs("everysec", dataDir, await findFreePort()),
    onLine: (line, stream) => {
      if (stream !== "stderr") return;
      const record = logRecord(line);
      if (record?.msg === "snapshot written; older log files deleted") fillSnapshots.push(record);
    },
  });
  let steadyRss: number | undefined;
  let fillMs = 0;
  let fillWritten = 0;
  let stopMs = 0;
  let filesBefore = { snapshotBytes: 0, logBytes: 0, files: 0 };
  let snapshotWait = 0;
  try {
    const fill = await preloadPool(spec(first), { prefix: PREFIX, size: sessions }, PAYLOAD, { ...FILL, maxMs: 20 * 60_000 }, context.progress);
    const failed = Object.values(fill.errors).reduce((sum, count) => sum + count, 0);
    if (failed > 0) throw new Error(`filling the data directory failed for ${plural(failed, "session")}: ${JSON.stringify(fill.errors)}`);
    fillMs = fill.ms;
    fillWritten = fill.written;
    // A snapshot the fill started is let finish: the restart then replays what such a server leaves.
    const waitStarted = Date.now();
    await waitFor(() => !snapshotInProgress(dataDir), LONG_WAIT_MS, 50);
    snapshotWait = Date.now() - waitStarted;
    await sleep(SETTLE_MS);
    const pid = first.observed?.pid;
    steadyRss = pid === undefined ? undefined : statusMemory(pid)?.rss;
    filesBefore = dataDirBytes(dataDir);
  } finally {
    const stopping = performance.now();
    await first.stop();
    stopMs = performance.now() - stopping;
  }

  // ---- restart ----------------------------------------------------------------------------------
  let spawnedAt = 0;
  let listeningAt = 0;
  let replayed: Record<string, unknown> | undefined;
  let sampledPeakRss = 0;
  let sampler: NodeJS.Timeout | undefined;
  const snapshots: { at: number; record: Record<string, unknown> }[] = [];
  const metricsPort = await findFreePort();
  let restarted: LoadTarget;
  try {
    restarted = await context.stateward("plaintext", {
      serverArgs: [...durabilityServerArgs("everysec", dataDir, metricsPort), ...SNAPSHOT_TRIGGER_ARGS],
      startTimeoutMs: LONG_WAIT_MS,
      onSpawn: (pid) => {
        spawnedAt = performance.now();
        sampler = setInterval(() => {
          const memory = statusMemory(pid);
          if (memory !== undefined) sampledPeakRss = Math.max(sampledPeakRss, memory.rss);
        }, 20);
      },
      onLine: (line, stream) => {
        if (stream !== "stderr") return;
        const record = logRecord(line);
        if (record?.msg === "stateward listening" && listeningAt === 0) listeningAt = performance.now();
        if (record?.msg === "replayed the data directory") replayed = record;
        if (record?.msg === "snapshot written; older log files deleted") snapshots.push({ at: performance.now(), record });
      },
    });
  } finally {
    // Also when it failed to start: the sampler must not keep the tool alive.
    if (sampler !== undefined) clearInterval(sampler);
  }
  const pid = restarted.observed?.pid;
  const atListening = pid === undefined ? undefined : statusMemory(pid);
  const peakRss = Math.max(sampledPeakRss, atListening?.hwm ?? 0);
  const restartSeconds = (listeningAt - spawnedAt) / 1000;
  const runs: RunResult[] = [];
  let stopProbe: (() => Promise<ProbeResult>) | undefined;
  try {
    await sleep(SETTLE_MS);
    const steadyAfter = pid === undefined ? undefined : statusMemory(pid)?.rss;
    const restartedNow = serverNow(restarted);
    const replayMetric = metricValue(parsePrometheusText(await scrapeMetrics(metricsPort, 10_000)), "stateward_persistence_replay_duration_seconds");
    const fillSnapshotSlices = fillSnapshots.map((record) => numberField(record, "longestSliceMs") ?? 0);
    runs.push(
      figureRun({
        id: DURABILITY_RESTART_RUN_ID,
        title: `Durability · restart with ${plural(fillWritten, "session")} of 1 KiB (--fsync everysec) · fill rate through the pipeline`,
        unit: "Set (fill)",
        command,
        completed: fillWritten,
        measuredMs: fillMs,
        ...(restartedNow === undefined ? {} : { server: restartedNow }),
        settings: { ...FILL, durationMs: fillMs, pool: sessions },
        extra: {
          sessions: fillWritten,
          fillSeconds: fillMs / 1000,
          fillSnapshots: fillSnapshots.length,
          ...(fillSnapshotSlices.length === 0 ? {} : { fillSnapshotLongestSliceMs: Math.max(...fillSnapshotSlices) }),
          snapshotWaitSeconds: snapshotWait / 1000,
          snapshotBytesBefore: filesBefore.snapshotBytes,
          logBytesBefore: filesBefore.logBytes,
          stopSeconds: stopMs / 1000,
          restartSeconds,
          ...(numberField(replayed, "replaySeconds") === undefined ? {} : { replaySeconds: numberField(replayed, "replaySeconds") as number }),
          ...(numberField(replayed, "records") === undefined ? {} : { replayedRecords: numberField(replayed, "records") as number }),
          ...(replayMetric === undefined ? {} : { replayMetricSeconds: replayMetric }),
          ...(steadyRss === undefined ? {} : { steadyRssBytes: steadyRss }),
          peakReplayRssBytes: peakRss,
          sampledPeakReplayRssBytes: sampledPeakRss,
          ...(atListening === undefined ? {} : { hwmAtListeningBytes: atListening.hwm }),
          ...(steadyRss === undefined || steadyRss <= 0 ? {} : { replayRssRatio: peakRss / steadyRss }),
          ...(steadyAfter === undefined ? {} : { steadyRssAfterRestartBytes: steadyAfter }),
        },
        notes: [
          "throughput is the fill's: unlocked Sets of distinct sessions through the pipeline (2 workers × 2 channels × 64 in flight), into a server with --data-dir --fsync everysec and the default snapshot settings",
          "restartSeconds: from the spawn of the new server to its 'stateward listening' line; peak replay RSS: the larger of VmHWM when it listens and VmRSS sampled every 20 ms from the spawn; steady RSS: VmRSS of the filled server before the SIGTERM, after any snapshot it was writing ended and 3 s idle",
          `the restarted server has ${SNAPSHOT_TRIGGER_ARGS.join(" ")} for the snapshot run; replay never starts a snapshot`,
        ],
      }),
    );

    // ---- snapshot pause -------------------------------------------------------------------------
    const address = restarted.addresses[0] ?? "";
    stopProbe = await startProbe(address);
    const baselineFrom = Date.now();
    await sleep(BASELINE_MS);
    const baselineTo = Date.now();
    await scrapeMetrics(metricsPort, 10_000);
    // Writes of the replayed sessions until a snapshot starts.
    const writer = new PipelineSessionOps(address, LOADTEST_APP);
    const payload = Buffer.alloc(KIB, 7);
    let started = false;
    let writes = 0;
    let writeErrors = 0;
    const writerLoop = async (): Promise<void> => {
      while (!started) {
        try {
          await writer.set(`${PREFIX}${Math.floor(Math.random() * sessions)}`, payload);
          writes++;
        } catch {
          writeErrors++;
          if (writeErrors > 1000) return;
        }
      }
    };
    const writersDone = Promise.all(Array.from({ length: 32 }, () => writerLoop()));
    const writesFrom = Date.now();
    const found = await waitFor(() => snapshotInProgress(dataDir) || snapshots.length > 0, LONG_WAIT_MS, 2);
    const seenAt = Date.now();
    started = true;
    restarted.observed?.gc?.reset();
    const lagScrapeAtStart = scrapeMetrics(metricsPort, 10_000).catch(() => "");
    await writersDone;
    writer.close();
    if (!found) throw new Error("no snapshot started after the writes");
    // The steps of its end, as the data directory shows them: the snapshot renamed into place (its
    // .tmp gone), then the older logs deleted.
    const olderLogs = olderLogFiles(dataDir);
    const olderLogSizes = new Map(olderLogs.map((name) => [name, fileSize(`${dataDir}/${name}`)]));
    let renamedAt: number | undefined;
    let olderLogsDeletedAt: number | undefined;
    const ended = await waitFor(
      () => {
        const names = listDir(dataDir);
        if (renamedAt === undefined && !names.some((name) => name.endsWith(".tmp"))) renamedAt = Date.now();
        if (olderLogsDeletedAt === undefined && olderLogs.length > 0 && !olderLogs.some((name) => names.includes(name))) olderLogsDeletedAt = Date.now();
        return snapshots.length > 0;
      },
      LONG_WAIT_MS,
      2,
    );
    // The window is the server's own: its log line's time, less the snapshot's duration.
    const record = snapshots[0]?.record;
    const snapshotTo = numberField(record, "time") ?? Date.now();
    const snapshotFrom = snapshotTo - (numberField(record, "seconds") ?? 0) * 1000;
    const gc = restarted.observed?.gc?.summary();
    await lagScrapeAtStart;
    const lagMax = metricValue(parsePrometheusText(await scrapeMetrics(metricsPort, 10_000)), "nodejs_eventloop_lag_max_seconds");
    await sleep(AFTER_MS);
    const probe = await stopProbe();
    if (!ended) throw new Error("the snapshot did not end in time");

    // Did the sessions survive the restart? (After the snapshot: these Gets may write touches.)
    const check = new GrpcUnarySessionOps(address, LOADTEST_APP);
    let foundSessions = 0;
    try {
      for (let index = 0; index < CHECK_SESSIONS; index++) {
        if ((await check.get(`${PREFIX}${Math.floor((index * sessions) / CHECK_SESSIONS)}`)) === "OK") foundSessions++;
      }
    } finally {
      check.close();
    }

    const afterSnapshot = serverNow(restarted);
    const window = probe.within(snapshotFrom, snapshotTo);
    const answers = probe.answers();
    const gap = longestAnswerGap(answers, snapshotFrom, snapshotTo);
    const baseline = probe.within(baselineFrom, baselineTo);
    runs.push(
      figureRun({
        id: DURABILITY_SNAPSHOT_RUN_ID,
        title: `Durability · snapshot of ${plural(numberField(record, "sessions") ?? 0, "session")} · probe Get every 1 ms (unary)`,
        unit: "probe Get",
        command,
        completed: window.sent,
        measuredMs: snapshotTo - snapshotFrom,
        histogram: window.histogram,
        errors: window.failed > 0 ? { probe_failed: window.failed } : {},
        ...(afterSnapshot === undefined ? {} : { server: { ...afterSnapshot, ...(gc === undefined ? {} : { gc }) } }),
        settings: { inFlight: 1, channels: 1, workers: 1, durationMs: Math.round(snapshotTo - snapshotFrom), pool: sessions },
        extra: {
          longestProbeGapMs: gap.gapMs,
          longestProbeGapAtMs: gap.atMs,
          baselineLongestProbeGapMs: longestAnswerGap(answers, baselineFrom, baselineTo).gapMs,
          baselineProbeMaxMs: baseline.histogram.summary().max / 1000,
          baselineProbeP99Ms: baseline.histogram.summary().p99 / 1000,
          probeMaxMs: window.histogram.summary().max / 1000,
          probeP99Ms: window.histogram.summary().p99 / 1000,
          snapshotSessions: numberField(record, "sessions") ?? 0,
          snapshotBytes: numberField(record, "bytes") ?? 0,
          snapshotSeconds: numberField(record, "seconds") ?? 0,
          serverLongestSliceMs: numberField(record, "longestSliceMs") ?? 0,
          ...(lagMax === undefined ? {} : { serverEventLoopLagMaxMs: lagMax * 1000 }),
          ...(gc === undefined ? {} : { serverGcMaxPauseMs: gc.maxPauseMs, serverGcMaxPauseKind: gc.maxPauseKind }),
          ...(renamedAt === undefined ? {} : { snapshotRenamedAtMs: renamedAt - snapshotFrom }),
          ...(olderLogsDeletedAt === undefined ? {} : { olderLogsDeletedAtMs: olderLogsDeletedAt - snapshotFrom }),
          olderLogBytes: olderLogs.reduce((sum, name) => sum + (olderLogSizes.get(name) ?? 0), 0),
          writesBeforeSnapshot: writes,
          writesBeforeSnapshotSeconds: (seenAt - writesFrom) / 1000,
          writesStoppedAfterSnapshotStartMs: seenAt - snapshotFrom,
          writeErrors,
          sessionsCheckedAfterRestart: CHECK_SESSIONS,
          sessionsFoundAfterRestart: foundSessions,
        },
        notes: [
          "the probe: a unary Get of a session that does not exist every 1 ms (setInterval) on a thread of its own; longestProbeGapMs is the longest time without a probe answer in the snapshot's window (longestProbeGapAtMs: where it began, ms after the window's start), the window being the server's own: its 'snapshot written' line's time less the seconds it reports",
          "before the window: a 2 s quiet baseline, then Sets of the replayed sessions (32 in flight, pipeline) until the snapshot's .tmp file appeared; they stop then (writesStoppedAfterSnapshotStartMs after the window's start), so the rest of the window has the probe only",
          "snapshotRenamedAtMs and olderLogsDeletedAtMs: when the data directory showed the snapshot renamed into place and the older logs deleted, ms after the window's start (polled every 2 ms)",
          "serverLongestSliceMs is the server's own longest scan slice of the snapshot; serverEventLoopLagMaxMs is nodejs_eventloop_lag_max_seconds scraped at the window's end (the max since the scrape at its start)",
          "sessionsFoundAfterRestart: Gets of sessions spread over the whole key range after the snapshot, answered OK",
        ],
      }),
    );
  } finally {
    await stopProbe?.().catch(() => undefined);
    await restarted.stop();
  }
  return runs;
}
