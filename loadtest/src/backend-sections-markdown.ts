/**
 * The issue-14 sections of BENCHMARKS.md: Stateward over Redis against the direct Redis + Lua
 * baseline on the same redis-server, the contended handoff across two nodes over Redis, and the
 * memory backend of this build against the reference build. Each says how it was measured, shows
 * the runs side by side and where its targets stand (with the reason where one misses).
 */
import { ALTERNATING_SLICES } from "./alternating-runs";
import { MEMORY_REGRESSION_WORKLOADS, memoryRegressionRunId } from "./memory-regression-runs";
import { plural } from "./plural";
import { REDIS_BACKEND_PREFIX, REDIS_BACKEND_WORKLOADS, REDIS_HANDOFF_POLL_MAX_MS, redisBackendRunId, redisHandoffRunId } from "./redis-backend-runs";
import { formatCount, formatErrors, formatLatencyMs, formatRatio, formatSliceSpread, markdownRow } from "./report-format";
import type { RunResult } from "./report-model";
import { SCENARIO_DEFAULTS } from "./scenario-defaults";
import { totalCpuUsPerOp, type TargetStanding } from "./target-evaluation";
import { LATER_SLICE_WARMUP_MS } from "./tls-comparison-runs";

function cpu(value: number | undefined): string {
  return value === undefined ? "–" : value.toFixed(1);
}

function ratioOf(value: number | undefined, base: number | undefined, digits = 2): string {
  return formatRatio(value !== undefined && base !== undefined && base > 0 ? value / base : undefined, digits);
}

function settingsLine(run: RunResult | undefined): string {
  const settings = run?.settings;
  if (settings === undefined) return "Not measured in this run.";
  return `Same run and machine as above; ${plural(settings.concurrency, "request")} in flight (${settings.inFlight} × ${plural(settings.channels, "channel")} × ${plural(settings.workers, "worker")}), ${settings.durationMs / 1000} s measured per run in ${ALTERNATING_SLICES} alternating slices (A-B-B-A-A-B; the whole --warmup before a side's first slice, ${LATER_SLICE_WARMUP_MS} ms before the others), the payloads and pools of the pipeline group (each run's in Results). Reproduce: \`${run?.command ?? ""}\`.`;
}

/** The lines of the targets whose names start with `prefix`, and the reason of each miss. */
function targetLines(standings: readonly TargetStanding[], prefix: string, reasons: Readonly<Record<string, string>>): string[] {
  const lines: string[] = [];
  for (const standing of standings.filter((item) => item.name.startsWith(prefix))) {
    lines.push(`- ${standing.name}: ${standing.target}. Measured ${standing.measured}: **${standing.status}**.`);
    if (standing.status === "missed") lines.push(`  Why: ${reasons[standing.name] ?? "not analysed yet."}`);
  }
  return lines;
}

