/**
 * Runs the contention scenario both ways on one server in the same run: Stateward's waiting Lock
 * and the ASP.NET 500 ms polling way, and reports handoff latency and critical sections per second.
 */
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { systemClock } from "./clock";
import { durationFlag, reproduceCommand } from "./command-line";
import { runContention, suiteContentionOptions, type ContentionResult } from "./contention";
import { gcTimeline } from "./gc-timeline";
import { GrpcUnarySessionOps } from "./grpc-unary-session-ops";
import { intervalMsOf, summarizeIntervals } from "./interval-timeline";
import type { LiveCounters } from "./load-driver";
import { sampleProcess } from "./process-stats";
import { startProgress } from "./progress-line";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import { LOADTEST_APP } from "./session-scenario";

/**
 * The run of one contention mode: critical sections per second, the handoff latency as the run's
 * latency, and the server figures given (shared with the suite's redis-handoff group).
 */
export function contentionRunResult(
  context: RunContext,
  mode: "wait" | "poll",
  result: ContentionResult,
  server: RunResult["server"],
  serverGc: RunResult["timeline"]["serverGc"],
  command: string,
  loopDelayP99Ms: number,
): RunResult {
  const options = context.options;
  const handoff = result.handoff.summary();
  const intervalMs = intervalMsOf(options);
  const intervals = Math.ceil(options.durationMs / intervalMs);
  return {
    id: `contention-stateward-node-${mode}`,
    title: mode === "wait" ? "contention · Stateward Lock(wait)" : `contention · ASP.NET way: Lock, retry every ${options.pollMs} ms`,
    scenario: "contention",
    target: "stateward",
    generator: "node",
    transport: options.transport,
    command,
    settings: {
      mode: "closed",
      inFlight: 1,
      channels: options.clients,
      workers: 1,
      concurrency: options.clients,
      durationMs: options.durationMs,
      warmupMs: 0,
      payload: "0 B",
      pool: 1,
    },
    unit: "critical section",
    throughput: result.measuredMs > 0 ? (result.criticalSections * 1000) / result.measuredMs : 0,
    completed: result.criticalSections,
    measuredMs: result.measuredMs,
    latency: handoff,
    distribution: result.handoff.distribution(),
    histogram: result.handoff.encode(),
    outcomes: { "critical sections": result.criticalSections, "LOCKED answers": result.lockedAnswers, rounds: result.rounds },
    errors: result.errors,
    // The last round may end after the duration: plot the measured span only (totals keep it).
    timeline: {
      intervalMs,
      counts: Array.from({ length: intervals }, (_, index) => result.timeline[index] ?? 0),
      latency: summarizeIntervals({ counts: result.timeline, latency: result.intervalLatency }, intervalMs, intervals),
      serverGc,
    },
    ...(server === undefined ? {} : { server }),
    extra: {
      clients: options.clients,
      handoffP50Ms: handoff.p50 / 1000,
      handoffP99Ms: handoff.p99 / 1000,
      handoffMaxMs: handoff.max / 1000,
      // The generator's own event-loop delay: a handoff tail that shows here is the client's, not the server's.
      generatorLoopDelayP99Ms: loopDelayP99Ms,
      ...(server?.gc === undefined ? {} : { serverGcMaxPauseMs: server.gc.maxPauseMs, serverGcTotalPauseMs: server.gc.totalPauseMs }),
    },
    loadAverage: os.loadavg()[0] ?? 0,
    notes: [
      "latency here is the handoff: from the holder sending its releasing Set to the next holder receiving its grant (includes both trips over loopback)",
      `rounds: every client asks for the lock at once and runs one critical section; a round ends when all ${options.clients} are done`,
    ],
  };
}

/** Runs both ways and returns [wait, poll]; the wait run's extra holds the ratio. */
export async function runContentionScenario(context: RunContext, target: LoadTarget): Promise<RunResult[]> {
  const options = context.options;
  const address = target.addresses[0] ?? "";
  const runs: RunResult[] = [];
  for (const mode of ["wait", "poll"] as const) {
    const clients = Array.from({ length: options.clients }, () => new GrpcUnarySessionOps(address, LOADTEST_APP, target.security));
    const live: LiveCounters = { completed: 0, errors: 0 };
    const before = target.observed === undefined ? undefined : sampleProcess(target.observed.pid);
    target.observed?.gc?.reset();
    const started = Date.now();
    const stop = startProgress(`contention (${mode})`, live, context.progress);
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    let result: ContentionResult;
    try {
      result = await runContention(
        suiteContentionOptions(mode, clients, `contended-${mode}-${Date.now()}`, options.durationMs, options, intervalMsOf(options)),
        systemClock,
      );
    } finally {
      loopDelay.disable();
      stop();
      for (const client of clients) client.close();
    }
    live.completed = result.criticalSections;
    const after = target.observed === undefined ? undefined : sampleProcess(target.observed.pid);
    const server =
      before !== undefined && after !== undefined
        ? {
            cpuUsPerOp: (after.cpuUs - before.cpuUs) / Math.max(1, result.criticalSections),
            cpuCores: (after.cpuUs - before.cpuUs) / 1000 / Math.max(1, Date.now() - started),
            rssBytes: after.rssBytes,
            peakRssBytes: after.peakRssBytes,
            ...(target.observed?.gc === undefined ? {} : { gc: target.observed.gc.summary() }),
          }
        : undefined;
    const command = reproduceCommand("contention", {
      clients: options.clients,
      duration: durationFlag(options.durationMs),
      "poll-ms": options.pollMs,
      "work-ms": options.workMs,
    });
    // monitorEventLoopDelay reports ns and includes its own 1 ms sampling period.
    // systemClock is performance.now(): the GC tracker's clock.
    const serverGc = gcTimeline(target.gcSource, result.startMs, Math.ceil(options.durationMs / intervalMsOf(options)) * intervalMsOf(options));
    runs.push(contentionRunResult(context, mode, result, server, serverGc, command, loopDelay.percentile(99) / 1e6));
  }
  const [wait, poll] = runs;
  if (wait !== undefined && poll !== undefined) {
    runs[0] = { ...wait, extra: { ...wait.extra, ratioToPolling: poll.throughput > 0 ? wait.throughput / poll.throughput : Number.POSITIVE_INFINITY } };
  }
  return runs;
}
