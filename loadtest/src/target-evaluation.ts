/**
 * Where each issue-3 target stands, computed from the runs of one report (all measured in the same
 * run, on the same machine). A target whose runs are missing is "not measured", never "met".
 */
import { extraNumber, formatLatencyMs, formatRatio } from "./report-format";
import type { RunResult } from "./report-model";
import { MEMORY_REGRESSION_MIN_RATIO, MEMORY_REGRESSION_WORKLOADS, memoryRegressionRunId } from "./memory-regression-runs";
import {
  REDIS_BACKEND_MIN_RATIO,
  REDIS_BACKEND_WORKLOADS,
  REDIS_HANDOFF_MAX_P99_MS,
  REDIS_HANDOFF_MIN_POLLING_RATIO,
  redisBackendRunId,
  redisHandoffRunId,
} from "./redis-backend-runs";
import {
  PEER_WORKLOADS,
  PEERS_GET_MAX_CPU_US,
  PEERS_OPEN_LOOP_SHARE,
  PEERS_OPEN_LOOP_WORKLOAD,
  PEERS_P99_MAX_RATIO,
  peersOpenLoopRunId,
  peersRunId,
  strongestLuaPeer,
} from "./peers-runs";
import { SCENARIO_DEFAULTS } from "./scenario-defaults";
import { REDIS_CLIENT_TITLES } from "./target-spec";
import {
  DURABILITY_ALWAYS_MIN_RATIO,
  DURABILITY_DEFAULT_SESSIONS,
  DURABILITY_EVERYSEC_MIN_RATIO,
  DURABILITY_REPLAY_MAX_RSS_RATIO,
  DURABILITY_RESTART_MAX_SECONDS,
  DURABILITY_RESTART_RUN_ID,
  DURABILITY_SNAPSHOT_MAX_PAUSE_MS,
  DURABILITY_SNAPSHOT_RUN_ID,
  DURABILITY_WORKLOADS,
  durabilityRunId,
} from "./durability-runs";
import {
  GO_CALLER_JUDGED_EXTRA,
  GO_CALLER_MIN_EVALSHA_RATIO,
  GO_CALLER_MIN_GET_RATIO,
  GO_CALLER_REDIS_SIDES,
  goCallerJudgedRun,
  goCallerRatioExtras,
  goCallerRedisRunId,
  type GoCallerRedisSide,
} from "./go-caller-runs";
import { TLS_PIPELINE_GET_MIN_RATIO, tlsComparisonRunId } from "./tls-comparison-runs";

/** The standing of one target. */
export interface TargetStanding {
  /** Short name. */
  readonly name: string;
  /** The target as issue 3 states it. */
  readonly target: string;
  /** What was measured, human form. */
  readonly measured: string;
  readonly status: "met" | "missed" | "reported" | "not measured" | "pending";
}

/** Ids of the runs the targets are computed from (see the suite). */
export const RUN_IDS = {
  echoNative: "echo-echo-h2load",
  echoNode: "echo-echo-node",
  getNative: "get-stateward-h2load",
  getNode: "get-stateward-node-unary",
  lockSetNode: "lock-set-stateward-node-unary",
  echoNodeEqualRate: "echo-echo-node-open",
  getNodeEqualRate: "get-stateward-node-unary-open",
  lockSetNodeEqualRate: "lock-set-stateward-node-unary-open",
  contentionWait: "contention-stateward-node-wait",
  contentionPoll: "contention-stateward-node-poll",
  residentEmpty: "resident-empty-stateward-node",
  residentLoaded: "resident-loaded-stateward-node",
  redisGet: "get-redis-node",
  redisLockSet: "lock-set-redis-node",
  redisMixed: "mixed-redis-node",
  getPipeline: "get-stateward-node-pipeline",
  lockSetPipeline: "lock-set-stateward-node-pipeline",
  mixedPipeline: "mixed-stateward-node-pipeline",
  tlsComparePipelineGetPlaintext: tlsComparisonRunId("get", "pipeline", "plaintext"),
  tlsComparePipelineGetTls: tlsComparisonRunId("get", "pipeline", "tls-token"),
} as const;

/** `run`'s throughput over `baseline`'s, when both were measured. */
function throughputRatio(run: RunResult | undefined, baseline: RunResult | undefined): number | undefined {
  return run !== undefined && baseline !== undefined && baseline.throughput > 0 ? run.throughput / baseline.throughput : undefined;
}

