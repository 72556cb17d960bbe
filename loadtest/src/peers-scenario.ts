/**
 * The suite's `peers` group (issue 16): one Stateward server loaded over the Pipeline transport
 * against one redis-server loaded by the peers a Node project would pick (node-redis + the
 * provider's Lua scripts, ioredis + the same scripts, node-redis plain GET/SET as the floor), in
 * one alternating run per workload (A-B-C-D, then D-C-B-A, …; alternating-runs.ts), so that the
 * machine's swings fall on every side alike. Then the p99 at equal offered load: an open loop at
 * {@link PEERS_OPEN_LOOP_SHARE} of the strongest Lua peer's Get rate measured just before, for
 * Stateward and that peer, alternating too. Server CPU per operation is each server process's own
 * (/proc/<pid>/stat): Stateward's node for its runs, redis-server for the peers'.
 */
import { ALTERNATING_SLICES, ratioSpread, runAlternatingSlices, suiteGroupCommand, type AlternatingSide } from "./alternating-runs";
import {
  PEER_SIDES,
  PEER_WORKLOADS,
  PEERS_DURATION_SHARE,
  PEERS_OPEN_LOOP_MAX_IN_FLIGHT,
  PEERS_OPEN_LOOP_SHARE,
  PEERS_OPEN_LOOP_WORKLOAD,
  peersOpenLoopRunId,
  peersRunId,
  perConnectionInFlight,
  strongestLuaPeer,
  type PeerSide,
  type PeerWorkload,
} from "./peers-runs";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import { mergeRunSlices } from "./run-merge";
import { REDIS_CLIENT_TITLES } from "./target-spec";

function sideTitle(side: PeerSide): string {
  return side === "stateward" ? "Stateward (pipeline)" : REDIS_CLIENT_TITLES[side];
}

function sideOf(side: PeerSide, stateward: LoadTarget, redis: LoadTarget): AlternatingSide {
  return side === "stateward"
    ? { kind: "stateward", target: stateward, label: sideTitle(side) }
    : { kind: "redis", target: redis, label: sideTitle(side), redisClient: side };
}

/** `<name>Min`, `<name>Median`, `<name>Max` of per-slice figures (none when a figure is missing in a slice). */
function spreadOf(name: string, values: readonly (number | undefined)[]): Record<string, number> {
  if (values.length === 0 || values.some((value) => value === undefined || !Number.isFinite(value))) return {};
  const spread = ratioSpread([...(values as number[])].sort((a, b) => a - b));
  return { [`${name}Min`]: spread.sliceRatioMin, [`${name}Median`]: spread.sliceRatioMedian, [`${name}Max`]: spread.sliceRatioMax };
}

/** Per slice, `figure` of Stateward's slice over the same figure of the side's slice of that round. */
function perSlice(stateward: readonly RunResult[], side: readonly RunResult[], figure: (run: RunResult) => number | undefined): (number | undefined)[] {
  return side.map((run, slice) => {
    const ours = stateward[slice] === undefined ? undefined : figure(stateward[slice]);
    const theirs = figure(run);
    return ours === undefined || theirs === undefined || theirs <= 0 ? undefined : ours / theirs;
  });
}

/**
 * The spreads over the slices of one side: its server CPU per operation, and for a peer Stateward
 * ÷ it per slice (throughput, server CPU per operation, p99).
 */
function sliceSpreads(stateward: readonly RunResult[], side: readonly RunResult[], isStateward: boolean): Record<string, number> {
  return {
    ...spreadOf("serverCpuUsPerOp", side.map((run) => run.server?.cpuUsPerOp)),
    ...(isStateward
      ? {}
      : {
          ...spreadOf("statewardRatio", perSlice(stateward, side, (run) => run.throughput)),
          ...spreadOf("statewardCpuRatio", perSlice(stateward, side, (run) => run.server?.cpuUsPerOp)),
          ...spreadOf("statewardP99Ratio", perSlice(stateward, side, (run) => run.latency.p99)),
        }),
  };
}

