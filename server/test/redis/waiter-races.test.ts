/**
 * The Redis backend's waiters at the edges a transport cannot time: a call cancelled while its
 * first script is still on its way, a reader answered by its own re-check at the lease end, and a
 * node that shuts down with calls queued. Driven through the backend itself (so the instants are
 * exact), and checked in Redis: nothing is left queued, and no lock goes to a caller that is gone.
 */
import * as assert from "node:assert/strict";

import type { GetResult, LockResult } from "../../src/store/operations";
import { RedisBackend } from "../../src/store/redis/redis-backend";
import { sessionKey } from "../../src/store/redis/session-keys";
import type { Completion } from "../../src/store/session-backend";
import { FakeClock } from "../../src/store/fake-clock";
import { waitFor } from "../helpers/test-server";
import { sharedRedis, type RedisProcess } from "../helpers/redis-server";

/** A completion whose answer can be awaited. */
function answer<R>(): Completion<R> & { readonly result: Promise<R>; settled(): boolean } {
  let settled = false;
  let resolve!: (value: R) => void;
  let reject!: (error: unknown) => void;
  const result = new Promise<R>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  result.catch(() => undefined);
  return {
    result,
    settled: () => settled,
    resolve: (value) => {
      settled = true;
      resolve(value);
    },
    reject: (error) => {
      settled = true;
      reject(error);
    },
  };
}

const KEY = { app: "app", sessionId: "race" };

describe("Redis backend: waiter races", () => {
  let redis: RedisProcess;
  let prefix: string;
  const backends: RedisBackend[] = [];
  let n = 0;

  const open = async (clock?: FakeClock): Promise<RedisBackend> => {
    const backend = new RedisBackend({ url: redis.url, prefix, recheckMs: 200 }, {}, clock);
    await backend.open();
    backends.push(backend);
    return backend;
  };
  const lock = (backend: RedisBackend, waitMs: number, leaseMs = 60_000): ReturnType<typeof answer<LockResult>> & { cancel?: () => boolean } => {
    const done = answer<LockResult>();
    const cancellation = backend.lock({ ...KEY, waitMs, leaseMs, create: true, ttlSeconds: 60 }, done);
    return Object.assign(done, cancellation === undefined ? {} : { cancel: () => cancellation.cancel() });
  };
  const release = async (backend: RedisBackend, lockId: number): Promise<boolean> => {
    const done = answer<{ released: boolean }>();
    backend.release({ ...KEY, lockId }, done);
    return (await done.result).released;
  };
  const queued = async (): Promise<number> => Number((await redis.cli("HGET", sessionKey(prefix, KEY.app, KEY.sessionId), "qn")) || 0);

  before(async () => {
    redis = await sharedRedis();
  });
  beforeEach(() => {
    prefix = `races-${process.pid}-${++n}:`;
  });
  afterEach(async () => {
    for (const backend of backends.splice(0)) await backend.close();
  });

  it("a Lock cancelled while its first script is on its way leaves no entry, and the next Lock gets the lock", async () => {
    const a = await open();
    const holder = await lock(a, 0).result;
    assert.equal(holder.outcome, "ok");
    const gone = lock(a, 60_000);
    // Synchronously: the script that queues it has not been answered yet.
    assert.equal(gone.cancel?.(), true);
    await waitFor(async () => (await queued()) === 0, "the cancelled waiter's entry to be withdrawn");
    assert.equal(await release(a, holder.outcome === "ok" ? holder.lockId : 0), true);
    const next = await lock(a, 0).result;
    assert.equal(next.outcome, "ok", "the lock went to nobody");
    assert.equal(gone.settled(), false, "a withdrawn call is never answered");
  });

  it("a reader whose own re-check ends the lease is answered and leaves nothing queued", async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const a = await open(clock);
    const holder = await lock(a, 0, 1000).result;
    assert.equal(holder.outcome, "ok");
    const reader = answer<GetResult>();
    a.get({ ...KEY, waitMs: 60_000 }, reader);
    await waitFor(async () => (await queued()) === 1, "the reader queued");
    const writer = lock(a, 60_000);
    await waitFor(async () => (await queued()) === 2, "a writer queued behind it");
    clock.advance(1000);
    const read = await reader.result;
    assert.equal(read.outcome, "ok");
    const granted = await writer.result;
    assert.equal(granted.outcome, "ok");
    assert.equal(await queued(), 0, "no orphan entry");
  });

  it("a node that shuts down withdraws its queued calls: the lock is not handed to it", async () => {
    const a = await open();
    const b = await open();
    const holder = await lock(a, 0).result;
    assert.equal(holder.outcome, "ok");
    const onB = lock(b, 60_000);
    await waitFor(async () => (await queued()) === 1, "B's waiter queued");
    await b.close();
    await assert.rejects(onB.result, /shutting down/);
    assert.equal(await queued(), 0);
    assert.equal(await release(a, holder.outcome === "ok" ? holder.lockId : 0), true);
    assert.equal((await lock(a, 0).result).outcome, "ok", "the lock is free, not granted to the node that left");
  });
});