function cpuRatio(run: RunResult | undefined, baseline: RunResult | undefined): number | undefined {
  if (run?.server === undefined || baseline?.server === undefined || baseline.server.cpuUsPerOp <= 0) return undefined;
  return run.server.cpuUsPerOp / baseline.server.cpuUsPerOp;
}

function bound(name: string, target: string, value: number | undefined, limit: number, describe: (value: number) => string, atLeast = false): TargetStanding {
  if (value === undefined || !Number.isFinite(value)) return { name, target, measured: "–", status: "not measured" };
  const met = atLeast ? value >= limit : value <= limit;
  return { name, target, measured: describe(value), status: met ? "met" : "missed" };
}

/** Evaluates every target of the load-tester issue and the pipeline issue against `runs`. */
export function evaluateTargets(runs: readonly RunResult[]): TargetStanding[] {
  const byId = new Map(runs.map((run) => [run.id, run]));
  const get = (id: string): RunResult | undefined => byId.get(id);
  const standings: TargetStanding[] = [];

  const getNative = cpuRatio(get(RUN_IDS.getNative), get(RUN_IDS.echoNative));
  standings.push(
    bound("CPU per Get (h2load)", "server CPU per unary Get ≤ 1.15 × echo's per call", getNative, 1.15, (ratio) =>
      `${formatRatio(ratio, 3)} (${get(RUN_IDS.getNative)?.server?.cpuUsPerOp.toFixed(1)} vs ${get(RUN_IDS.echoNative)?.server?.cpuUsPerOp.toFixed(1)} µs)`,
    ),
  );
  const getNode = cpuRatio(get(RUN_IDS.getNode), get(RUN_IDS.echoNode));
  standings.push(
    bound("CPU per Get (Node generator)", "server CPU per unary Get ≤ 1.15 × echo's per call", getNode, 1.15, (ratio) =>
      `${formatRatio(ratio, 3)} (${get(RUN_IDS.getNode)?.server?.cpuUsPerOp.toFixed(1)} vs ${get(RUN_IDS.echoNode)?.server?.cpuUsPerOp.toFixed(1)} µs)`,
    ),
  );
  const lockSet = cpuRatio(get(RUN_IDS.lockSetNode), get(RUN_IDS.echoNode));
  standings.push(
    bound("CPU per Lock+Set pair", "server CPU per Lock+Set pair ≤ 2.3 × echo's per call", lockSet, 2.3, (ratio) =>
      `${formatRatio(ratio, 3)} (${get(RUN_IDS.lockSetNode)?.server?.cpuUsPerOp.toFixed(1)} vs ${get(RUN_IDS.echoNode)?.server?.cpuUsPerOp.toFixed(1)} µs)`,
    ),
  );
  const getEqual = cpuRatio(get(RUN_IDS.getNodeEqualRate), get(RUN_IDS.echoNodeEqualRate));
  standings.push(
    bound("CPU per Get (equal rate)", "server CPU per unary Get ≤ 1.15 × echo's per call", getEqual, 1.15, (ratio) =>
      `${formatRatio(ratio, 3)} (${get(RUN_IDS.getNodeEqualRate)?.server?.cpuUsPerOp.toFixed(1)} vs ${get(RUN_IDS.echoNodeEqualRate)?.server?.cpuUsPerOp.toFixed(1)} µs, open loop, same calls/s)`,
    ),
  );
  const lockSetEqual = cpuRatio(get(RUN_IDS.lockSetNodeEqualRate), get(RUN_IDS.echoNodeEqualRate));
  standings.push(
    bound("CPU per Lock+Set pair (equal rate)", "server CPU per Lock+Set pair ≤ 2.3 × echo's per call", lockSetEqual, 2.3, (ratio) =>
      `${formatRatio(ratio, 3)} (${get(RUN_IDS.lockSetNodeEqualRate)?.server?.cpuUsPerOp.toFixed(1)} vs ${get(RUN_IDS.echoNodeEqualRate)?.server?.cpuUsPerOp.toFixed(1)} µs, open loop, same calls/s)`,
    ),
  );
  const wait = get(RUN_IDS.contentionWait);
  const poll = get(RUN_IDS.contentionPoll);
  standings.push(
    bound("Contended handoff p99", "handoff p99 ≤ 2 ms", wait === undefined ? undefined : wait.latency.p99 / 1000, 2, (ms) => `${formatLatencyMs(ms * 1000)} ms`),
  );
  standings.push(
    bound(
      "Critical sections vs polling",
      "≥ 20 × the critical sections per second of the 500 ms polling way",
      throughputRatio(wait, poll),
      20,
      (ratio) => `${formatRatio(ratio)} (${wait?.throughput.toFixed(0)} vs ${poll?.throughput.toFixed(1)} /s)`,
      true,
    ),
  );
  const empty = get(RUN_IDS.residentEmpty);
  const loaded = get(RUN_IDS.residentLoaded);
  standings.push(
    bound(
      "Resident p99.9",
      "p99.9 with 1 M sessions ≤ 2 × the empty-store run",
      empty !== undefined && loaded !== undefined && empty.latency.p999 > 0 ? loaded.latency.p999 / empty.latency.p999 : undefined,
      2,
      (ratio) => `${formatRatio(ratio)} (${formatLatencyMs(loaded?.latency.p999 ?? 0)} vs ${formatLatencyMs(empty?.latency.p999 ?? 0)} ms)`,
    ),
  );
  standings.push(
    bound("RSS beyond payload", "≤ 256 B per resident session", extraNumber(loaded, "rssBeyondPayloadPerSessionBytes"), 256, (bytes) => `${bytes.toFixed(0)} B per session`),
  );
  const gcPauses = [loaded?.server?.gc?.maxPauseMs, extraNumber(loaded, "preloadMaxGcPauseMs")].filter((value): value is number => value !== undefined);
  standings.push(
    bound("Longest GC pause", "longest GC pause ≤ 100 ms (1 M resident sessions)", gcPauses.length === 0 ? undefined : Math.max(...gcPauses), 100, (ms) =>
      `${ms.toFixed(1)} ms (loading ${extraNumber(loaded, "preloadMaxGcPauseMs")?.toFixed(1) ?? "–"} ms, mixed run ${loaded?.server?.gc?.maxPauseMs.toFixed(1) ?? "–"} ms)`,
    ),
  );
  for (const [scenario, redisId, statewardId] of [
    ["get", RUN_IDS.redisGet, RUN_IDS.getNode],
    ["lock-set", RUN_IDS.redisLockSet, RUN_IDS.lockSetNode],
    ["mixed", RUN_IDS.redisMixed, RUN_IDS.residentEmpty],
  ] as const) {
    const redis = get(redisId);
    const stateward = get(statewardId);
    standings.push({
      name: `vs Redis: ${scenario} (unary)`,
      target: "report the throughput ratio to Redis + Lua through ioredis (Node client)",
      measured:
        redis === undefined || stateward === undefined || redis.throughput <= 0
          ? "–"
          : `${formatRatio(stateward.throughput / redis.throughput)} throughput, p99 ${formatLatencyMs(stateward.latency.p99)} vs ${formatLatencyMs(redis.latency.p99)} ms`,
      status: redis === undefined || stateward === undefined ? "not measured" : "reported",
    });
  }
  const pipelineGet = get(RUN_IDS.getPipeline);
  standings.push(
    bound("Pipeline Get throughput", "≥ 100 k Get/s of 1 KiB, one server and one client process", pipelineGet?.throughput, 100_000, (rate) => `${Math.round(rate).toLocaleString("en-US")} Get/s`, true),
  );
  for (const [scenario, redisId, statewardId, judged] of [
    ["get", RUN_IDS.redisGet, RUN_IDS.getPipeline, true],
    ["lock-set", RUN_IDS.redisLockSet, RUN_IDS.lockSetPipeline, true],
    ["mixed", RUN_IDS.redisMixed, RUN_IDS.mixedPipeline, false],
  ] as const) {
    const redis = get(redisId);
    const stateward = get(statewardId);
    const name = `vs Redis: ${scenario} (pipeline)`;
    if (redis === undefined || stateward === undefined || redis.throughput <= 0) {
      standings.push({ name, target: "", measured: "–", status: "not measured" });
      continue;
    }
    const ratio = stateward.throughput / redis.throughput;
    const measured = `${formatRatio(ratio)} throughput, p99 ${formatLatencyMs(stateward.latency.p99)} vs ${formatLatencyMs(redis.latency.p99)} ms`;
    standings.push(
      judged
        ? {
            name,
            target: "≥ 2 × Redis + Lua through ioredis, with p99 no worse (same concurrency)",
            measured,
            status: ratio >= 2 && stateward.latency.p99 <= redis.latency.p99 ? "met" : "missed",
          }
        : { name, target: "report the throughput ratio to Redis + Lua through ioredis", measured, status: "reported" },
    );
  }
  const tlsGet = get(RUN_IDS.tlsComparePipelineGetTls);
  const plainGet = get(RUN_IDS.tlsComparePipelineGetPlaintext);
  standings.push(
    bound(
      "TLS: pipelined Get throughput",
      `pipelined Get over TLS with a token ≥ ${TLS_PIPELINE_GET_MIN_RATIO} × its plaintext throughput (issue 13; same run, alternating)`,
      throughputRatio(tlsGet, plainGet),
      TLS_PIPELINE_GET_MIN_RATIO,
      (ratio) => `${formatRatio(ratio)} (${Math.round(tlsGet?.throughput ?? 0).toLocaleString("en-US")} vs ${Math.round(plainGet?.throughput ?? 0).toLocaleString("en-US")} Get/s)`,
      true,
    ),
  );
  standings.push(...issue14Targets(get));
  standings.push(...issue15Targets(get));
  standings.push(...issue16GoCallerTargets(runs, get));
  standings.push(...issue16Targets(byId));
  return standings;
}

