/**
 * The Redis backend when Redis is not there or does not confirm: every call fails fast with
 * UNAVAILABLE (BACKEND_UNAVAILABLE) while Redis is down, grpc.health.v1 and `/readyz` say so, and
 * the same node recovers by itself when Redis is back; with `--redis-wait-replicas`, a write no
 * replica confirms fails with UNAVAILABLE saying so. Each test starts its own Redis.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";

import { startRedis, type RedisProcess } from "../helpers/redis-server";
import { httpRequest } from "../helpers/http-get";
import { respCommand } from "../helpers/resp-command";
import { freePort } from "../helpers/telemetry-test-kit";
import { expectStatus, grpc, Outcome, waitFor, withTimeout, type Calls } from "../helpers/test-server";
import { healthChecker, keyOf, startRedisNode, Teardown, uniquePrefix, type RedisNode } from "./stateward-on-redis";

/** Bytes waiting unread in the receive queues of the connections to Redis on `port` (from `ss`). */
function unreadBytes(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile("ss", ["-Htn", "state", "established", `( sport = :${port} )`], (error, stdout) => {
      if (error !== null) reject(error);
      else resolve(stdout.split("\n").reduce((sum, line) => sum + (Number(line.trim().split(/\s+/)[0]) || 0), 0));
    });
  });
}

/** The six calls, each as a user makes it (a deadline so that a hang fails the test rather than stalls it). */
function sixCalls(call: Calls): [string, () => Promise<unknown>][] {
  const deadline = { deadlineMs: 5000 };
  return [
    ["Get", () => call.get({}, deadline)],
    ["Lock", () => call.lock({ create: true }, deadline)],
    ["Set", () => call.set({ data: "x" }, deadline)],
    ["Release", () => call.release({ lockId: 1n }, deadline)],
    ["Expire", () => call.expire({ ttlSeconds: 60 }, deadline)],
    ["Remove", () => call.remove({}, deadline)],
  ];
}