/**
 * Runs the peers group: per workload every side's merged run (Stateward first), then the two
 * open-loop runs (when the open loop's workload is among `workloads`: its peer rate sets theirs).
 */
export async function runPeersGroup(context: RunContext, workloads: readonly PeerWorkload[] = PEER_WORKLOADS): Promise<RunResult[]> {
  const options = context.options;
  const connections = options.channels * options.workers;
  const command = suiteGroupCommand("peers", options);
  const runs: RunResult[] = [];
  const redis = await context.redis(true);
  try {
    const stateward = await context.stateward("plaintext");
    try {
      const pipelined = context.withOptions({ transport: "pipeline", durationMs: Math.round(options.durationMs * PEERS_DURATION_SHARE) });
      const sides = PEER_SIDES.map((side) => sideOf(side, stateward, redis));
      const order = `${sides.map((_, letter) => String.fromCharCode(65 + letter)).join("-")}, then reversed`;
      for (const workload of workloads) {
        const loaded = pipelined.withOptions({ inFlight: perConnectionInFlight(workload.inFlight, connections) });
        const slices = await runAlternatingSlices(loaded, workload.scenario, sides);
        const ours = slices[0] ?? [];
        PEER_SIDES.forEach((side, index) => {
          const sideSlices = slices[index] ?? [];
          const merged = mergeRunSlices(sideSlices, `the other peers (${order})`);
          runs.push({
            ...merged,
            id: peersRunId(workload, side),
            title: `Peers · ${workload.scenario} · ${workload.inFlight} in flight · ${sideTitle(side)}`,
            command,
            extra: { ...merged.extra, ...sliceSpreads(ours, sideSlices, side === "stateward") },
          });
        });
      }
      const strongest = strongestLuaPeer(new Map(runs.map((run) => [run.id, run])), PEERS_OPEN_LOOP_WORKLOAD);
      if (strongest !== undefined && strongest.run.throughput > 0) {
        const rate = Math.max(1, Math.round(strongest.run.throughput * PEERS_OPEN_LOOP_SHARE));
        const open = pipelined.withOptions({ mode: "open", rate, inFlight: perConnectionInFlight(PEERS_OPEN_LOOP_MAX_IN_FLIGHT, connections) });
        const openSides = [sideOf("stateward", stateward, redis), sideOf(strongest.client, stateward, redis)];
        const [ours = [], theirs = []] = await runAlternatingSlices(open, PEERS_OPEN_LOOP_WORKLOAD.scenario, openSides);
        const share = `${Math.round(PEERS_OPEN_LOOP_SHARE * 100)} % of ${sideTitle(strongest.client)}'s ${Math.round(strongest.run.throughput)} Get/s`;
        const extra = { openLoopRate: rate, openLoopPeer: strongest.client };
        const [mergedOurs, mergedTheirs] = [mergeRunSlices(ours, `${openSides[1]?.label ?? "the peer"} (A-B-B-A)`), mergeRunSlices(theirs, `${openSides[0]?.label ?? "Stateward"} (A-B-B-A)`)];
        runs.push({ ...mergedOurs, id: peersOpenLoopRunId("stateward"), title: `Peers · get · open loop ${rate}/s (${share}) · ${sideTitle("stateward")}`, command, extra: { ...mergedOurs.extra, ...extra, ...sliceSpreads(ours, ours, true) } });
        runs.push({ ...mergedTheirs, id: peersOpenLoopRunId("peer"), title: `Peers · get · open loop ${rate}/s (${share}) · ${sideTitle(strongest.client)}`, command, extra: { ...mergedTheirs.extra, ...extra, ...sliceSpreads(ours, theirs, false) } });
      }
    } finally {
      await stateward.stop();
    }
  } finally {
    await redis.stop();
  }
  return runs;
}

/** Slices per side and workload (for the section's text). */
export const PEERS_SLICES = ALTERNATING_SLICES;
