/**
 * Stateward over Redis (issue 14): one redis-server, one Stateward node started with `--backend
 * redis --redis-url redis://<it> --redis-prefix bench:`, loaded through the client library's
 * PipelineClient, against the load tester's direct Redis + Lua baseline (ioredis) on the SAME
 * redis-server: Get, Lock+Set and mixed at the command line's concurrency, payloads and duration
 * (those of the suite's pipeline and redis groups). Each pair alternates in slices
 * (alternating-runs.ts). The Stateward runs report the CPU of both processes: the node's as the
 * server's, redis-server's as the peer's; the baseline's server is redis-server itself.
 */
import { runAlternating, suiteGroupCommand } from "./alternating-runs";
import type { RunResult } from "./report-model";
import type { RunContext } from "./run-context";
import { REDIS_BACKEND_WORKLOADS, redisBackendRunId, redisBackendServerArgs } from "./redis-backend-runs";

/** Runs the redis-backend group: per workload, the direct baseline's run, then Stateward's. */
export async function runRedisBackendGroup(context: RunContext): Promise<RunResult[]> {
  const redis = await context.redis(true);
  const runs: RunResult[] = [];
  try {
    const address = redis.addresses[0] ?? "";
    const pid = redis.observed?.pid;
    const node = await context.stateward("plaintext", {
      serverArgs: redisBackendServerArgs(address),
      ...(pid === undefined ? {} : { peer: { name: "redis-server", pid } }),
    });
    try {
      const pipelined = context.withOptions({ transport: "pipeline" });
      const command = suiteGroupCommand("redis-backend", context.options);
      for (const scenario of REDIS_BACKEND_WORKLOADS) {
        // Stateward first: the slice ratios in its extra are Stateward ÷ direct.
        const [stateward, direct] = await runAlternating(pipelined, scenario, [
          { kind: "stateward", target: node, label: "Stateward over the same Redis" },
          { kind: "redis", target: redis, label: "the direct Redis + Lua baseline" },
        ]);
        runs.push({
          ...direct,
          id: redisBackendRunId(scenario, "direct"),
          title: `Redis backend · ${scenario} · direct Redis + Lua (ioredis), same redis-server`,
          command,
        });
        runs.push({
          ...stateward,
          id: redisBackendRunId(scenario, "stateward"),
          title: `Redis backend · ${scenario} · Stateward over Redis · Node (pipeline)`,
          command,
          notes: [...stateward.notes, "server figures are the Stateward node's; peer figures are redis-server's over the same measured phase"],
        });
      }
    } finally {
      await node.stop();
    }
  } finally {
    await redis.stop();
  }
  return runs;
}
