/**
 * Two and three Stateward processes over one Redis: locks, waiting, FIFO order, the waiter limit,
 * fencing and lease ends hold across nodes, as if they were one server; a node that dies or a
 * wake-up that Redis pub/sub drops costs at most a lease or the re-check bound.
 */
import * as assert from "node:assert/strict";

import { startRedis, type RedisProcess } from "../helpers/redis-server";
import { Outcome, expectStatus, grpc, withTimeout, type LockResponse, type Pending } from "../helpers/test-server";
import { incrementsOverNodes } from "./locked-increments";
import { uniquePrefix, useNodes, waitForWaitersOn, type StatewardNode } from "./stateward-nodes";

/** How long a woken waiter may take after the release that woke it (it should be a few ms). */
const WAKE_BOUND_MS = 200;

/** Which of `pending` settles first (its index), failing after `ms`. */
async function firstSettled(pending: readonly Pending<unknown>[], ms: number): Promise<number> {
  const raced = Promise.race(pending.map((p, i) => p.response.then(() => i, () => i)));
  return withTimeout(raced, ms, "one of the waiting calls");
}

describe("Redis backend: several nodes over one Redis", function () {
  this.timeout(60_000);
  let redis: RedisProcess | undefined;
  const nodeSet = useNodes();

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    redis = undefined;
  });

  function target(): { url: string; prefix: string } {
    assert.ok(redis, "Redis is running");
    return { url: redis.url, prefix: uniquePrefix() };
  }

  async function nodes(count: number, flags: readonly string[] = []): Promise<StatewardNode[]> {
    return nodeSet().start(count, target(), flags);
  }

  it("a lock taken on one node is seen on the others: OUTCOME_LOCKED with its lock id, and its id releases it anywhere", async () => {
    const [a, b, c] = await nodes(3);
    assert.ok(a && b && c);
    await a.call.set({ data: "v1" });
    const held = await a.call.lock();
    assert.equal(held.outcome, Outcome.OUTCOME_OK);

    const read = await b.call.get();
    assert.equal(read.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(read.lockId, held.lockId, "B sees A's lock id");
    const taken = await c.call.lock();
    assert.equal(taken.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(taken.lockId, held.lockId, "C sees A's lock id");
    const piped = await b.pipeline.call.lock();
    assert.equal(piped.outcome, Outcome.OUTCOME_LOCKED, "over a Pipeline too");

    assert.equal((await c.call.release({ lockId: held.lockId })).released, true, "the holder's id releases the lock through another node");
    const after = await b.call.get();
    assert.equal(after.outcome, Outcome.OUTCOME_OK);
    assert.equal(after.data.toString(), "v1");
  });

  it("a waiter on node B is woken by a Release on node A within milliseconds, and a reader on C by a Set on A", async () => {
    const [a, b, c] = await nodes(3);
    assert.ok(a && b && c);
    await a.call.set({ data: "v1" });
    const held = await a.call.lock();

    const writer = b.start.lock({ waitMs: 10_000 });
    await waitForWaitersOn(b, 1);
    const releasedAt = performance.now();
    await a.call.release({ lockId: held.lockId });
    const granted = await writer.response;
    const wokenAfter = performance.now() - releasedAt;
    assert.equal(granted.outcome, Outcome.OUTCOME_OK);
    assert.ok(granted.lockId > held.lockId, "a new, higher lock id");
    assert.ok(wokenAfter < WAKE_BOUND_MS, `B's waiter got the lock ${wokenAfter.toFixed(1)} ms after A's release (bound ${WAKE_BOUND_MS} ms)`);

    const reader = c.start.get({ waitMs: 10_000 });
    await waitForWaitersOn(c, 1);
    const setAt = performance.now();
    await a.call.set({ data: "v2", lockId: granted.lockId });
    const read = await reader.response;
    const readAfter = performance.now() - setAt;
    assert.equal(read.outcome, Outcome.OUTCOME_OK);
    assert.equal(read.data.toString(), "v2", "the reader gets the data the releasing Set wrote");
    assert.ok(readAfter < WAKE_BOUND_MS, `C's reader was answered ${readAfter.toFixed(1)} ms after A's Set (bound ${WAKE_BOUND_MS} ms)`);
  });

  it("FIFO across nodes: writers queued on B, C, B, C get the lock in that order as each releases", async () => {
    const [a, b, c] = await nodes(3);
    assert.ok(a && b && c);
    await a.call.set({ data: "v" });
    const held = await a.call.lock();

    const queue: { node: StatewardNode; call: Pending<LockResponse> }[] = [];
    const queued = new Map<StatewardNode, number>();
    for (const node of [b, c, b, c]) {
      queue.push({ node, call: node.start.lock({ waitMs: 20_000 }) });
      const onNode = (queued.get(node) ?? 0) + 1;
      queued.set(node, onNode);
      // The next waiter is sent only once this one is in the queue: arrival order is known.
      await waitForWaitersOn(node, onNode);
    }

    let lockId = held.lockId;
    let releaseThrough = a;
    const pending = [...queue];
    for (let expected = 0; expected < queue.length; expected++) {
      await releaseThrough.call.release({ lockId });
      const first = await firstSettled(
        pending.map((w) => w.call),
        5000,
      );
      const winner = pending[first];
      assert.ok(winner);
      assert.equal(winner, queue[expected], `waiter #${expected + 1} (queued on ${queue[expected]?.node.name}) is the next to get the lock, not #${queue.indexOf(winner) + 1}`);
      const granted = await winner.call.response;
      assert.equal(granted.outcome, Outcome.OUTCOME_OK);
      assert.ok(granted.lockId > lockId, "each grant has a higher lock id");
      pending.splice(first, 1);
      assert.ok(pending.every((w) => !w.call.settled()), "the others keep waiting");
      lockId = granted.lockId;
      releaseThrough = winner.node;
    }
    await releaseThrough.call.release({ lockId });
  });

  it("readers queued before the first writer are answered on its release; the reader behind the writer waits for the writer", async () => {
    const [a, b, c] = await nodes(3);
    assert.ok(a && b && c);
    await a.call.set({ data: "v1" });
    const held = await a.call.lock();

    const reader1 = b.start.get({ waitMs: 20_000 });
    await waitForWaitersOn(b, 1);
    const reader2 = c.start.get({ waitMs: 20_000 });
    await waitForWaitersOn(c, 1);
    const writer = b.start.lock({ waitMs: 20_000 });
    await waitForWaitersOn(b, 2);
    const reader3 = c.start.get({ waitMs: 20_000 });
    await waitForWaitersOn(c, 2);

    await a.call.release({ lockId: held.lockId });
    const [read1, read2, granted] = await withTimeout(Promise.all([reader1.response, reader2.response, writer.response]), 5000, "the readers ahead and the writer");
    for (const read of [read1, read2]) {
      assert.equal(read.outcome, Outcome.OUTCOME_OK);
      assert.equal(read.data.toString(), "v1");
    }
    assert.equal(granted.outcome, Outcome.OUTCOME_OK);
    // One round trip through C: had the reader behind the writer been answered, it would be by now.
    await c.call.expire({ sessionId: "roundtrip" });
    assert.equal(reader3.settled(), false, "the reader queued behind the writer waits for it");
    await waitForWaitersOn(c, 1);

    await b.call.set({ data: "w", lockId: granted.lockId });
    const read3 = await withTimeout(reader3.response, 5000, "the reader behind the writer");
    assert.equal(read3.outcome, Outcome.OUTCOME_OK);
    assert.equal(read3.data.toString(), "w", "it reads what the writer wrote");
  });

  it("--max-waiters holds across nodes: with 2 waiters queued on B and C, a third on A gets RESOURCE_EXHAUSTED TOO_MANY_WAITERS", async () => {
    const [a, b, c] = await nodes(3, ["--max-waiters", "2"]);
    assert.ok(a && b && c);
    await a.call.set({ data: "v1" });
    const held = await a.call.lock();
    const first = b.start.lock({ waitMs: 20_000 });
    await waitForWaitersOn(b, 1);
    const second = c.start.get({ waitMs: 20_000 });
    await waitForWaitersOn(c, 1);

    await expectStatus(a.call.lock({ waitMs: 20_000 }), grpc.status.RESOURCE_EXHAUSTED, { reason: "TOO_MANY_WAITERS" });
    await expectStatus(a.pipeline.call.get({ waitMs: 20_000 }), grpc.status.RESOURCE_EXHAUSTED, { reason: "TOO_MANY_WAITERS" });
    assert.equal(await a.waiters(), 0, "the refused calls are not waiting");

    // A place freed on one node is usable from another.
    second.cancel();
    await waitForWaitersOn(c, 0);
    const third = a.start.lock({ waitMs: 20_000 });
    await waitForWaitersOn(a, 1);

    await a.call.release({ lockId: held.lockId });
    const grantedFirst = await withTimeout(first.response, 5000, "the first waiter");
    assert.equal(grantedFirst.outcome, Outcome.OUTCOME_OK);
    await b.call.release({ lockId: grantedFirst.lockId });
    const grantedThird = await withTimeout(third.response, 5000, "the third waiter");
    assert.equal(grantedThird.outcome, Outcome.OUTCOME_OK);
  });

  it("32 clients spread over 3 nodes, 100 locked increments each, end exactly at 3,200 with increasing lock ids", async function () {
    this.timeout(90_000);
    // Half the clients call unary, half through a Pipeline stream of their own.
    await incrementsOverNodes(await nodes(3), 32, 100, 2);
  });

  it("a node killed (SIGKILL) while holding locks: their leases end, waiters on the other nodes proceed, and its stale writes through another node are ABORTED", async () => {
    const [a, b, c] = await nodes(3);
    assert.ok(a && b && c);
    const leaseMs = 1500;
    await a.call.set({ sessionId: "s1", data: "one" });
    await a.call.set({ sessionId: "s2", data: "two" });
    const lockedAt = performance.now();
    const held1 = await a.call.lock({ sessionId: "s1", leaseMs });
    const held2 = await a.call.lock({ sessionId: "s2", leaseMs });
    const waiter = b.start.lock({ sessionId: "s1", waitMs: 20_000 });
    await waitForWaitersOn(b, 1);
    const reader = c.start.get({ sessionId: "s2", waitMs: 20_000 });
    await waitForWaitersOn(c, 1);

    await a.kill();
    const granted = await withTimeout(waiter.response, leaseMs + 5000, "B's waiter after A died");
    const grantedAfter = performance.now() - lockedAt;
    assert.equal(granted.outcome, Outcome.OUTCOME_OK);
    assert.ok(granted.lockId > held1.lockId);
    assert.ok(grantedAfter >= leaseMs - 50, `not before the lease ended (${grantedAfter.toFixed(0)} ms)`);
    assert.ok(grantedAfter < leaseMs + 1000, `within 1 s of the lease's end (${grantedAfter.toFixed(0)} ms after the lock)`);
    const read = await withTimeout(reader.response, 5000, "C's reader after A died");
    assert.equal(read.outcome, Outcome.OUTCOME_OK);
    assert.equal(read.data.toString(), "two");

    // The dead holder's ids are stale now: a write with them through another node is refused.
    await expectStatus(c.call.set({ sessionId: "s1", data: "stale", lockId: held1.lockId }), grpc.status.ABORTED, { reason: ["STALE_LOCK_ID", "LEASE_EXPIRED"] });
    await expectStatus(b.call.set({ sessionId: "s2", data: "stale", lockId: held2.lockId }), grpc.status.ABORTED, { reason: ["STALE_LOCK_ID", "LEASE_EXPIRED"] });
    await expectStatus(c.pipeline.call.set({ sessionId: "s2", data: "stale", lockId: held2.lockId }), grpc.status.ABORTED, {
      reason: ["STALE_LOCK_ID", "LEASE_EXPIRED"],
    });
    assert.equal((await c.call.get({ sessionId: "s2" })).data.toString(), "two", "nothing stale was written");
    await b.call.set({ sessionId: "s1", data: "fresh", lockId: granted.lockId });
    assert.equal((await c.call.get({ sessionId: "s1" })).data.toString(), "fresh");
  });

  it("a waiter whose call is cancelled never ends up holding the lock: the next waiter gets it promptly", async () => {
    const [a, b, c] = await nodes(3);
    assert.ok(a && b && c);
    await a.call.set({ data: "v1" });

    // Cancelled while waiting.
    let held = await a.call.lock();
    const gone = b.start.lock({ waitMs: 20_000 });
    await waitForWaitersOn(b, 1);
    const next = c.start.lock({ waitMs: 20_000 });
    await waitForWaitersOn(c, 1);
    gone.cancel();
    await waitForWaitersOn(b, 0);
    let releasedAt = performance.now();
    await a.call.release({ lockId: held.lockId });
    let granted = await withTimeout(next.response, 5000, "the next waiter");
    assert.equal(granted.outcome, Outcome.OUTCOME_OK);
    assert.ok(performance.now() - releasedAt < WAKE_BOUND_MS, "promptly");

    // Cancelled at the moment of the release: a grant it may have got is undone at once.
    held = granted;
    const racing = b.start.lock({ waitMs: 20_000 });
    await waitForWaitersOn(b, 1);
    const behind = c.start.lock({ waitMs: 20_000 });
    await waitForWaitersOn(c, 1);
    releasedAt = performance.now();
    racing.cancel();
    await c.call.release({ lockId: held.lockId });
    granted = await withTimeout(behind.response, 5000, "the waiter behind the cancelled one");
    const after = performance.now() - releasedAt;
    assert.equal(granted.outcome, Outcome.OUTCOME_OK);
    assert.ok(after < 1000, `the waiter behind got the lock ${after.toFixed(0)} ms after the release (bound 1000 ms; the cancelled call's lease is 110 s)`);
    const read = await a.call.get();
    assert.equal(read.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(read.lockId, granted.lockId, "the lock is the live waiter's");
  });

  it("a waiter whose node dies never ends up holding the lock beyond its lease: the waiter behind it proceeds", async () => {
    const [a, b, c] = await nodes(3);
    assert.ok(a && b && c);
    const leaseMs = 1500;
    await a.call.set({ data: "v1" });
    const held = await a.call.lock();
    b.start.lock({ waitMs: 20_000, leaseMs });
    await waitForWaitersOn(b, 1);
    const behind = c.start.lock({ waitMs: 20_000 });
    await waitForWaitersOn(c, 1);

    await b.kill();
    const releasedAt = performance.now();
    await a.call.release({ lockId: held.lockId });
    const granted = await withTimeout(behind.response, leaseMs + 5000, "the waiter behind the dead node's");
    const after = performance.now() - releasedAt;
    assert.equal(granted.outcome, Outcome.OUTCOME_OK);
    assert.ok(after < leaseMs + 1000, `it got the lock ${after.toFixed(0)} ms after the release (bound: the dead waiter's lease ${leaseMs} ms + 1 s)`);
  });

  it("a dropped wake-up (the waiting node's pub/sub connection killed before the release) costs at most the re-check bound", async () => {
    const [a, b] = await nodes(2, ["--redis-recheck-ms", "300"]);
    assert.ok(a && b && redis);
    const server = redis;
    await a.call.set({ data: "v1" });
    for (let round = 0; round < 3; round++) {
      const held = await a.call.lock();
      const waiter: Pending<LockResponse> = b.start.lock({ waitMs: 20_000 });
      await waitForWaitersOn(b, 1);
      const killed = await server.cli("CLIENT", "KILL", "TYPE", "pubsub");
      assert.ok(Number(killed) >= 1, `a pub/sub connection was killed (CLIENT KILL answered ${killed})`);
      const releasedAt = performance.now();
      await a.call.release({ lockId: held.lockId });
      const granted: LockResponse = await withTimeout(waiter.response, 5000, "the waiter whose wake-up was dropped");
      const after = performance.now() - releasedAt;
      assert.equal(granted.outcome, Outcome.OUTCOME_OK);
      assert.ok(after < 1500, `round ${round}: the waiter got the lock ${after.toFixed(0)} ms after the release (bound 1500 ms)`);
      await b.call.release({ lockId: granted.lockId });
    }
  });
});
