/** Rule 5: lock ids are non-zero fencing tokens, strictly increasing per session, never reused. */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, expectStatus, grpc, useFakeServer, waitForWaiters } from "./helpers/test-server";

describeEachBackend("lock ids (rule 5)", () => {
  const t = useFakeServer();

  it("rule 5: lock_id is non-zero and strictly increasing across Lock/Release, Set, lease end and waiters", async () => {
    const ids: bigint[] = [];
    const first = await t().call.lock({ create: true });
    ids.push(first.lockId);
    await t().call.release({ lockId: first.lockId });
    const second = await t().call.lock();
    ids.push(second.lockId);
    await t().call.set({ data: "x", lockId: second.lockId });
    const third = await t().call.lock({ leaseMs: 1000 });
    ids.push(third.lockId);
    // A waiter gets the lock when the lease ends.
    const waiter = t().start.lock({ waitMs: 60_000 });
    await waitForWaiters(t(), 1);
    t().clock.advance(1000);
    const fourth = await waiter.response;
    assert.equal(fourth.outcome, Outcome.OUTCOME_OK);
    ids.push(fourth.lockId);
    await t().call.set({ data: "y", lockId: fourth.lockId, keepLock: true });
    await t().call.release({ lockId: fourth.lockId });
    const fifth = await t().call.lock();
    ids.push(fifth.lockId);
    for (const id of ids) assert.ok(id > 0n, "non-zero");
    for (let i = 1; i < ids.length; i++) {
      const prev = ids[i - 1] ?? 0n;
      const cur = ids[i] ?? 0n;
      assert.ok(cur > prev, `lock ids must strictly increase: ${ids.join(", ")}`);
    }
  });

  it("rule 5: after Remove and re-creation the new lock ids are above every earlier one, and old ids stay stale", async () => {
    const seen: bigint[] = [];
    for (let round = 0; round < 3; round++) {
      const lock = await t().call.lock({ create: true });
      assert.equal(lock.created, true);
      seen.push(lock.lockId);
      const relock = await t().call.release({ lockId: lock.lockId }).then(() => t().call.lock());
      seen.push(relock.lockId);
      assert.equal((await t().call.remove({ lockId: relock.lockId })).removed, true);
    }
    // Also re-created by an unlocked Set, and after expiry.
    await t().call.set({ data: "recreated", ttlSeconds: 1 });
    const afterSet = await t().call.lock();
    seen.push(afterSet.lockId);
    await t().call.release({ lockId: afterSet.lockId });
    t().clock.advance(1001);
    assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_NOT_FOUND);
    const afterExpiry = await t().call.lock({ create: true });
    seen.push(afterExpiry.lockId);
    for (let i = 1; i < seen.length; i++) {
      assert.ok((seen[i] ?? 0n) > (seen[i - 1] ?? 0n), `never reused, strictly increasing: ${seen.join(", ")}`);
    }
    // An id from an earlier incarnation is a stale fencing token, never the holder's.
    const earliest = seen[0] ?? 0n;
    await expectStatus(t().call.set({ data: "stale", lockId: earliest }), grpc.status.ABORTED);
    assert.equal((await t().call.release({ lockId: earliest })).released, false);
    const get = await t().call.get();
    assert.equal(get.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(get.lockId, afterExpiry.lockId);
  });
});

describeEachBackend("stale lock ids say why (audit decisions)", () => {
  const t = useFakeServer();

  it("rule 9: an id from before the session was removed and created again is SESSION_GONE", async () => {
    await t().call.set({ data: "v1" });
    const old = await t().call.lock();
    await t().call.remove({ lockId: old.lockId });
    await t().call.set({ data: "v2" });
    await expectStatus(t().call.set({ data: "x", lockId: old.lockId }), grpc.status.ABORTED, { reason: "SESSION_GONE" });
    // Also while the new incarnation is locked by someone else.
    await t().call.lock();
    await expectStatus(t().call.set({ data: "x", lockId: old.lockId }), grpc.status.ABORTED, { reason: "SESSION_GONE" });
  });

  it("rule 9: an older lease that ended is LEASE_EXPIRED, a released lock STALE_LOCK_ID", async () => {
    await t().call.set({ data: "v1" });
    const first = await t().call.lock({ leaseMs: 1000 });
    t().clock.advance(1000);
    const second = await t().call.lock({ leaseMs: 1000 });
    t().clock.advance(1000);
    // Both leases ended: the older one answers LEASE_EXPIRED too, not "released".
    await expectStatus(t().call.set({ data: "x", lockId: first.lockId }), grpc.status.ABORTED, { reason: "LEASE_EXPIRED" });
    await expectStatus(t().call.set({ data: "x", lockId: second.lockId }), grpc.status.ABORTED, { reason: "LEASE_EXPIRED" });
    const third = await t().call.lock({ leaseMs: 1000 });
    await t().call.release({ lockId: third.lockId });
    const fourth = await t().call.lock({ leaseMs: 1000 });
    await t().call.release({ lockId: fourth.lockId });
    const fifth = await t().call.lock({ leaseMs: 1000 });
    t().clock.advance(1000);
    // third and fourth were released (fourth is the last release, third lies between the last
    // lease end and it), fifth's lease ended.
    await expectStatus(t().call.set({ data: "x", lockId: third.lockId }), grpc.status.ABORTED, { reason: "STALE_LOCK_ID", message: [/released/] });
    await expectStatus(t().call.set({ data: "x", lockId: fourth.lockId }), grpc.status.ABORTED, { reason: "STALE_LOCK_ID", message: [/released/] });
    await expectStatus(t().call.set({ data: "x", lockId: fifth.lockId }), grpc.status.ABORTED, { reason: "LEASE_EXPIRED" });
  });
});
