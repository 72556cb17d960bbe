/**
 * The issue-16 section of BENCHMARKS.md, "Redis peers (issue 16)": Stateward over the Pipeline
 * beside node-redis + Lua, ioredis + Lua and node-redis plain GET/SET, measured in one
 * alternating run per workload; the ratio against the strongest Lua peer of the same run (the
 * median of the per-slice ratios, with their range) and against the plain floor, p99 at equal
 * offered load, server CPU per operation, and where each target stands. It names its own run:
 * `make bench BENCH_ONLY=peers` writes it apart from the rest of the suite.
 */
import { LATER_SLICE_WARMUP_MS } from "./tls-comparison-runs";
import { ALTERNATING_SLICES } from "./alternating-runs";
import {
  PEER_SIDES,
  PEER_WORKLOADS,
  PEERS_DURATION_SHARE,
  PEERS_OPEN_LOOP_SHARE,
  PEERS_OPEN_LOOP_WORKLOAD,
  peersOpenLoopRunId,
  peersRunId,
  PLAIN_PEER,
  strongestLuaPeer,
  type PeerSide,
} from "./peers-runs";
import { plural } from "./plural";
import { extraNumber, formatCount, formatErrors, formatLatencyMs, formatMiB, formatRatio, markdownRow } from "./report-format";
import type { Report, RunResult } from "./report-model";
import { SCENARIO_DEFAULTS } from "./scenario-defaults";
import { REDIS_CLIENT_TITLES } from "./target-spec";
import type { TargetStanding } from "./target-evaluation";

/** The heading of the section. */
export const PEERS_SECTION_HEADING = "## Redis peers (issue 16)";

const SIDE_NAMES: Readonly<Record<PeerSide, string>> = {
  stateward: "Stateward",
  "node-redis-lua": "node-redis + Lua",
  "ioredis-lua": "ioredis + Lua",
  "node-redis-plain": "node-redis plain",
};

function cpu(run: RunResult | undefined): string {
  return run?.server === undefined ? "–" : run.server.cpuUsPerOp.toFixed(1);
}

function spread(run: RunResult | undefined, name: string): string {
  const values = ["Min", "Median", "Max"].map((suffix) => extraNumber(run, `${name}${suffix}`));
  return values.every((value) => value !== undefined) ? values.map((value) => (value as number).toFixed(2)).join(" – ") : "–";
}

function perSide(runs: readonly (RunResult | undefined)[], cell: (run: RunResult | undefined) => string): string {
  return runs.map(cell).join(" / ");
}