/** "Stateward over Redis": per workload the direct baseline and Stateward on the same redis-server. */
export function redisBackendSection(runs: ReadonlyMap<string, RunResult>, standings: readonly TargetStanding[], reasons: Readonly<Record<string, string>>): string[] {
  const lines = [
    "## Stateward over Redis",
    "",
    `One redis-server (Debian's, no persistence) and one Stateward node on it (\`serve --backend redis --redis-url redis://127.0.0.1:<port> --redis-prefix ${REDIS_BACKEND_PREFIX}\`), loaded through the client library's PipelineClient; against it, on the SAME redis-server, the load tester's direct baseline: the ASP.NET Redis provider's lock protocol as Lua scripts through ioredis (one script call per operation, as in the redis group). Both sides' pools live in that Redis at once (different keys). CPU per operation is each process's own user + system time (/proc/<pid>/stat) over the measured phase: for Stateward over Redis both the node's and redis-server's, for the baseline redis-server's (the ioredis client is the load generator).`,
    "",
    settingsLine(runs.get(redisBackendRunId("get", "stateward"))),
    "",
    markdownRow(["workload", "direct ops/s", "Stateward ops/s", "ratio", "slice ratios min – median – max", "direct p50 / p99 ms", "Stateward p50 / p99 ms", "Redis µs/op (direct)", "Stateward node µs/op", "Redis µs/op (behind Stateward)", "CPU/op Stateward + Redis ÷ direct Redis", "errors direct / Stateward"]),
    markdownRow(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]),
  ];
  for (const scenario of REDIS_BACKEND_WORKLOADS) {
    const unit = SCENARIO_DEFAULTS[scenario].unit;
    const direct = runs.get(redisBackendRunId(scenario, "direct"));
    const stateward = runs.get(redisBackendRunId(scenario, "stateward"));
    if (direct === undefined || stateward === undefined) {
      lines.push(markdownRow([unit, "not measured", "", "", "", "", "", "", "", "", "", ""]));
      continue;
    }
    lines.push(
      markdownRow([
        unit,
        formatCount(direct.throughput),
        formatCount(stateward.throughput),
        ratioOf(stateward.throughput, direct.throughput),
        formatSliceSpread(stateward),
        `${formatLatencyMs(direct.latency.p50)} / ${formatLatencyMs(direct.latency.p99)}`,
        `${formatLatencyMs(stateward.latency.p50)} / ${formatLatencyMs(stateward.latency.p99)}`,
        cpu(direct.server?.cpuUsPerOp),
        cpu(stateward.server?.cpuUsPerOp),
        cpu(stateward.peer?.cpuUsPerOp),
        ratioOf(totalCpuUsPerOp(stateward), totalCpuUsPerOp(direct)),
        `${formatErrors(direct.errors)} / ${formatErrors(stateward.errors)}`,
      ]),
    );
  }
  lines.push("", ...targetLines(standings, "Redis backend:", reasons));
  return lines;
}

/** "Contended handoff across two nodes over Redis": Lock(wait) against 500 ms polling on the same nodes. */
export function redisHandoffSection(runs: ReadonlyMap<string, RunResult>, standings: readonly TargetStanding[], reasons: Readonly<Record<string, string>>): string[] {
  const wait = runs.get(redisHandoffRunId("wait"));
  const poll = runs.get(redisHandoffRunId("poll"));
  const lines = [
    "## Contended handoff across two nodes over Redis",
    "",
    `One redis-server, two Stateward nodes on it (\`--backend redis\`, one prefix), ${plural(wait?.settings.concurrency ?? 8, "client")} on ONE session through PipelineClient, client i on node i % 2: each takes the lock with Lock(wait_ms 10 s) and releases it with Set(lock_id), in rounds as in the Contention section, so consecutive holders sit on different nodes and the release on one wakes the waiter on the other through Redis. The handoff is measured from the holder sending its releasing Set to the next holder receiving its grant (both trips over loopback included). Then, on the same nodes, the ASP.NET way (Lock with wait_ms 0, on LOCKED sleep 500 ms and retry), measured for ${REDIS_HANDOFF_POLL_MAX_MS / 1000} s at most: the ratio is computed from that measured rate.`,
    "",
  ];
  if (wait === undefined || poll === undefined) return [...lines, "Not measured in this run.", ""];
  const number = (run: RunResult, name: string): number | undefined => {
    const value = run.extra[name];
    return typeof value === "number" ? value : undefined;
  };
  lines.push(
    `Reproduce: \`${wait.command}\`.`,
    "",
    markdownRow(["way", "critical sections/s", "measured", "handoff p50 ms", "p99 ms", "max ms", "nodes µs/section (both)", "Redis µs/section", "LOCKED answers", "errors"]),
    markdownRow(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]),
  );
  for (const [name, run] of [["Lock(wait) across nodes", wait], ["500 ms polling", poll]] as const) {
    lines.push(
      markdownRow([
        name,
        run.throughput >= 100 ? formatCount(run.throughput) : run.throughput.toFixed(2),
        `${(run.measuredMs / 1000).toFixed(1)} s`,
        formatLatencyMs(run.latency.p50),
        formatLatencyMs(run.latency.p99),
        formatLatencyMs(run.latency.max),
        cpu(number(run, "nodesCpuUsPerSection")),
        cpu(number(run, "redisCpuUsPerSection")),
        formatCount(run.outcomes["LOCKED answers"] ?? 0),
        formatErrors(run.errors),
      ]),
    );
  }
  const loopDelay = number(wait, "generatorLoopDelayP99Ms");
  const gcMax = number(wait, "serverGcMaxPauseMs");
  lines.push(
    "",
    `The generator's own event-loop delay p99 during the Lock(wait) run: ${loopDelay === undefined ? "–" : `${loopDelay.toFixed(2)} ms`}; the first node's longest GC pause: ${gcMax === undefined ? "–" : `${gcMax.toFixed(1)} ms`}; load average ${wait.loadAverage?.toFixed(1) ?? "–"}.`,
    "",
    ...targetLines(standings, "Redis handoff", reasons),
  );
  return lines;
}

