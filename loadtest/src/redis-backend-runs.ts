/**
 * The runs of the suite's issue-14 Redis groups by name (redis-backend-scenario.ts,
 * redis-handoff-scenario.ts): what they compare, the ids of their runs and the targets, shared with
 * target-evaluation.ts and BENCHMARKS.md.
 */

/** Key prefix of the Stateward node(s) over Redis (`--redis-prefix`); the direct baseline's keys start with `loadtest:`. */
export const REDIS_BACKEND_PREFIX = "bench:";

/** The workloads of Stateward over Redis against the direct Redis + Lua baseline, in the order they run. */
export const REDIS_BACKEND_WORKLOADS = ["get", "lock-set", "mixed"] as const;

/** One of {@link REDIS_BACKEND_WORKLOADS}. */
export type RedisBackendWorkload = (typeof REDIS_BACKEND_WORKLOADS)[number];

/** Id of a run of the redis-backend group: `stateward` over Redis (pipelined) or the `direct` baseline on the same Redis. */
export function redisBackendRunId(scenario: RedisBackendWorkload, side: "stateward" | "direct"): string {
  return `redis-backend-${scenario}-${side}`;
}

/** Issue 14: Stateward over Redis (one node, pipelined) keeps at least this share of the direct baseline's throughput. */
export const REDIS_BACKEND_MIN_RATIO = 0.7;

/** Id of a run of the redis-handoff group: Lock(wait) across the two nodes, or the 500 ms polling way. */
export function redisHandoffRunId(mode: "wait" | "poll"): string {
  return `redis-handoff-${mode}`;
}

/** Issue 14: the contended handoff across two nodes over one Redis, p99 at most this, ms. */
export const REDIS_HANDOFF_MAX_P99_MS = 5;

/** Issue 14: critical sections per second at least this many times the 500 ms polling way's. */
export const REDIS_HANDOFF_MIN_POLLING_RATIO = 100;

/** Nodes of the handoff group; client i talks to node i % nodes. */
export const REDIS_HANDOFF_NODES = 2;

/**
 * Longest measured phase of the polling way, ms: it completes a couple of critical sections per
 * second, so a few seconds give its rate; its ratio is computed from that measured rate.
 */
export const REDIS_HANDOFF_POLL_MAX_MS = 5_000;

/** The `serve` flags of a Stateward node over the Redis at `address` (`host:port`). */
export function redisBackendServerArgs(address: string): string[] {
  return ["--backend", "redis", "--redis-url", `redis://${address}`, "--redis-prefix", REDIS_BACKEND_PREFIX];
}