/** ` (slices a – b×)` from a run's `<name>Min` and `<name>Max`, or nothing when the run has no spread. */
function sliceRange(run: RunResult | undefined, name: string, format: (value: number) => string): string {
  const min = extraNumber(run, `${name}Min`);
  const max = extraNumber(run, `${name}Max`);
  return min === undefined || max === undefined ? "" : `, slices ${format(min)} – ${format(max)}`;
}

/**
 * Issue 16's targets from the peers group: per workload Stateward's throughput against the
 * strongest Lua peer of the same run (the median of the per-slice ratios, which the alternation
 * makes robust to the machine's swings), the p99 at equal offered load, and server CPU per
 * operation (Stateward's per pipelined Get; per mixed request against redis-server's).
 */
export function issue16Targets(runs: ReadonlyMap<string, RunResult>): TargetStanding[] {
  const standings: TargetStanding[] = [];
  const ratio = (value: number): string => formatRatio(value);
  for (const workload of PEER_WORKLOADS) {
    const unit = SCENARIO_DEFAULTS[workload.scenario].unit;
    const stateward = runs.get(peersRunId(workload, "stateward"));
    const strongest = strongestLuaPeer(runs, workload);
    const peer = strongest?.run;
    const median = stateward === undefined ? undefined : extraNumber(peer, "statewardRatioMedian");
    standings.push(
      bound(
        `Peers: ${unit} at ${workload.inFlight} in flight`,
        `Stateward (pipeline) ${unit} throughput ≥ ${workload.minRatio} × the strongest Lua peer's (issue 16; same run, alternating; median of the slice ratios)`,
        median,
        workload.minRatio,
        (value) =>
          `${ratio(value)} against ${strongest === undefined ? "–" : REDIS_CLIENT_TITLES[strongest.client]}${sliceRange(peer, "statewardRatio", ratio)} (${Math.round(stateward?.throughput ?? 0).toLocaleString("en-US")} vs ${Math.round(peer?.throughput ?? 0).toLocaleString("en-US")} /s)`,
        true,
      ),
    );
  }
  const openOurs = runs.get(peersOpenLoopRunId("stateward"));
  const openPeer = runs.get(peersOpenLoopRunId("peer"));
  const openClient = openPeer?.extra["openLoopPeer"];
  const p99Ratio = openOurs !== undefined && openPeer !== undefined && openPeer.latency.p99 > 0 ? openOurs.latency.p99 / openPeer.latency.p99 : undefined;
  standings.push(
    bound(
      "Peers: p99 at equal offered load",
      `Stateward's Get p99 ≤ ${PEERS_P99_MAX_RATIO} × the strongest Lua peer's, open loop at ${Math.round(PEERS_OPEN_LOOP_SHARE * 100)} % of that peer's Get rate at ${PEERS_OPEN_LOOP_WORKLOAD.inFlight} in flight (issue 16; same run, alternating)`,
      p99Ratio,
      PEERS_P99_MAX_RATIO,
      (value) =>
        `${ratio(value)}${sliceRange(openPeer, "statewardP99Ratio", ratio)} (${formatLatencyMs(openOurs?.latency.p99 ?? 0)} vs ${formatLatencyMs(openPeer?.latency.p99 ?? 0)} ms at ${String(openPeer?.extra["openLoopRate"] ?? "–")}/s against ${typeof openClient === "string" && openClient in REDIS_CLIENT_TITLES ? REDIS_CLIENT_TITLES[openClient as keyof typeof REDIS_CLIENT_TITLES] : "–"})`,
    ),
  );
  const getRun = runs.get(peersRunId(PEERS_OPEN_LOOP_WORKLOAD, "stateward"));
  const us = (value: number): string => `${value.toFixed(1)} µs`;
  standings.push(
    bound(
      "Peers: server CPU per pipelined Get",
      `Stateward's server CPU per pipelined Get ≤ ${PEERS_GET_MAX_CPU_US} µs (issue 16; Get at ${PEERS_OPEN_LOOP_WORKLOAD.inFlight} in flight)`,
      getRun?.server?.cpuUsPerOp,
      PEERS_GET_MAX_CPU_US,
      (value) => `${us(value)}${sliceRange(getRun, "serverCpuUsPerOp", us)}`,
    ),
  );
  const mixed = PEER_WORKLOADS.find((workload) => workload.scenario === "mixed");
  const mixedOurs = mixed === undefined ? undefined : runs.get(peersRunId(mixed, "stateward"));
  const mixedPeer = mixed === undefined ? undefined : strongestLuaPeer(runs, mixed);
  const mixedCpu = cpuRatio(mixedOurs, mixedPeer?.run);
  standings.push(
    bound(
      "Peers: server CPU per mixed request",
      "Stateward's server CPU per mixed request ≤ redis-server's per request under the strongest Lua peer (issue 16; same run, alternating)",
      mixedCpu,
      1,
      (value) =>
        `${ratio(value)}${sliceRange(mixedPeer?.run, "statewardCpuRatio", ratio)} (${mixedOurs?.server?.cpuUsPerOp.toFixed(1) ?? "–"} vs ${mixedPeer?.run.server?.cpuUsPerOp.toFixed(1) ?? "–"} µs, against ${mixedPeer === undefined ? "–" : REDIS_CLIENT_TITLES[mixedPeer.client]})`,
    ),
  );
  return standings;
}