/** "Memory backend against the reference build": this build's pipelined runs against the reference build's. */
export function memoryRegressionSection(runs: ReadonlyMap<string, RunResult>, standings: readonly TargetStanding[], reasons: Readonly<Record<string, string>>, reference?: string): string[] {
  const lines = [
    "## Memory backend against the reference build",
    "",
    `Two servers on the memory backend with the same flags, alive at once: this build's and a reference build's (\`make bench\` builds BENCH_REF, default \`bdc8c93\`, the commit before the Redis work, from \`git archive\` into .bench/reference/<sha>, once${reference === undefined ? "" : `; this run: \`${reference}\``}). The pipelined Get, Lock+Set and mixed runs of the pipeline group alternate between them. Issue 14: the memory backend does not get slower, within 5 %. The spread of the per-slice ratios says how much of a ratio is the shared machine's noise (the same build against itself: \`--server-cli\` and \`--reference-cli\` alike).`,
    "",
    settingsLine(runs.get(memoryRegressionRunId("get", "current"))),
    "",
    markdownRow(["workload", "reference ops/s", "this build ops/s", "ratio", "slice ratios min – median – max", "reference p50 / p99 ms", "this build p50 / p99 ms", "server µs/op reference", "server µs/op this build", "CPU/op ratio", "errors reference / this"]),
    markdownRow(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]),
  ];
  for (const scenario of MEMORY_REGRESSION_WORKLOADS) {
    const unit = SCENARIO_DEFAULTS[scenario].unit;
    const current = runs.get(memoryRegressionRunId(scenario, "current"));
    const base = runs.get(memoryRegressionRunId(scenario, "reference"));
    if (current === undefined || base === undefined) {
      lines.push(markdownRow([unit, "not measured", "", "", "", "", "", "", "", "", ""]));
      continue;
    }
    lines.push(
      markdownRow([
        unit,
        formatCount(base.throughput),
        formatCount(current.throughput),
        ratioOf(current.throughput, base.throughput, 3),
        formatSliceSpread(current),
        `${formatLatencyMs(base.latency.p50)} / ${formatLatencyMs(base.latency.p99)}`,
        `${formatLatencyMs(current.latency.p50)} / ${formatLatencyMs(current.latency.p99)}`,
        cpu(base.server?.cpuUsPerOp),
        cpu(current.server?.cpuUsPerOp),
        ratioOf(current.server?.cpuUsPerOp, base.server?.cpuUsPerOp, 3),
        `${formatErrors(base.errors)} / ${formatErrors(current.errors)}`,
      ]),
    );
  }
  lines.push("", ...targetLines(standings, "Memory backend:", reasons));
  return lines;
}