/** "Redis peers (issue 16)". */
export function peersSection(report: Report, standings: readonly TargetStanding[], reasons: Readonly<Record<string, string>>): string[] {
  const runs = new Map(report.runs.map((run) => [run.id, run]));
  const first = runs.get(peersRunId(PEER_WORKLOADS[0] ?? PEERS_OPEN_LOOP_WORKLOAD, "stateward"));
  const m = report.machine;
  const sideList = PEER_SIDES.map((side) => SIDE_NAMES[side]).join(" / ");
  const lines = [
    PEERS_SECTION_HEADING,
    "",
    `This run: \`${report.command}\` (\`make bench BENCH_ONLY=peers\` runs it alone; \`make bench\` with the rest of the suite), ${report.startedAt} → ${report.finishedAt}, on ${plural(m.cpus, "CPU")} (${m.cpuModel}), ${formatMiB(m.memoryBytes)}, Node ${m.nodeVersion}, kernel ${m.kernel}, load average ${m.loadAverageAtStart.toFixed(2)} when it started (the machine is shared with other work: read the ratios of the same run, not the absolute numbers; each run's load average is in Results).`,
    "",
    `One Stateward server (memory backend) loaded through the client library's PipelineClient, and one redis-server (Debian's, no persistence) loaded by three peers on the same keys: node-redis 6 with the ASP.NET provider's Lua scripts (EVALSHA, loaded once per connection; node-redis writes the commands of one tick together), ioredis with the same scripts (no auto-pipelining: the original baseline), and node-redis with plain GET/SET (Lock = SET NX PX + GET, Set = SET EX + DEL, without the atomic check that the lock is still the writer's: the floor of what Redis can do, not a correct session store). Per workload the four sides alternate in ${ALTERNATING_SLICES} slices each (A-B-C-D, then D-C-B-A, …; the whole --warmup before a side's first slice, ${LATER_SLICE_WARMUP_MS} ms before the others; each side measured ${PEERS_DURATION_SHARE} × --duration in all). The targets' ratios are against the stronger Lua peer of the same workload (by throughput), as the median of the per-slice ratios Stateward ÷ that peer (min – median – max shown). Server µs/op: Stateward's node for its runs, redis-server for the peers' (user + system time from /proc/<pid>/stat over the measured phase, per operation); the peers' client cost is the load generator's (Results, client µs/op).`,
    "",
    first === undefined
      ? "Not measured in this run."
      : `${plural(first.settings.channels * first.settings.workers, "connection")} per side (${plural(first.settings.channels, "channel")} × ${plural(first.settings.workers, "worker")}), the requests in flight below spread over them; payloads and pools of each scenario (${first.settings.payload} in a pool of ${first.settings.pool.toLocaleString("en-US")} for Get and Lock+Set; mixed: its own, in Results). Reproduce: \`${first.command}\`.`,
    "",
    markdownRow([
      "workload",
      "in flight",
      ...PEER_SIDES.map((side) => `${SIDE_NAMES[side]} ops/s`),
      "strongest Lua peer",
      "Stateward ÷ it (median of slices)",
      "slices min – median – max",
      "Stateward ÷ plain floor",
      `p99 ms ${sideList}`,
      `server µs/op ${sideList}`,
      "errors",
    ]),
    markdownRow(["---", "---:", ...PEER_SIDES.map(() => "---:"), "---", "---:", "---:", "---:", "---:", "---:", "---"]),
  ];
  for (const workload of PEER_WORKLOADS) {
    const unit = SCENARIO_DEFAULTS[workload.scenario].unit;
    const sides = PEER_SIDES.map((side) => runs.get(peersRunId(workload, side)));
    const [stateward] = sides;
    const strongest = strongestLuaPeer(runs, workload);
    const plain = runs.get(peersRunId(workload, PLAIN_PEER));
    if (stateward === undefined || strongest === undefined) {
      lines.push(markdownRow([unit, String(workload.inFlight), "not measured", ...PEER_SIDES.map(() => ""), "", "", "", "", "", ""]));
      continue;
    }
    lines.push(
      markdownRow([
        unit,
        String(workload.inFlight),
        ...sides.map((run) => (run === undefined ? "–" : formatCount(run.throughput))),
        REDIS_CLIENT_TITLES[strongest.client],
        formatRatio(extraNumber(strongest.run, "statewardRatioMedian")),
        spread(strongest.run, "statewardRatio"),
        formatRatio(plain !== undefined && plain.throughput > 0 ? stateward.throughput / plain.throughput : undefined),
        perSide(sides, (run) => (run === undefined ? "–" : formatLatencyMs(run.latency.p99))),
        perSide(sides, cpu),
        perSide(sides, (run) => (run === undefined ? "–" : formatErrors(run.errors))),
      ]),
    );
  }
  const ours = runs.get(peersOpenLoopRunId("stateward"));
  const peer = runs.get(peersOpenLoopRunId("peer"));
  const client = peer?.extra["openLoopPeer"];
  lines.push(
    "",
    `### p99 at equal offered load`,
    "",
    `Open loop (arrivals on a fixed schedule, latency from the intended send time) at ${Math.round(PEERS_OPEN_LOOP_SHARE * 100)} % of the strongest Lua peer's closed-loop Get rate at ${PEERS_OPEN_LOOP_WORKLOAD.inFlight} in flight measured just before, for Stateward and that peer, alternating the same way (2 sides). A side whose achieved rate is below the offered one could not keep up on the machine of the moment: its p99 then holds the queueing.`,
    "",
  );
  if (ours === undefined || peer === undefined) {
    lines.push("Not measured in this run.");
  } else {
    lines.push(
      markdownRow(["side", "offered /s", "achieved Get/s", "p50 ms", "p99 ms", "p99.9 ms", "server µs/op", "p99 Stateward ÷ peer", "slices min – median – max", "errors"]),
      markdownRow(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]),
    );
    const p99Ratio = peer.latency.p99 > 0 ? ours.latency.p99 / peer.latency.p99 : undefined;
    const peerTitle = typeof client === "string" && client in REDIS_CLIENT_TITLES ? REDIS_CLIENT_TITLES[client as keyof typeof REDIS_CLIENT_TITLES] : "the peer";
    for (const [title, run] of [
      ["Stateward (pipeline)", ours],
      [peerTitle, peer],
    ] as const) {
      lines.push(
        markdownRow([
          title,
          String(run.extra["openLoopRate"] ?? run.settings.ratePerSecond ?? "–"),
          formatCount(run.throughput),
          formatLatencyMs(run.latency.p50),
          formatLatencyMs(run.latency.p99),
          formatLatencyMs(run.latency.p999),
          cpu(run),
          run === ours ? formatRatio(p99Ratio) : "",
          run === ours ? spread(peer, "statewardP99Ratio") : "",
          formatErrors(run.errors),
        ]),
      );
    }
  }
  lines.push("", "Targets (issue 16):", "");
  for (const standing of standings.filter((item) => item.name.startsWith("Peers: "))) {
    lines.push(`- ${standing.name}: ${standing.target}. Measured ${standing.measured}: **${standing.status}**.`);
    if (standing.status === "missed") lines.push(`  Why: ${reasons[standing.name] ?? "not analysed yet."}`);
  }
  return lines;
}