/** The name of the Go caller's target against `side`. */
export function goCallerTargetName(side: GoCallerRedisSide): string {
  return side === "redis-evalsha" ? "Go caller: Get vs go-redis EVALSHA" : "Go caller: Get vs go-redis GET";
}

/**
 * Issue 16's Go caller targets: the Go SDK's Get (its default transport) over go-redis EVALSHA and
 * plain GET, judged on the median of the per-round ratios of the alternating runs.
 */
function issue16GoCallerTargets(runs: readonly RunResult[], get: (id: string) => RunResult | undefined): TargetStanding[] {
  const judged = goCallerJudgedRun(runs);
  // In the issue's order: EVALSHA (the same protocol) first, then the floor of plain GET.
  return [...GO_CALLER_REDIS_SIDES].reverse().map((side) => {
    const limit = side === "redis-evalsha" ? GO_CALLER_MIN_EVALSHA_RATIO : GO_CALLER_MIN_GET_RATIO;
    const peer = get(goCallerRedisRunId(side));
    const names = goCallerRatioExtras(side);
    const label = side === "redis-evalsha" ? "go-redis EVALSHA of the Lua Get script" : "go-redis plain GET";
    return bound(
      goCallerTargetName(side),
      `Get from Go through the Go SDK (its default transport) ≥ ${limit} × ${label} (issue 16; median of the alternating rounds)`,
      peer === undefined ? undefined : extraNumber(judged, names.median),
      limit,
      (ratio) =>
        `${formatRatio(ratio)} median, rounds ${formatRatio(extraNumber(judged, names.min))} – ${formatRatio(extraNumber(judged, names.max))} (${String(judged?.extra[GO_CALLER_JUDGED_EXTRA] ?? "")}; merged ${Math.round(judged?.throughput ?? 0).toLocaleString("en-US")} vs ${Math.round(peer?.throughput ?? 0).toLocaleString("en-US")} Get/s, p99 ${formatLatencyMs(judged?.latency.p99 ?? 0)} vs ${formatLatencyMs(peer?.latency.p99 ?? 0)} ms)`,
      true,
    );
  });
}