describe("Redis backend: Redis unreachable or unconfirmed", function () {
  this.timeout(30_000);
  const teardown = new Teardown();
  afterEach(() => teardown.run());

  const redisWith = async (options: Parameters<typeof startRedis>[0] = {}): Promise<RedisProcess> =>
    teardown.add(await startRedis(options), (redis) => redis.stop());
  const nodeOn = async (url: string, flags: readonly string[] = []): Promise<RedisNode> =>
    teardown.add(await startRedisNode(url, uniquePrefix("avail"), flags), (node) => node.close());

  it("fails each call within 1 s with UNAVAILABLE BACKEND_UNAVAILABLE while Redis is down, reports NOT_SERVING, and recovers by itself", async () => {
    const redis = await redisWith();
    const healthPort = await freePort();
    const node = await nodeOn(redis.url, ["--health-port", String(healthPort), ...(process.env.DEBUG_LOG ? ["--log-level", "debug"] : [])]);
    const health = teardown.add(healthChecker(node.server.address), (checker) => checker.close());
    const { call } = node;
    assert.equal(await health.check(), "SERVING");
    assert.equal((await httpRequest(healthPort, "/readyz")).status, 200);

    // A call waiting behind a lock when Redis goes away ends too (within its wait, never hanging).
    const held = await call.lock({ sessionId: "held", create: true, leaseMs: 30_000 });
    assert.equal(held.outcome, Outcome.OUTCOME_OK);
    const waiting = call.get({ sessionId: "held", waitMs: 1000 }, { deadlineMs: 5000 }).then(
      (answer) => `answered ${Outcome[answer.outcome]}`,
      (error: grpc.ServiceError) => `failed ${grpc.status[error.code]}: ${error.details}`,
    );
    const key = keyOf(node.prefix, "app", "held");
    await waitFor(async () => (await respCommand({ port: redis.port }, ["HGET", key, "qn"])) === "1", "the Get to be queued in Redis");

    await redis.kill("SIGKILL");
    const killedAt = Date.now();
    for (const [name, attempt] of sixCalls(call)) {
      const started = Date.now();
      const error = await expectStatus(attempt(), grpc.status.UNAVAILABLE, { reason: "BACKEND_UNAVAILABLE" });
      const took = Date.now() - started;
      assert.ok(took < 1000, `${name} failed in ${took} ms`);
      assert.match(error.details, /Redis/, `${name}: the message names the backend`);
    }
    const ended = await withTimeout(waiting, 3000, "the waiting Get");
    assert.ok(/^failed UNAVAILABLE: |^answered OUTCOME_LOCKED$/.test(ended), `the waiting Get ${ended}`);

    await waitFor(async () => (await health.check()) === "NOT_SERVING", "grpc.health.v1 to report NOT_SERVING", 2000);
    assert.equal((await httpRequest(healthPort, "/readyz")).status, 503);
    assert.equal((await httpRequest(healthPort, "/healthz")).status, 200, "the process itself is alive");
    assert.ok(Date.now() - killedAt < 10_000);

    await redis.restart();
    const restartedAt = Date.now();
    await waitFor(async () => (await health.check()) === "SERVING", "grpc.health.v1 to report SERVING again", 5000);
    assert.equal((await httpRequest(healthPort, "/readyz")).status, 200);
    // The connection is back without a new server: every call works again.
    await waitFor(
      () =>
        call.get({ sessionId: "probe" }).then(
          () => true,
          () => false,
        ),
      "calls to succeed again",
      5000,
    );
    assert.equal((await call.set({ data: "back" })).version, 1n, "a fresh Redis (no persistence): a new session");
    assert.equal((await call.get()).data.toString(), "back");
    const lock = await call.lock({ sessionId: "after", create: true });
    assert.equal(lock.outcome, Outcome.OUTCOME_OK);
    assert.equal((await call.release({ sessionId: "after", lockId: lock.lockId })).released, true);
    assert.equal((await call.expire({ ttlSeconds: 60 })).found, true);
    assert.equal((await call.remove()).removed, true);
    assert.ok(Date.now() - restartedAt < 8000, "recovered within a few seconds");
  });

  it("fails calls whose commands Redis had received but not read when it died with UNAVAILABLE, not INTERNAL", async () => {
    const redis = await redisWith();
    const { call } = await nodeOn(redis.url);
    await call.set({ data: "before" });
    // Stopped, Redis reads nothing: the commands wait in its socket; killed then, its kernel resets
    // the connection (ECONNRESET) instead of closing it.
    process.kill(redis.pid, "SIGSTOP");
    const inFlight = sixCalls(call).map(([name, attempt]) =>
      attempt().then(
        () => `${name}: answered`,
        (error: grpc.ServiceError) => `${name}: ${grpc.status[error.code]} ${error.details}`,
      ),
    );
    await waitFor(async () => (await unreadBytes(redis.port)) > 0, "the commands to reach the stopped Redis");
    await redis.kill("SIGKILL");
    const outcomes = await withTimeout(Promise.all(inFlight), 4000, "the calls in flight");
    const wrong = outcomes.filter((outcome) => !/: UNAVAILABLE the session backend \(Redis\) is unavailable/.test(outcome));
    assert.deepEqual(wrong, [], "every call in flight failed UNAVAILABLE");
  });

  it("with --redis-wait-replicas 1: a Set succeeds while the replica confirms, and fails UNAVAILABLE saying it was not confirmed once the replica is gone", async () => {
    // No diskless-sync delay: the replica is in sync at once instead of after 5 s.
    const master = await redisWith({ extraArgs: ["--repl-diskless-sync-delay", "0"] });
    const replica = await redisWith({ extraArgs: ["--replicaof", "127.0.0.1", String(master.port)] });
    await waitFor(async () => /^master_link_status:up\r?$/m.test(await replica.cli("INFO", "replication")), "the replica to be in sync", 10_000);
    // And the master counts it as online (WAIT counts only those).
    await waitFor(async () => /^slave0:.*state=online/m.test(await master.cli("INFO", "replication")), "the master to see the replica online", 10_000);
    // 1 s: a replica on a loaded machine (CI) may take more than a few hundred ms to acknowledge.
    const { call } = await nodeOn(master.url, ["--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "1000"]);

    assert.equal((await call.set({ data: "confirmed" })).version, 1n);
    const lock = await call.lock({ leaseMs: 10_000 });
    assert.equal(lock.outcome, Outcome.OUTCOME_OK, "a Lock is confirmed too");
    assert.equal((await call.set({ data: "confirmed 2", lockId: lock.lockId })).version, 2n);

    await replica.kill("SIGKILL");
    const started = Date.now();
    const error = await expectStatus(call.set({ data: "unconfirmed" }), grpc.status.UNAVAILABLE, {
      reason: "BACKEND_UNAVAILABLE",
      message: [/not confirmed|only 0 of 1 replicas? confirmed/i],
    });
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 4000, `the Set waited about the wait timeout (${took} ms)`);
    assert.ok(!error.details.includes("unconfirmed"), "the data is not in the message");
    // As the message says, the write was made on the master (only its confirmation is missing).
    const got = await call.get();
    assert.equal(got.version, 3n);
    assert.equal(got.data.toString(), "unconfirmed");
  });
});
