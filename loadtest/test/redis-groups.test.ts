/**
 * The issue-14 Redis groups end to end, short: a redis-server and Stateward nodes over it
 * (`--backend redis`) started by the tool, the direct baseline on the same redis-server, and the
 * handoff across two nodes. Asserts the runs, zero errors and that both processes' CPU is
 * measured, never speed. Needs the server built and redis-server on PATH (make test installs it).
 */
import assert from "node:assert/strict";
import { parseCliArgs } from "../src/args";
import { REDIS_BACKEND_WORKLOADS, redisBackendRunId, redisHandoffRunId } from "../src/redis-backend-runs";
import { runRedisBackendGroup } from "../src/redis-backend-scenario";
import { runRedisHandoffGroup } from "../src/redis-handoff-scenario";
import { RunContext } from "../src/run-context";

describe("suite groups over Redis (end to end)", function () {
  this.timeout(180_000);

  it("redis-backend: Stateward over Redis and the direct baseline on the same redis-server, with the CPU of both processes", async () => {
    const options = parseCliArgs(["suite", "--only", "redis-backend", "--duration", "3s", "--warmup", "0s", "--pool", "50", "-c", "8", "--no-progress"]);
    const context = new RunContext(options, { enabled: false, stream: process.stderr });
    try {
      const runs = await runRedisBackendGroup(context);
      assert.deepEqual(
        runs.map((run) => run.id),
        REDIS_BACKEND_WORKLOADS.flatMap((scenario) => [redisBackendRunId(scenario, "direct"), redisBackendRunId(scenario, "stateward")]),
      );
      for (const run of runs) {
        assert.deepEqual(run.errors, {}, run.id);
        assert.ok(run.completed > 0 && run.throughput > 0, run.id);
        assert.ok(run.server !== undefined && run.server.cpuUsPerOp > 0, `${run.id}: server CPU measured`);
        assert.match(run.command, /^npx stateward-loadtest suite --only redis-backend /);
      }
      for (const scenario of REDIS_BACKEND_WORKLOADS) {
        const stateward = runs.find((run) => run.id === redisBackendRunId(scenario, "stateward"));
        // Every operation goes through redis-server: it spends CPU on each.
        assert.equal(stateward?.peer?.name, "redis-server");
        assert.ok((stateward?.peer?.cpuUsPerOp ?? 0) > 0, `${scenario}: redis-server CPU behind Stateward`);
        assert.equal(stateward?.transport, "pipeline");
        assert.equal(runs.find((run) => run.id === redisBackendRunId(scenario, "direct"))?.peer, undefined);
      }
    } finally {
      await context.stopAll();
    }
  });

  it("redis-handoff: two nodes over one Redis take turns on one session, then the polling way", async () => {
    const options = parseCliArgs(["suite", "--only", "redis-handoff", "--duration", "1s", "--no-progress"]);
    const context = new RunContext(options, { enabled: false, stream: process.stderr });
    try {
      const [wait, poll, ...rest] = await runRedisHandoffGroup(context);
      assert.equal(rest.length, 0);
      assert.equal(wait?.id, redisHandoffRunId("wait"));
      assert.equal(poll?.id, redisHandoffRunId("poll"));
      assert.deepEqual(wait?.errors, {});
      assert.deepEqual(poll?.errors, {});
      // Lock(wait) never answers LOCKED; every critical section after a round's first is a handoff.
      assert.equal(wait?.outcomes["LOCKED answers"], 0);
      const sections = wait?.completed ?? 0;
      const rounds = wait?.outcomes["rounds"] ?? 0;
      assert.ok(sections >= 8 && sections === rounds * 8, `${sections} critical sections in ${rounds} rounds of 8`);
      assert.equal(wait?.latency.count, sections - rounds);
      assert.equal(wait?.extra["nodes"], 2);
      assert.ok(typeof wait?.extra["ratioToPolling"] === "number");
      assert.ok(typeof wait?.extra["redisCpuUsPerSection"] === "number" && wait.extra["redisCpuUsPerSection"] > 0);
      assert.ok((poll?.outcomes["LOCKED answers"] ?? 0) > 0, "the polling clients found the lock taken");
    } finally {
      await context.stopAll();
    }
  });
});
