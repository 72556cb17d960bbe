/** Rule 6: locks are leases: default, maximum, release at lease end, no expiry before the lease ends. */
import * as assert from "node:assert/strict";

import {
  Outcome,
  expectStatus,
  fieldPattern,
  grpc,
  numberPattern,
  describeEachBackend,
  useFakeServer,
  waitForWaiters,
} from "./helpers/test-server";

describeEachBackend("leases (rule 6)", () => {
  describe("default limits", () => {
    const t = useFakeServer();

    it("rule 6: lease_ms 0 is the 110,000 ms default: locked at 109,999 ms, released at 110,000 ms", async () => {
      await t().call.set({ data: "x" });
      const lock = await t().call.lock({ leaseMs: 0 });
      assert.equal(lock.outcome, Outcome.OUTCOME_OK);
      assert.equal(lock.leaseMs, 110_000);
      t().clock.advance(109_999);
      const during = await t().call.get();
      assert.equal(during.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(during.lockId, lock.lockId);
      assert.equal(during.lockAgeMs, 109_999n);
      t().clock.advance(1);
      const after = await t().call.get();
      assert.equal(after.outcome, Outcome.OUTCOME_OK, "the server released the lock itself");
      assert.equal((await t().counts()).lockedSessions, 0);
    });

    it("rule 6: a requested lease is honoured exactly (lease_ms 5000)", async () => {
      await t().call.set({ data: "x" });
      const lock = await t().call.lock({ leaseMs: 5000 });
      assert.equal(lock.leaseMs, 5000);
      t().clock.advance(4999);
      assert.equal((await t().call.lock()).outcome, Outcome.OUTCOME_LOCKED);
      t().clock.advance(1);
      const next = await t().call.lock();
      assert.equal(next.outcome, Outcome.OUTCOME_OK);
      assert.ok(next.lockId > lock.lockId);
    });

    it("rule 6: lease_ms up to the 3,600,000 default maximum is accepted; 3,600,001 is INVALID_ARGUMENT naming lease_ms and the limit", async () => {
      await t().call.set({ data: "x" });
      const before = await t().counts();
      const expected = { reason: "INVALID_FIELD", message: [fieldPattern("lease_ms"), numberPattern(3_600_000)] };
      await expectStatus(t().call.lock({ leaseMs: 3_600_001 }), grpc.status.INVALID_ARGUMENT, expected);
      await expectStatus(
        t().call.lock({ sessionId: "new", create: true, leaseMs: 3_600_001 }),
        grpc.status.INVALID_ARGUMENT,
        expected,
      );
      assert.deepEqual(await t().counts(), before, "nothing locked, nothing created");
      assert.equal((await t().call.get({ sessionId: "new" })).outcome, Outcome.OUTCOME_NOT_FOUND);
      const ok = await t().call.lock({ leaseMs: 3_600_000 });
      assert.equal(ok.outcome, Outcome.OUTCOME_OK);
      assert.equal(ok.leaseMs, 3_600_000);
    });

    it("rule 6: when a lease ends the next waiter proceeds with a new lock id, and the old holder's Set is ABORTED", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock({ leaseMs: 2000 });
      const waiter = t().start.lock({ waitMs: 60_000, leaseMs: 2000 });
      await waitForWaiters(t(), 1);
      t().clock.advance(1999);
      await t().call.expire({ sessionId: "round-trip" });
      assert.equal(waiter.settled(), false, "still waiting before the lease ends");
      t().clock.advance(1);
      const next = await waiter.response;
      assert.equal(next.outcome, Outcome.OUTCOME_OK);
      assert.ok(next.lockId > holder.lockId);
      assert.equal(next.data.toString(), "v1");
      await expectStatus(t().call.set({ data: "late write", lockId: holder.lockId }), grpc.status.ABORTED);
      const got = await t().call.get();
      assert.equal(got.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(got.lockId, next.lockId);
      assert.equal((await t().call.set({ data: "v2", lockId: next.lockId })).version, 2n);
      assert.equal((await t().call.get()).data.toString(), "v2");
    });

    it("rule 6: a write with keep_lock does not renew the lease", async () => {
      await t().call.set({ data: "v1" });
      const lock = await t().call.lock({ leaseMs: 3000 });
      t().clock.advance(2000);
      await t().call.set({ data: "v2", lockId: lock.lockId, keepLock: true });
      t().clock.advance(1000);
      assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_OK, "released at the original lease end");
    });

    it("rule 6: a locked session does not expire before its lease ends", async () => {
      await t().call.set({ data: "keep", ttlSeconds: 1 });
      const lock = await t().call.lock({ leaseMs: 5000 });
      // Long past the 1 s ttl, but within the lease: the holder can still write and release.
      t().clock.advance(4999);
      const set = await t().call.set({ data: "written late", lockId: lock.lockId, keepLock: true });
      assert.equal(set.version, 2n);
      assert.equal((await t().call.release({ lockId: lock.lockId })).released, true);
      assert.equal((await t().call.get()).data.toString(), "written late");
    });

    it("rule 6: a session whose ttl ran out during its lease is gone once the lease ended and the ttl passed", async () => {
      await t().call.set({ data: "x", ttlSeconds: 1 });
      await t().call.lock({ leaseMs: 5000 });
      t().clock.advance(4999);
      assert.equal((await t().counts()).sessions, 1);
      t().clock.advance(1000 + 2);
      assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_NOT_FOUND);
    });
  });

  describe("--max-lock-lease-ms 5000", () => {
    const t = useFakeServer(["--max-lock-lease-ms", "5000", "--default-lock-lease-ms", "2000"]);

    it("rule 6: the maximum follows --max-lock-lease-ms (5000 OK, 5001 INVALID_ARGUMENT naming 5000) and the default --default-lock-lease-ms", async () => {
      await t().call.set({ data: "x" });
      await expectStatus(t().call.lock({ leaseMs: 5001 }), grpc.status.INVALID_ARGUMENT, {
        reason: "INVALID_FIELD",
        message: [fieldPattern("lease_ms"), numberPattern(5000)],
      });
      assert.equal((await t().counts()).lockedSessions, 0);
      const max = await t().call.lock({ leaseMs: 5000 });
      assert.equal(max.leaseMs, 5000);
      await t().call.release({ lockId: max.lockId });
      const dflt = await t().call.lock();
      assert.equal(dflt.leaseMs, 2000);
      t().clock.advance(2000);
      assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_OK);
    });
  });
});
