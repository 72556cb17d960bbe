/**
 * The Redis backend where the conformance suite cannot reach: Redis's maxmemory, scripts gone
 * from Redis's cache (SCRIPT FLUSH, a restart without persistence), fencing ids across removal,
 * Stateward restarts and a Redis restart with AOF, and Redis credentials (password from the
 * variable, a wrong one, an ACL user). Each test starts its own Redis on a free loopback port.
 */
import * as assert from "node:assert/strict";

import { SessionEventKind, watchSessionEvents, type SessionEvent } from "../../../client/ts/src";
import { SCRIPTS } from "../../src/store/redis/lua-scripts";
import { startRedis, type RedisProcess } from "../helpers/redis-server";
import { respCommand, type RespReply } from "../helpers/resp-command";
import { expectStatus, grpc, isServiceError, Outcome, waitFor, type Calls } from "../helpers/test-server";
import { keyOf, startRedisNode, Teardown, uniquePrefix, type RedisNode } from "./stateward-on-redis";

const APP = "app";

/** Polls until a Get through `call` is answered (not UNAVAILABLE): the node uses Redis again. */
async function untilAnswering(call: Calls, what: string, timeoutMs = 5000): Promise<void> {
  await waitFor(
    () =>
      call.get({ sessionId: "__probe__" }).then(
        () => true,
        (error: unknown) => {
          if (isServiceError(error) && error.code === grpc.status.UNAVAILABLE) return false;
          throw error;
        },
      ),
    what,
    timeoutMs,
  );
}

/** The fields of a session hash other than its data, as numbers or strings (undefined: absent). */
async function sessionFields(redis: RedisProcess, key: string): Promise<Record<string, string | undefined>> {
  const names = ["v", "ttl", "exp", "lid", "lat", "le", "gw", "lf", "first", "qn"];
  const values = (await respCommand({ port: redis.port }, ["HMGET", key, ...names])) as RespReply[];
  return Object.fromEntries(names.map((name, i) => [name, values[i] === null || values[i] === undefined ? undefined : String(values[i])]));
}

/** Asserts that a session hash is whole: a version, and lock fields that agree with each other. */
function assertConsistent(fields: Record<string, string | undefined>, what: string): void {
  const n = (name: string): number => Number(fields[name] ?? "0");
  assert.ok(n("v") >= 1, `${what}: a version (${JSON.stringify(fields)})`);
  assert.ok(n("ttl") >= 1 && n("exp") > 0, `${what}: ttl and expiry (${JSON.stringify(fields)})`);
  if (n("lid") !== 0) {
    assert.ok(n("lat") > 0 && n("le") > n("lat"), `${what}: a lock id comes with its lock time and lease end (${JSON.stringify(fields)})`);
    assert.ok(n("lf") >= n("lid"), `${what}: the last lock id issued is at least the holder's (${JSON.stringify(fields)})`);
  }
}

