/**
 * The contended handoff across nodes (issue 14): one redis-server, two Stateward nodes over it
 * (`--backend redis`, same prefix), and N clients (default 8) on ONE session through the client
 * library's PipelineClient, client i on node i % 2, so that nearly every handoff crosses from one
 * node to the other through Redis (the release on one node wakes the waiter on the other). The
 * clients take turns as in the contention scenario (contention.ts): Lock with wait_ms (10 s) →
 * Set with the lock id (release). Then, on the same servers, the ASP.NET way: Lock with wait_ms 0
 * and on LOCKED a retry 500 ms later, measured for a shorter time ({@link REDIS_HANDOFF_POLL_MAX_MS}),
 * its rate being what the ratio is computed from.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { suiteGroupCommand } from "./alternating-runs";
import { systemClock } from "./clock";
import { contentionRunResult } from "./contention-scenario";
import { runContention, suiteContentionOptions, type ContentionResult } from "./contention";
import { gcTimeline } from "./gc-timeline";
import { intervalMsOf } from "./interval-timeline";
import type { LiveCounters } from "./load-driver";
import { PipelineSessionOps } from "./pipeline-session-ops";
import { sampleProcess, type ProcessSample } from "./process-stats";
import { startProgress } from "./progress-line";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import {
  REDIS_HANDOFF_NODES,
  REDIS_HANDOFF_POLL_MAX_MS,
  redisBackendServerArgs,
  redisHandoffRunId,
} from "./redis-backend-runs";
import { LOADTEST_APP } from "./session-scenario";

/** CPU time of `pid` between two samples, µs (undefined when either is missing). */
function cpuBetween(before: ProcessSample | undefined, after: ProcessSample | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after.cpuUs - before.cpuUs;
}

async function measureMode(context: RunContext, mode: "wait" | "poll", nodes: readonly LoadTarget[], redis: LoadTarget): Promise<RunResult> {
  const options = context.options;
  const durationMs = mode === "poll" ? Math.min(options.durationMs, REDIS_HANDOFF_POLL_MAX_MS) : options.durationMs;
  const modeContext = context.withOptions({ durationMs });
  const clients = Array.from({ length: options.clients }, (_, index) => {
    const node = nodes[index % nodes.length];
    return new PipelineSessionOps(node?.addresses[0] ?? "", LOADTEST_APP);
  });
  const pids = [...nodes.map((node) => node.observed?.pid), redis.observed?.pid];
  const before = pids.map((pid) => (pid === undefined ? undefined : sampleProcess(pid)));
  const first = nodes[0];
  first?.observed?.gc?.reset();
  const started = Date.now();
  const live: LiveCounters = { completed: 0, errors: 0 };
  const stop = startProgress(`handoff across ${nodes.length} nodes over Redis (${mode})`, live, context.progress);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  let result: ContentionResult;
  try {
    result = await runContention(
      suiteContentionOptions(mode, clients, `handoff-${mode}-${Date.now()}`, durationMs, options, intervalMsOf(modeContext.options)),
      systemClock,
    );
  } finally {
    loopDelay.disable();
    stop();
    for (const client of clients) client.close();
  }
  const wallMs = Math.max(1, Date.now() - started);
  const after = pids.map((pid) => (pid === undefined ? undefined : sampleProcess(pid)));
  const cpu = pids.map((_, index) => cpuBetween(before[index], after[index]));
  const sections = Math.max(1, result.criticalSections);
  const nodeCpu = cpu.slice(0, nodes.length);
  const nodesCpuUs = nodeCpu.every((value) => value !== undefined) ? nodeCpu.reduce((sum: number, value) => sum + (value ?? 0), 0) : undefined;
  const redisCpuUs = cpu[nodes.length];
  const firstCpu = cpu[0];
  const firstAfter = after[0];
  const server =
    firstCpu === undefined || firstAfter === undefined
      ? undefined
      : {
          cpuUsPerOp: firstCpu / sections,
          cpuCores: firstCpu / 1000 / wallMs,
          rssBytes: firstAfter.rssBytes,
          peakRssBytes: firstAfter.peakRssBytes,
          ...(first?.observed?.gc === undefined ? {} : { gc: first.observed.gc.summary() }),
        };
  const intervalMs = intervalMsOf(modeContext.options);
  const serverGc = gcTimeline(first?.gcSource ?? { unavailable: "no node" }, result.startMs, Math.ceil(durationMs / intervalMs) * intervalMs);
  const command = suiteGroupCommand("redis-handoff", options, { clients: options.clients, "poll-ms": options.pollMs, "work-ms": options.workMs });
  const run = contentionRunResult(modeContext, mode, result, server, serverGc, command, loopDelay.percentile(99) / 1e6);
  return {
    ...run,
    id: redisHandoffRunId(mode),
    title:
      mode === "wait"
        ? `Redis handoff · ${nodes.length} Stateward nodes over one Redis · Lock(wait) · Node (pipeline)`
        : `Redis handoff · ${nodes.length} Stateward nodes over one Redis · ASP.NET way: Lock, retry every ${options.pollMs} ms`,
    transport: "pipeline",
    ...(redisCpuUs === undefined ? {} : { peer: { name: "redis-server", cpuUsPerOp: redisCpuUs / sections, cpuCores: redisCpuUs / 1000 / wallMs } }),
    extra: {
      ...run.extra,
      nodes: nodes.length,
      ...(nodesCpuUs === undefined ? {} : { nodesCpuUsPerSection: nodesCpuUs / sections }),
      ...(redisCpuUs === undefined ? {} : { redisCpuUsPerSection: redisCpuUs / sections }),
    },
    notes: [
      ...run.notes,
      `client i talks to node i % ${nodes.length} (PipelineClient): a handoff between consecutive holders crosses nodes through Redis`,
      "server figures are the first node's; nodesCpuUsPerSection adds both nodes, redisCpuUsPerSection is redis-server's",
      ...(mode === "poll" ? [`measured for ${durationMs / 1000} s (at most ${REDIS_HANDOFF_POLL_MAX_MS / 1000} s): the ratio uses this measured rate`] : []),
    ],
  };
}

/** Runs the redis-handoff group: [wait, poll]; the wait run's extra holds the ratio to polling. */
export async function runRedisHandoffGroup(context: RunContext): Promise<RunResult[]> {
  const redis = await context.redis(true);
  const nodes: LoadTarget[] = [];
  try {
    const address = redis.addresses[0] ?? "";
    for (let index = 0; index < REDIS_HANDOFF_NODES; index++) nodes.push(await context.stateward("plaintext", { serverArgs: redisBackendServerArgs(address) }));
    const wait = await measureMode(context, "wait", nodes, redis);
    const poll = await measureMode(context, "poll", nodes, redis);
    return [{ ...wait, extra: { ...wait.extra, ratioToPolling: poll.throughput > 0 ? wait.throughput / poll.throughput : Number.POSITIVE_INFINITY } }, poll];
  } finally {
    for (const node of nodes) await node.stop();
    await redis.stop();
  }
}
