/** Rule 12: Remove deletes unlocked sessions whatever lock_id says; locked ones only with the holder's id. */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, describeEachTransport, expectStatus, grpc, useFakeServer, waitForWaiters } from "./helpers/test-server";

describeEachBackend("remove (rule 12)", () => {
  const t = useFakeServer();

  it("rule 12: an unlocked session is removed whatever lock_id says", async () => {
    for (const lockId of [0n, 1n, 424_242n]) {
      await t().call.set({ data: "v1" });
      assert.deepEqual(await t().call.remove({ lockId }), { removed: true }, `lock id ${lockId}`);
      assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_NOT_FOUND);
    }
    assert.equal((await t().counts()).sessions, 0);
  });

  it("rule 12: a missing session answers removed = false", async () => {
    assert.deepEqual(await t().call.remove({ sessionId: "missing" }), { removed: false });
    assert.deepEqual(await t().call.remove({ sessionId: "missing", lockId: 7n }), { removed: false });
  });

  it("rule 12: a locked session is removed only with the holder's lock_id; otherwise ABORTED and nothing changes", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    const before = await t().counts();
    for (const lockId of [0n, lock.lockId + 1n, lock.lockId - 1n]) {
      await expectStatus(t().call.remove({ lockId }), grpc.status.ABORTED, {
        reason: ["LOCKED_BY_OTHER", "STALE_LOCK_ID"],
        message: [/lock/i],
      });
    }
    assert.deepEqual(await t().counts(), before);
    const get = await t().call.get();
    assert.equal(get.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(get.lockId, lock.lockId);
    assert.deepEqual(await t().call.remove({ lockId: lock.lockId }), { removed: true });
    assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_NOT_FOUND);
    assert.equal((await t().counts()).lockedSessions, 0);
  });

  it("rule 12: waiters on a removed session are answered OUTCOME_NOT_FOUND", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    const waiting = [t().start.get({ waitMs: 60_000 }), t().start.lock({ waitMs: 60_000 }), t().start.get({ waitMs: 60_000 })];
    await waitForWaiters(t(), 3);
    await t().call.remove({ lockId: lock.lockId });
    for (const w of waiting) assert.equal((await w.response).outcome, Outcome.OUTCOME_NOT_FOUND);
    const counts = await t().counts();
    assert.equal(counts.waiters, 0);
    assert.equal(counts.sessions, 0);
  });
});

// Memory internals: the bytes charged against the budget, and the whole of the backend's stats.
describeEachTransport("remove (rule 12) (memory backend)", () => {
  const t = useFakeServer();

  it("rule 12: a removed session's memory is no longer charged", async () => {
    for (const lockId of [0n, 1n, 424_242n]) {
      await t().call.set({ data: "v1" });
      assert.ok(t().memory().stats().bytesUsed > 0);
      assert.deepEqual(await t().call.remove({ lockId }), { removed: true }, `lock id ${lockId}`);
      assert.equal(t().memory().stats().bytesUsed, 0, "memory returned");
    }
    assert.equal(t().memory().stats().sessions, 0);
  });

  it("rule 12: a Remove refused ABORTED leaves the memory backend's stats exactly as they were", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    const before = t().memory().stats();
    for (const lockId of [0n, lock.lockId + 1n, lock.lockId - 1n]) {
      await expectStatus(t().call.remove({ lockId }), grpc.status.ABORTED);
    }
    assert.deepEqual(t().memory().stats(), before);
  });
});
