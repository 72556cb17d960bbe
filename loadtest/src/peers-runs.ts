/**
 * The suite's `peers` group (issue 16) by name: Stateward over the Pipeline transport against the
 * Redis peers a Node project would pick, in one alternating run per workload; the ids of its runs,
 * the workloads and the targets, shared by peers-scenario.ts, target-evaluation.ts and
 * BENCHMARKS.md.
 */
import type { RunResult } from "./report-model";
import type { RedisClientName } from "./target-spec";

/** The sides of every workload, in the order each slice runs them (then reversed). */
export const PEER_SIDES = ["stateward", "node-redis-lua", "ioredis-lua", "node-redis-plain"] as const;

/** One of {@link PEER_SIDES}. */
export type PeerSide = (typeof PEER_SIDES)[number];

/** The peers with the same Lua protocol as Stateward's semantics: the targets' ratios are against the stronger. */
export const LUA_PEERS = ["node-redis-lua", "ioredis-lua"] as const satisfies readonly RedisClientName[];

/** Plain GET/SET: the floor of what Redis can do (no atomic lock check), shown, not a target. */
export const PLAIN_PEER = "node-redis-plain" satisfies RedisClientName;

/** A workload of the group: the scenario, the requests in flight in total, and the target ratio. */
export interface PeerWorkload {
  readonly scenario: "get" | "lock-set" | "mixed";
  /** Requests in flight over all connections (per connection: this ÷ (channels × workers)). */
  readonly inFlight: number;
  /** Issue 16: Stateward's throughput ≥ this × the strongest Lua peer's. */
  readonly minRatio: number;
}

/** Issue 16's workloads, in the order they run. */
export const PEER_WORKLOADS: readonly PeerWorkload[] = [
  { scenario: "get", inFlight: 64, minRatio: 1.2 },
  { scenario: "get", inFlight: 256, minRatio: 1.2 },
  { scenario: "lock-set", inFlight: 64, minRatio: 1.2 },
  { scenario: "lock-set", inFlight: 256, minRatio: 1.2 },
  { scenario: "mixed", inFlight: 64, minRatio: 1.0 },
];

/** Id of a closed-loop run of the group. */
export function peersRunId(workload: Pick<PeerWorkload, "scenario" | "inFlight">, side: PeerSide): string {
  return `peers-${workload.scenario}-${workload.inFlight}-${side}`;
}

/** The workload whose strongest Lua peer's rate sets the open-loop runs' rate. */
export const PEERS_OPEN_LOOP_WORKLOAD = { scenario: "get", inFlight: 64 } as const;

/** The open loop's rate: this share of the strongest Lua peer's closed-loop throughput. */
export const PEERS_OPEN_LOOP_SHARE = 0.7;

/** Requests in flight (in total) that cap the open-loop runs: above what either side needs at that rate. */
export const PEERS_OPEN_LOOP_MAX_IN_FLIGHT = 256;

/** Id of an open-loop run: Stateward's, or the strongest Lua peer's. */
export function peersOpenLoopRunId(side: "stateward" | "peer"): string {
  return `peers-${PEERS_OPEN_LOOP_WORKLOAD.scenario}-${PEERS_OPEN_LOOP_WORKLOAD.inFlight}-open-${side}`;
}

/** Issue 16: Stateward's p99 at the open loop's rate ≤ this × the peer's. */
export const PEERS_P99_MAX_RATIO = 1.2;

/** Issue 16: server CPU per pipelined Get (Get at 64 in flight) at most this, µs. */
export const PEERS_GET_MAX_CPU_US = 5;

/**
 * Each side of a workload is measured for this share of --duration (8 s at make bench's 10 s):
 * 4 sides × 5 workloads and the open loop keep the group near 5 minutes; --duration shortens it.
 */
export const PEERS_DURATION_SHARE = 0.8;

/** Requests in flight per connection for `total` in flight over `connections`. */
export function perConnectionInFlight(total: number, connections: number): number {
  return Math.max(1, Math.round(total / Math.max(1, connections)));
}

/** The stronger Lua peer of a workload (higher throughput in the same run), or undefined when neither ran. */
export function strongestLuaPeer(
  runs: ReadonlyMap<string, RunResult>,
  workload: Pick<PeerWorkload, "scenario" | "inFlight">,
): { readonly client: (typeof LUA_PEERS)[number]; readonly run: RunResult } | undefined {
  let best: { client: (typeof LUA_PEERS)[number]; run: RunResult } | undefined;
  for (const client of LUA_PEERS) {
    const run = runs.get(peersRunId(workload, client));
    if (run !== undefined && (best === undefined || run.throughput > best.run.throughput)) best = { client, run };
  }
  return best;
}
