/**
 * The Go caller (loadtest/go, issue 16) end to end, short: built with `go build`, run against a
 * real redis-server and a real Stateward server the tool starts on free loopback ports, its JSON
 * checked against what the Node side sees of the same sessions; then the go-caller group. Asserts
 * shapes, outcomes and consistency, never speed. Needs Go, redis-server and the built server.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseCliArgs } from "../src/args";
import {
  buildGoDriver,
  goDriverMinVersion,
  goDriverRunResult,
  goDriverTransports,
  parseGoDriverResult,
  runGoDriver,
  type GoDriverRun,
  type GoDriverTarget,
} from "../src/go-driver";
import { GO_CALLER_REDIS_SIDES, goCallerRatioExtras, goCallerRedisRunId, goCallerStatewardRunId } from "../src/go-caller-runs";
import { runGoCallerGroup } from "../src/go-caller-scenario";
import { GrpcUnarySessionOps } from "../src/grpc-unary-session-ops";
import { REDIS_GET_SCRIPT } from "../src/redis-lua-scripts";
import { REDIS_DEFAULT_TTL_SECONDS, RedisSessionOps, redisSessionKeys } from "../src/redis-session-ops";
import { RunContext } from "../src/run-context";
import { startRedis, startStateward, type StartedTarget } from "../src/server-processes";

const APP = "gotest";

describe("Go caller (loadtest/go, end to end)", function () {
  this.timeout(240_000);
  let dir = "";
  let binary = "";
  let luaFile = "";
  let redis: StartedTarget | undefined;
  let stateward: StartedTarget | undefined;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "go-driver-test-"));
    binary = await buildGoDriver(dir);
    luaFile = path.join(dir, "get.lua");
    writeFileSync(luaFile, REDIS_GET_SCRIPT);
    redis = await startRedis();
    stateward = await startStateward();
  });

  after(async () => {
    await redis?.process.stop();
    await stateward?.process.stop();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  const run = (target: GoDriverTarget, address: string, overrides: Partial<GoDriverRun> = {}): GoDriverRun => ({
    target,
    address,
    ...(target === "stateward" ? { transport: "unary" } : {}),
    concurrency: 4,
    durationMs: 600,
    warmupMs: 100,
    intervalMs: 100,
    pool: 40,
    poolPrefix: "gd-",
    payloadBytes: 1024,
    seed: true,
    app: APP,
    redisKeys: redisSessionKeys(APP, "$ID"),
    ttlSeconds: REDIS_DEFAULT_TTL_SECONDS,
    ...(target === "redis-evalsha" ? { luaScriptFile: luaFile } : {}),
    ...overrides,
  });

  it("fails clearly without go", async () => {
    await assert.rejects(buildGoDriver(dir, "go-not-installed-here"), (error: Error) => {
      assert.match(error.message, new RegExp(`needs Go >= ${goDriverMinVersion().replace(/\./g, "\\.")}: "go-not-installed-here" is not on PATH`));
      assert.match(error.message, /--only without go-caller/);
      return true;
    });
  });

  it("lists the Go SDK's transports, the default first", async () => {
    const transports = await goDriverTransports(binary);
    assert.ok(transports.includes("unary"), transports.join(","));
  });

  for (const target of ["stateward", "redis-get", "redis-evalsha"] as const) {
    it(`${target}: seeds the pool, loads it, and reports a consistent JSON result`, async () => {
      const server = (target === "stateward" ? stateward : redis) as StartedTarget;
      const measured = await runGoDriver(binary, run(target, server.address, { poolPrefix: `gd-${target}-` }), { pid: server.process.pid });
      const result = measured.result;
      assert.equal(result.target, target);
      assert.equal(result.seeded, 40);
      assert.deepEqual(result.errors, {});
      // Every session was written before the load: every Get finds it.
      assert.deepEqual(Object.keys(result.outcomes), ["OK"]);
      assert.ok(result.completed > 0 && result.outcomes["OK"] === result.completed);
      assert.ok(result.opsPerSecond > 0 && result.measuredMs >= 600, `measured ${result.measuredMs} ms`);
      assert.equal(result.timeline.counts.length, 6);
      assert.ok(result.timeline.counts.reduce((sum, count) => sum + count, 0) <= result.completed);
      assert.ok(result.latencyUs.p50 <= result.latencyUs.p99 && result.latencyUs.p99 <= result.latencyUs.p999 && result.latencyUs.p999 <= result.latencyUs.max);
      assert.ok(measured.server !== undefined && measured.server.after.cpuUs > measured.server.before.cpuUs, "the server worked during the measured phase");
      // The histogram crosses over intact: the Node side's HDR histogram reports the driver's percentiles.
      const report = goDriverRunResult(measured, { id: "x", title: "x", command: "x", payload: "1 KiB", server: { pid: server.process.pid }, gcSource: { unavailable: "test" } });
      assert.deepEqual(
        [report.latency.count, report.latency.p50, report.latency.p99, report.latency.p999, report.latency.max],
        [result.latencyUs.count, result.latencyUs.p50, result.latencyUs.p99, result.latencyUs.p999, result.latencyUs.max],
      );
      assert.ok(report.server !== undefined && report.server.cpuUsPerOp > 0);
      assert.ok(report.client !== undefined && report.client.cpuUsPerOp > 0);
    });
  }

  it("writes the sessions the Node side reads, with its app and key layout", async () => {
    const grpc = new GrpcUnarySessionOps(stateward?.address ?? "", APP);
    const [host, port] = (redis?.address ?? "").split(":");
    const ioredis = new RedisSessionOps(host ?? "", Number(port), APP);
    try {
      assert.equal(await grpc.get("gd-stateward-39"), "OK");
      assert.equal(await ioredis.get("gd-redis-get-39"), "OK");
      assert.equal(await grpc.get("gd-stateward-40"), "NOT_FOUND");
    } finally {
      grpc.close();
      ioredis.close();
    }
  });

  it("redis-evalsha runs the given script: a lock taken by the Node side reads LOCKED, a missing session NOT_FOUND", async () => {
    const [host, port] = (redis?.address ?? "").split(":");
    const ioredis = new RedisSessionOps(host ?? "", Number(port), APP);
    const address = redis?.address ?? "";
    try {
      await ioredis.set("gd-locked-0", Buffer.from("x"));
      assert.equal((await ioredis.lock("gd-locked-0", { waitMs: 0, leaseMs: 60_000, create: false })).outcome, "OK");
      const shape = { pool: 1, poolPrefix: "gd-locked-", seed: false, durationMs: 300, warmupMs: 0 };
      const locked = await runGoDriver(binary, run("redis-evalsha", address, shape));
      assert.deepEqual(Object.keys(locked.result.outcomes), ["LOCKED"]);
      // Plain GET reads the data key and knows nothing of the lock.
      const plain = await runGoDriver(binary, run("redis-get", address, shape));
      assert.deepEqual(Object.keys(plain.result.outcomes), ["OK"]);
      const missing = await runGoDriver(binary, run("redis-evalsha", address, { ...shape, poolPrefix: "gd-none-" }));
      assert.deepEqual(Object.keys(missing.result.outcomes), ["NOT_FOUND"]);
    } finally {
      ioredis.close();
    }
  });

  it("reports the driver's own failure with its message", async () => {
    await assert.rejects(runGoDriver(binary, run("redis-evalsha", redis?.address ?? "", { luaScriptFile: path.join(dir, "absent.lua") })), /exited with 1: .*absent\.lua/);
  });

  it("runs the go-caller group: the Go SDK against go-redis GET and EVALSHA, alternating", async () => {
    const options = parseCliArgs(["suite", "--only", "go-caller", "--duration", "2s", "--warmup", "0s", "--pool", "50", "-c", "4", "--no-progress"]);
    const context = new RunContext(options, { enabled: false, stream: process.stderr });
    try {
      const runs = await runGoCallerGroup(context);
      const transports = await goDriverTransports(binary);
      assert.deepEqual(
        runs.map((item) => item.id),
        [...transports.map(goCallerStatewardRunId), ...GO_CALLER_REDIS_SIDES.map(goCallerRedisRunId)],
      );
      for (const item of runs) {
        assert.deepEqual(item.errors, {}, item.id);
        assert.deepEqual(Object.keys(item.outcomes), ["OK"], item.id);
        assert.equal(item.generator, "go");
        assert.equal(item.settings.concurrency, 4);
        assert.ok(item.server !== undefined && item.server.cpuUsPerOp > 0, `${item.id}: server CPU measured`);
        assert.match(item.command, /^npx stateward-loadtest suite --only go-caller .*--pool 50$/);
        assert.match(item.notes.join(" "), /measured in 4 slices alternating with/);
      }
      const judged = runs[0];
      assert.equal(judged?.extra["judgedTransport"], transports[0]);
      for (const side of GO_CALLER_REDIS_SIDES) {
        const names = goCallerRatioExtras(side);
        const [min, median, max] = [names.min, names.median, names.max].map((name) => judged?.extra[name]) as number[];
        assert.ok(typeof min === "number" && min > 0 && min <= (median ?? 0) && (median ?? 0) <= (max ?? 0), `${side}: ${min} ≤ ${median} ≤ ${max}`);
      }
    } finally {
      await context.stopAll();
    }
  });
});

describe("Go driver result parsing", () => {
  const valid = {
    event: "result",
    target: "redis-get",
    concurrency: 2,
    pool: 10,
    durationMs: 1000,
    warmupMs: 0,
    measuredMs: 1000,
    completed: 4,
    opsPerSecond: 4,
    latencyUs: { count: 3, mean: 200, p50: 100, p90: 300, p99: 300, p999: 300, max: 300 },
    histogram: { values: [100, 300], counts: [2, 1] },
    outcomes: { OK: 2, NOT_FOUND: 1 },
    errors: { REDIS_ERROR: 1 },
    intervalMs: 500,
    timeline: { counts: [2, 2], latency: [{ startMs: 0, count: 2, p50: 100, p99: 100, max: 100 }, { startMs: 500, count: 1, p50: 300, p99: 300, max: 300 }] },
    clientCpuUs: 1000,
    seeded: 0,
    redisPoolSize: 20,
    goVersion: "go1.26.8",
    gomaxprocs: 2,
  };

  it("reads a consistent result", () => {
    const result = parseGoDriverResult(JSON.stringify(valid));
    assert.equal(result.completed, 4);
    assert.equal(result.redisPoolSize, 20);
    assert.equal(result.transport, undefined);
  });

  it("refuses a result whose figures do not add up", () => {
    assert.throws(() => parseGoDriverResult(JSON.stringify({ ...valid, histogram: { values: [100, 300], counts: [2, 2] } })), /histogram does not add up/);
    assert.throws(() => parseGoDriverResult(JSON.stringify({ ...valid, completed: 3 })), /do not add up to its completed/);
    assert.throws(() => parseGoDriverResult(JSON.stringify({ ...valid, target: "memcached" })), /unknown target/);
    assert.throws(() => parseGoDriverResult(JSON.stringify({ ...valid, event: "measuring" })), /not a result line/);
    assert.throws(() => parseGoDriverResult("{"), /not JSON/);
  });
});
