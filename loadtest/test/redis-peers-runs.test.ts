/**
 * The node-redis peers end to end through the load driver (worker threads open their own
 * channels from the target spec): `--target node-redis-lua` and `--target node-redis-plain`
 * against a redis-server the tool starts. Asserts the runs, outcomes and zero errors, never speed.
 * Needs redis-server on PATH.
 */
import assert from "node:assert/strict";
import Redis from "ioredis";
import { parseCliArgs } from "../src/args";
import { RunContext } from "../src/run-context";
import { runSessionScenario } from "../src/session-scenario";
import { splitHostPort } from "../src/target-spec";

/** Calls per command so far, from INFO commandstats. */
async function commandCalls(address: string): Promise<Record<string, number>> {
  const { host, port } = splitHostPort(address);
  const admin = new Redis({ host, port, maxRetriesPerRequest: 1 });
  try {
    const info = await admin.info("commandstats");
    return Object.fromEntries([...info.matchAll(/^cmdstat_([^:]+):calls=([0-9]+)/gm)].map((match) => [match[1] ?? "", Number(match[2])]));
  } finally {
    admin.disconnect();
  }
}

describe("node-redis peers (end to end)", function () {
  this.timeout(60_000);

  for (const client of ["node-redis-lua", "node-redis-plain"] as const) {
    it(`runs get and lock-set with --target ${client} against a redis-server it starts`, async () => {
      const options = parseCliArgs(["get", "--target", client, "--duration", "600ms", "--warmup", "0s", "--pool", "50", "-c", "8", "--channels", "2", "--no-progress"]);
      const context = new RunContext(options, { enabled: false, stream: process.stderr });
      try {
        const redis = await context.redis();
        const get = await runSessionScenario(context, "get", "redis", redis);
        assert.equal(get.id, `get-${client}-node`);
        assert.equal(get.target, client);
        assert.match(get.command, new RegExp(`^npx stateward-loadtest get --target ${client} `));
        assert.deepEqual(get.errors, {});
        assert.ok(get.completed > 0 && (get.outcomes["OK"] ?? 0) === get.latency.count, JSON.stringify(get.outcomes));
        assert.ok(get.server !== undefined && get.server.cpuUsPerOp > 0, "redis-server CPU measured");
        const lockSet = await runSessionScenario(context, "lock-set", "redis", redis);
        assert.deepEqual(lockSet.errors, {});
        assert.ok(lockSet.completed > 0);
        // The peer that ran is the one asked for: scripts loaded and run by EVALSHA, or plain commands only.
        const calls = await commandCalls(redis.addresses[0] ?? "");
        if (client === "node-redis-lua") {
          assert.ok((calls["script|load"] ?? 0) >= 3 && (calls["evalsha"] ?? 0) > get.completed, JSON.stringify(calls));
        } else {
          assert.equal(calls["evalsha"] ?? 0, 0, JSON.stringify(calls));
          assert.ok((calls["get"] ?? 0) > get.completed && (calls["set"] ?? 0) > 0, JSON.stringify(calls));
        }
      } finally {
        await context.stopAll();
      }
    });
  }
});