/**
 * `standing` as measured; a run smaller than the target's 1 M sessions is only "reported" (its
 * figures say how it went, not whether the target is met), and says its size.
 */
function atSize(standing: TargetStanding, sessions: number | undefined): TargetStanding {
  if (standing.status === "not measured" || sessions === undefined || sessions >= DURABILITY_DEFAULT_SESSIONS) return standing;
  return { ...standing, measured: `${standing.measured}; with ${Math.round(sessions).toLocaleString("en-US")} sessions, not the 1,000,000 of the target`, status: "reported" };
}

/** Issue 15's targets: throughput with a data directory against memory only, restart, replay RSS, snapshot pause. */
function issue15Targets(get: (id: string) => RunResult | undefined): TargetStanding[] {
  const standings: TargetStanding[] = [];
  for (const scenario of DURABILITY_WORKLOADS) {
    const unit = SCENARIO_DEFAULTS[scenario].unit;
    const memory = get(durabilityRunId(scenario, "memory"));
    for (const [mode, limit] of [
      ["everysec", DURABILITY_EVERYSEC_MIN_RATIO],
      ["always", DURABILITY_ALWAYS_MIN_RATIO],
    ] as const) {
      const durable = get(durabilityRunId(scenario, mode));
      const perSync = extraNumber(durable, "writesPerFsync");
      standings.push(
        bound(
          `Durability: ${unit} --fsync ${mode}`,
          `pipelined ${unit} throughput with --data-dir --fsync ${mode} ≥ ${limit} × memory only (issue 15; same run, alternating)`,
          throughputRatio(durable, memory),
          limit,
          (ratio) =>
            `${formatRatio(ratio)} (${Math.round(durable?.throughput ?? 0).toLocaleString("en-US")} vs ${Math.round(memory?.throughput ?? 0).toLocaleString("en-US")} /s${mode === "always" && perSync !== undefined ? `; ${perSync.toFixed(1)} writes per fdatasync` : ""})`,
          true,
        ),
      );
    }
  }
  const restart = get(DURABILITY_RESTART_RUN_ID);
  const sessions = extraNumber(restart, "sessions");
  standings.push(
    atSize(
      bound(
        "Durability: restart time",
        `from spawn to serving with 1 M sessions of 1 KiB ≤ ${DURABILITY_RESTART_MAX_SECONDS} s (issue 15)`,
        extraNumber(restart, "restartSeconds"),
        DURABILITY_RESTART_MAX_SECONDS,
        (seconds) => `${seconds.toFixed(2)} s (replay ${extraNumber(restart, "replaySeconds")?.toFixed(2) ?? "–"} s)`,
      ),
      sessions,
    ),
  );
  standings.push(
    atSize(
      bound(
        "Durability: replay peak RSS",
        `peak RSS during the replay ≤ ${DURABILITY_REPLAY_MAX_RSS_RATIO} × the steady RSS before the restart (issue 15)`,
        extraNumber(restart, "replayRssRatio"),
        DURABILITY_REPLAY_MAX_RSS_RATIO,
        (ratio) =>
          `${formatRatio(ratio)} (${formatMiBValue(extraNumber(restart, "peakReplayRssBytes"))} vs ${formatMiBValue(extraNumber(restart, "steadyRssBytes"))})`,
      ),
      sessions,
    ),
  );
  const snapshot = get(DURABILITY_SNAPSHOT_RUN_ID);
  standings.push(
    atSize(
      bound(
        "Durability: snapshot pause",
        `the longest pause of request handling during a snapshot of 1 M sessions ≤ ${DURABILITY_SNAPSHOT_MAX_PAUSE_MS} ms (issue 15; longest time without a probe answer, a Get every 1 ms)`,
        extraNumber(snapshot, "longestProbeGapMs"),
        DURABILITY_SNAPSHOT_MAX_PAUSE_MS,
        (ms) =>
          `${ms.toFixed(1)} ms (server's longest slice ${extraNumber(snapshot, "serverLongestSliceMs")?.toFixed(1) ?? "–"} ms, event-loop lag max ${extraNumber(snapshot, "serverEventLoopLagMaxMs")?.toFixed(1) ?? "–"} ms; quiet baseline ${extraNumber(snapshot, "baselineLongestProbeGapMs")?.toFixed(1) ?? "–"} ms)`,
      ),
      extraNumber(snapshot, "snapshotSessions"),
    ),
  );
  return standings;
}