describe("Redis backend: beyond the conformance suite", function () {
  this.timeout(30_000);
  const teardown = new Teardown();
  afterEach(() => teardown.run());

  const redisWith = async (options: Parameters<typeof startRedis>[0] = {}): Promise<RedisProcess> =>
    teardown.add(await startRedis(options), (redis) => redis.stop());
  const nodeOn = async (url: string, prefix: string, flags: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RedisNode> =>
    teardown.add(await startRedisNode(url, prefix, flags, env), (node) => node.close());

  describe("Redis maxmemory", () => {
    it("answers RESOURCE_EXHAUSTED MEMORY_BUDGET when Redis is full, and a refused Set or Lock writes nothing", async () => {
      const redis = await redisWith({ maxmemory: "2mb", maxmemoryPolicy: "noeviction" });
      const prefix = uniquePrefix("oom");
      const { call } = await nodeOn(redis.url, prefix);
      const first = await call.set({ sessionId: "victim", data: "small and kept" });
      assert.equal(first.version, 1n);

      // Fill Redis with 256 KiB sessions until it refuses one (2 MB holds a handful at most).
      const big = Buffer.alloc(256 * 1024, 0x61);
      let refused: grpc.ServiceError | undefined;
      let filled = 0;
      for (; filled < 40 && refused === undefined; filled++) {
        try {
          await call.set({ sessionId: `filler-${filled}`, data: big });
        } catch (error) {
          refused = await expectStatus(Promise.reject(error), grpc.status.RESOURCE_EXHAUSTED, { reason: "MEMORY_BUDGET" });
        }
      }
      assert.ok(refused !== undefined, "Redis refused a Set before 40 x 256 KiB");
      assert.match(refused.details, /out of memory|maxmemory/i);

      // A Set on the existing session is refused the same way and changes nothing.
      await expectStatus(call.set({ sessionId: "victim", data: big }), grpc.status.RESOURCE_EXHAUSTED, { reason: "MEMORY_BUDGET" });
      const kept = await call.get({ sessionId: "victim" });
      assert.equal(kept.outcome, Outcome.OUTCOME_OK);
      assert.equal(kept.version, 1n, "the refused Set left the version");
      assert.equal(kept.data.toString(), "small and kept", "the refused Set left the data");

      // A Lock is refused the same way or succeeds; either way the hash stays whole.
      const key = keyOf(prefix, APP, "victim");
      let lockId = 0n;
      try {
        const lock = await call.lock({ sessionId: "victim" });
        assert.equal(lock.outcome, Outcome.OUTCOME_OK);
        lockId = lock.lockId;
      } catch (error) {
        await expectStatus(Promise.reject(error), grpc.status.RESOURCE_EXHAUSTED, { reason: "MEMORY_BUDGET" });
      }
      const fields = await sessionFields(redis, key);
      assertConsistent(fields, "after the Lock");
      assert.equal(fields.lid ?? "0", String(lockId), "the hash's holder is the Lock's answer (none if refused)");
      assert.equal(Number(await respCommand({ port: redis.port }, ["HSTRLEN", key, "d"])), "small and kept".length);

      // Removing the fillers (allowed when full) makes room: writes work again.
      for (let i = 0; i < filled; i++) await call.remove({ sessionId: `filler-${i}` });
      const again = await call.set({ sessionId: "victim", data: "after the room was made", lockId });
      assert.equal(again.version, 2n);
      assertConsistent(await sessionFields(redis, key), "after the Set");
    });
  });

  describe("scripts gone from Redis's cache", () => {
    it("runs every operation after SCRIPT FLUSH (NOSCRIPT: sent again with EVAL)", async () => {
      const redis = await redisWith();
      const { call } = await nodeOn(redis.url, uniquePrefix("flush"));
      const flush = async (): Promise<void> => {
        assert.equal(await redis.cli("SCRIPT", "FLUSH"), "OK");
      };
      /** Asserts that the operation just made loaded its script again (so it really ran on a flushed cache). */
      const loaded = async (...names: (keyof typeof SCRIPTS)[]): Promise<void> => {
        const exists = await respCommand({ port: redis.port }, ["SCRIPT", "EXISTS", ...names.map((name) => SCRIPTS[name].sha1)]);
        assert.deepEqual(exists, names.map(() => 1), `${names.join(", ")} loaded again`);
      };

      await flush();
      assert.equal((await call.set({ data: "one" })).version, 1n);
      await loaded("set");
      await flush();
      assert.equal((await call.get()).data.toString(), "one");
      await loaded("get");
      await flush();
      const lock = await call.lock({ leaseMs: 10_000 });
      assert.equal(lock.outcome, Outcome.OUTCOME_OK);
      await loaded("lock");
      // A waiting Get enqueues (get) and times out (waiter), each on a flushed cache.
      await flush();
      const timedOut = await call.get({ waitMs: 200 });
      assert.equal(timedOut.outcome, Outcome.OUTCOME_LOCKED, "the waiting Get timed out behind the lock");
      await loaded("get", "waiter");
      await flush();
      assert.equal((await call.set({ data: "two", lockId: lock.lockId, keepLock: true })).version, 2n);
      await flush();
      assert.equal((await call.release({ lockId: lock.lockId })).released, true);
      await loaded("release");
      await flush();
      assert.equal((await call.expire({ ttlSeconds: 60 })).found, true);
      await loaded("expire");
      await flush();
      assert.equal((await call.remove()).removed, true);
      await loaded("remove");
      assert.equal((await call.get()).outcome, Outcome.OUTCOME_NOT_FOUND);
    });

    it("works again by itself after a Redis restart without persistence: sessions gone, waits woken by push", async () => {
      const redis = await redisWith();
      // A long re-check: a waiter answered quickly below was woken by the re-established subscription.
      const prefix = uniquePrefix("restart");
      const { call } = await nodeOn(redis.url, prefix, ["--redis-recheck-ms", "10000"]);
      await call.set({ data: "lost with the restart" });
      await redis.restart();
      await untilAnswering(call, "the node to use the restarted Redis");
      assert.equal((await call.get()).outcome, Outcome.OUTCOME_NOT_FOUND, "nothing was persisted");

      // The subscriber reconnects on its own schedule: wait until its wake-up channel is back.
      const redisTarget = { port: redis.port };
      await waitFor(async () => ((await respCommand(redisTarget, ["PUBSUB", "CHANNELS", `${prefix}wake:*`])) as RespReply[]).length === 1, "the wake-up channel to be subscribed again");
      const lock = await call.lock({ create: true, leaseMs: 10_000 });
      assert.equal(lock.created, true);
      const waiting = call.get({ waitMs: 8000 });
      const key = keyOf(prefix, APP, "s1");
      await waitFor(async () => (await respCommand(redisTarget, ["HGET", key, "qn"])) === "1", "the Get to be queued in Redis");
      const started = Date.now();
      await call.set({ data: "after", lockId: lock.lockId });
      const woken = await waiting;
      const elapsed = Date.now() - started;
      assert.equal(woken.outcome, Outcome.OUTCOME_OK);
      assert.equal(woken.data.toString(), "after");
      assert.ok(elapsed < 2000, `the waiting Get was woken by the release in ${elapsed} ms (the re-check is 10 s)`);
    });
  });

  describe("fencing", () => {
    it("issues strictly increasing lock ids across Remove and re-creation, a Stateward restart and a Redis restart with AOF", async () => {
      const redis = await redisWith({ appendonly: true, appendfsync: "always" });
      const prefix = uniquePrefix("fence");
      const ids: bigint[] = [];
      const lockOnce = async (call: Calls, create: boolean): Promise<bigint> => {
        const lock = await call.lock({ sessionId: "fenced", create, leaseMs: 10_000 });
        assert.equal(lock.outcome, Outcome.OUTCOME_OK);
        const last = ids.at(-1);
        if (last !== undefined) assert.ok(lock.lockId > last, `lock id ${lock.lockId} after ${last}`);
        ids.push(lock.lockId);
        return lock.lockId;
      };

      const first = await startRedisNode(redis.url, prefix);
      try {
        const a = await lockOnce(first.call, true);
        await first.call.set({ sessionId: "fenced", data: "first life", lockId: a });
        assert.equal((await first.call.remove({ sessionId: "fenced" })).removed, true);
        const b = await lockOnce(first.call, true);
        await first.call.set({ sessionId: "fenced", data: "second life", lockId: b });
        // The first incarnation's id does not work on the second.
        await expectStatus(first.call.set({ sessionId: "fenced", data: "stale", lockId: a }), grpc.status.ABORTED);
      } finally {
        await first.close();
      }

      // A new Stateward on the same Redis and prefix.
      const { call } = await nodeOn(redis.url, prefix);
      const c = await lockOnce(call, false);
      await call.set({ sessionId: "fenced", data: "across the Stateward restart", lockId: c });

      // Redis killed and restarted from its AOF: the session survives and ids keep growing.
      await redis.kill();
      await redis.restart();
      await untilAnswering(call, "the node to use the restarted Redis");
      const kept = await call.get({ sessionId: "fenced" });
      assert.equal(kept.outcome, Outcome.OUTCOME_OK, "the session survived the Redis restart");
      assert.equal(kept.data.toString(), "across the Stateward restart");
      const d = await lockOnce(call, false);
      await expectStatus(call.set({ sessionId: "fenced", data: "stale", lockId: c }), grpc.status.ABORTED);
      assert.equal((await call.release({ sessionId: "fenced", lockId: d })).released, true);
    });
  });

  describe("Watch across nodes", () => {
    it("streams on node B the removal made through node A and the expiry Redis performs itself, once each", async () => {
      const redis = await redisWith();
      const prefix = uniquePrefix("watch");
      const a = await nodeOn(redis.url, prefix);
      const b = await nodeOn(redis.url, prefix);
      const abort = new AbortController();
      teardown.add(abort, (controller) => controller.abort());
      const seen: SessionEvent[] = [];
      const watching = (async () => {
        for await (const event of watchSessionEvents(b.client, APP, { signal: abort.signal })) seen.push(event);
      })();
      watching.catch(() => undefined);
      await waitFor(() => b.server.watchers() === 1, "the watcher on node B");
      const has = (kind: SessionEventKind, sessionId: string): boolean => seen.some((event) => event.kind === kind && event.sessionId === sessionId);

      const startedAt = Date.now();
      await a.call.set({ sessionId: "short", ttlSeconds: 1, data: "expires by itself" });
      await a.call.set({ sessionId: "gone", data: "removed through A" });
      assert.equal((await a.call.remove({ sessionId: "gone" })).removed, true);
      await waitFor(() => has(SessionEventKind.SESSION_EVENT_KIND_REMOVED, "gone"), "node B to see the removal", 2000);
      // Nobody touches "short" again: only Redis's own expiry (a keyspace notification) can report it.
      await waitFor(() => has(SessionEventKind.SESSION_EVENT_KIND_EXPIRED, "short"), "node B to see Redis's expiry", 4000);
      const expiredAfter = Date.now() - startedAt;
      assert.ok(expiredAfter >= 900, `the expiry came after the 1 s ttl (${expiredAfter} ms)`);

      // Another app's removal is not for this watcher; a marker removal after it bounds the stream.
      await a.call.set({ app: "other-app", sessionId: "other" });
      await a.call.remove({ app: "other-app", sessionId: "other" });
      await a.call.set({ sessionId: "marker" });
      await a.call.remove({ sessionId: "marker" });
      await waitFor(() => has(SessionEventKind.SESSION_EVENT_KIND_REMOVED, "marker"), "the marker removal", 2000);
      assert.deepEqual(
        seen.map((event) => `${event.app} ${SessionEventKind[event.kind]} ${event.sessionId}`).sort(),
        [`${APP} SESSION_EVENT_KIND_EXPIRED short`, `${APP} SESSION_EVENT_KIND_REMOVED gone`, `${APP} SESSION_EVENT_KIND_REMOVED marker`],
        "each event once, only this app's",
      );
      for (const event of seen) {
        const at = event.time?.getTime() ?? 0;
        assert.ok(at >= startedAt - 1000 && at <= Date.now() + 1000, `${event.sessionId}: event time ${new Date(at).toISOString()}`);
      }
    });
  });

  describe("Redis credentials", () => {
    const PASSWORD = "pw-Secret-4711";

    it("authenticates with STATEWARD_REDIS_PASSWORD for a URL without a password", async () => {
      const redis = await redisWith({ requirePass: PASSWORD });
      const { call } = await nodeOn(`redis://127.0.0.1:${redis.port}`, uniquePrefix("auth"), [], { STATEWARD_REDIS_PASSWORD: PASSWORD });
      assert.equal((await call.set({ data: "authenticated" })).version, 1n);
      assert.equal((await call.get()).data.toString(), "authenticated");
    });

    /** Starts a node that Redis must refuse; resolves with the start's error. */
    const refusedStart = async (url: string, env: NodeJS.ProcessEnv): Promise<Error> => {
      // A short command timeout: the start gives up within 2 x 500 ms whatever node-redis does meanwhile.
      const node = await startRedisNode(url, uniquePrefix("auth"), ["--redis-command-timeout-ms", "500"], env).catch((failure: unknown) => failure as Error);
      if (!(node instanceof Error)) {
        await node.close();
        assert.fail("the start succeeded");
      }
      return node;
    };
    const WRONG = "pw-Wrong-0815";
    const wrongAttempts = (port: number): [string, string, NodeJS.ProcessEnv][] => [
      ["a wrong STATEWARD_REDIS_PASSWORD", `redis://127.0.0.1:${port}`, { STATEWARD_REDIS_PASSWORD: WRONG }],
      ["a wrong password in the URL", `redis://default:${WRONG}@127.0.0.1:${port}`, {}],
      ["no password", `redis://127.0.0.1:${port}`, {}],
    ];
    const hide = (text: string): string => text.split(WRONG).join("***").split(PASSWORD).join("***");

    it("fails the start on a wrong or missing password, naming the Redis and neither the wrong nor the right password", async () => {
      const redis = await redisWith({ requirePass: PASSWORD });
      for (const [what, url, env] of wrongAttempts(redis.port)) {
        const error = await refusedStart(url, env);
        const text = `${error.message} ${String((error as { cause?: unknown }).cause)} ${error.stack ?? ""}`;
        assert.ok(!text.includes(WRONG) && !text.includes(PASSWORD), `${what}: no password in: ${hide(text)}`);
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${redis.port}`), `${what}: it names the Redis`);
      }
    });

    it("says that Redis refused the password when the start fails on it (not that Redis did not answer)", async () => {
      const redis = await redisWith({ requirePass: PASSWORD });
      for (const [what, url, env] of wrongAttempts(redis.port)) {
        const error = await refusedStart(url, env);
        assert.match(error.message, /WRONGPASS|NOAUTH|auth|password/i, `${what}: ${hide(error.message)}`);
      }
    });

    const ACL_PASSWORD = "user-Pw-42";
    const aclRedis = (): Promise<RedisProcess> => redisWith({ aclUsers: [`user stateward on >${ACL_PASSWORD} ~* &* +@all`, "user default off"] });

    it("works as a Redis 6 ACL user with the password in the URL", async () => {
      const redis = await aclRedis();
      const { call } = await nodeOn(`redis://stateward:${ACL_PASSWORD}@127.0.0.1:${redis.port}`, uniquePrefix("acl"));
      assert.equal((await call.set({ data: "as an ACL user" })).version, 1n);
      assert.equal((await call.get()).data.toString(), "as an ACL user");
      await assert.rejects(respCommand({ port: redis.port }, ["PING"]), /NOAUTH|NOPERM|WRONGPASS/, "the default user is off: only the ACL user got in");
    });

    it("works as a Redis 6 ACL user named in the URL with the password from STATEWARD_REDIS_PASSWORD", async () => {
      const redis = await aclRedis();
      const { call } = await nodeOn(`redis://stateward@127.0.0.1:${redis.port}`, uniquePrefix("acl"), ["--redis-command-timeout-ms", "500"], { STATEWARD_REDIS_PASSWORD: ACL_PASSWORD });
      assert.equal((await call.set({ data: "as an ACL user" })).version, 1n);
    });
  });
});