function formatMiBValue(bytes: number | undefined): string {
  return bytes === undefined ? "–" : `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
}

/** Server plus peer CPU per operation of a run (Stateward and the redis-server behind it), µs. */
export function totalCpuUsPerOp(run: RunResult | undefined): number | undefined {
  if (run?.server === undefined) return undefined;
  return run.server.cpuUsPerOp + (run.peer?.cpuUsPerOp ?? 0);
}

/** Issue 14's targets: Stateward over Redis, the handoff across two nodes, the memory backend against the reference build. */
function issue14Targets(get: (id: string) => RunResult | undefined): TargetStanding[] {
  const standings: TargetStanding[] = [];
  for (const scenario of REDIS_BACKEND_WORKLOADS) {
    const stateward = get(redisBackendRunId(scenario, "stateward"));
    const direct = get(redisBackendRunId(scenario, "direct"));
    const unit = SCENARIO_DEFAULTS[scenario].unit;
    standings.push(
      bound(
        `Redis backend: ${unit} throughput`,
        `Stateward over Redis (one node, pipelined) ≥ ${REDIS_BACKEND_MIN_RATIO} × the direct Redis + Lua baseline on the same Redis (issue 14)`,
        throughputRatio(stateward, direct),
        REDIS_BACKEND_MIN_RATIO,
        (ratio) =>
          `${formatRatio(ratio)} (${Math.round(stateward?.throughput ?? 0).toLocaleString("en-US")} vs ${Math.round(direct?.throughput ?? 0).toLocaleString("en-US")} /s; CPU/op Stateward ${stateward?.server?.cpuUsPerOp.toFixed(1) ?? "–"} + Redis ${stateward?.peer?.cpuUsPerOp.toFixed(1) ?? "–"} µs vs Redis ${direct?.server?.cpuUsPerOp.toFixed(1) ?? "–"} µs)`,
        true,
      ),
    );
  }
  const wait = get(redisHandoffRunId("wait"));
  const poll = get(redisHandoffRunId("poll"));
  standings.push(
    bound(
      "Redis handoff p99",
      `handoff p99 ≤ ${REDIS_HANDOFF_MAX_P99_MS} ms across two nodes over one Redis (issue 14)`,
      wait === undefined ? undefined : wait.latency.p99 / 1000,
      REDIS_HANDOFF_MAX_P99_MS,
      (ms) => `${formatLatencyMs(ms * 1000)} ms (p50 ${formatLatencyMs(wait?.latency.p50 ?? 0)} ms)`,
    ),
  );
  standings.push(
    bound(
      "Redis handoff vs polling",
      `≥ ${REDIS_HANDOFF_MIN_POLLING_RATIO} × the critical sections per second of the 500 ms polling way, same nodes (issue 14)`,
      throughputRatio(wait, poll),
      REDIS_HANDOFF_MIN_POLLING_RATIO,
      (ratio) => `${formatRatio(ratio, 0)} (${wait?.throughput.toFixed(0)} vs ${poll?.throughput.toFixed(2)} /s)`,
      true,
    ),
  );
  for (const scenario of MEMORY_REGRESSION_WORKLOADS) {
    const current = get(memoryRegressionRunId(scenario, "current"));
    const reference = get(memoryRegressionRunId(scenario, "reference"));
    const unit = SCENARIO_DEFAULTS[scenario].unit;
    standings.push(
      bound(
        `Memory backend: ${unit} vs reference`,
        `pipelined ${unit} throughput of this build's memory backend ≥ ${MEMORY_REGRESSION_MIN_RATIO} × the reference build's (issue 14: within 5 %; same run, alternating)`,
        throughputRatio(current, reference),
        MEMORY_REGRESSION_MIN_RATIO,
        (ratio) =>
          `${formatRatio(ratio, 3)} (${Math.round(current?.throughput ?? 0).toLocaleString("en-US")} vs ${Math.round(reference?.throughput ?? 0).toLocaleString("en-US")} /s; server CPU/op ${formatRatio(cpuRatio(current, reference), 3)})`,
        true,
      ),
    );
  }
  return standings;
}
