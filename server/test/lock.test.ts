/** Rule 4: Lock takes the lock of an unlocked session, reports the holder of a locked one, creates atomically. */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, useFakeServer } from "./helpers/test-server";

describeEachBackend("lock (rule 4)", () => {
  const t = useFakeServer();

  it("rule 4: Lock on an unlocked session: OUTCOME_OK, data, version, a new non-zero lock_id, lock_age_ms 0", async () => {
    await t().call.set({ data: "payload", ttlSeconds: 99 });
    t().clock.advance(5000);
    const lock = await t().call.lock({ leaseMs: 30_000 });
    assert.equal(lock.outcome, Outcome.OUTCOME_OK);
    assert.equal(lock.data.toString(), "payload");
    assert.equal(lock.version, 1n);
    assert.ok(lock.lockId > 0n, "non-zero lock id");
    assert.equal(lock.lockAgeMs, 0n);
    assert.equal(lock.ttlSeconds, 99);
    assert.equal(lock.created, false);
    assert.equal(lock.leaseMs, 30_000);
    assert.equal((await t().counts()).lockedSessions, 1);
  });

  it("rule 4: Lock on a locked session: OUTCOME_LOCKED with the holder's lock_id and age, no data, holder unchanged", async () => {
    await t().call.set({ data: "payload" });
    const holder = await t().call.lock();
    t().clock.advance(1234);
    const other = t().connect().call;
    const second = await other.lock();
    assert.equal(second.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(second.lockId, holder.lockId);
    assert.equal(second.lockAgeMs, 1234n);
    assert.equal(second.data.length, 0);
    assert.equal(second.created, false);
    // A Lock with create on a locked session also just answers LOCKED.
    const third = await t().call.lock({ create: true });
    assert.equal(third.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(third.created, false);
    assert.equal(third.lockId, holder.lockId);
    // The holder still holds it.
    assert.equal((await t().call.set({ data: "mine", lockId: holder.lockId })).written, true);
  });

  it("rule 4: Lock on a missing session: OUTCOME_NOT_FOUND and nothing is created", async () => {
    const lock = await t().call.lock({ sessionId: "missing", ttlSeconds: 60, leaseMs: 1000 });
    assert.equal(lock.outcome, Outcome.OUTCOME_NOT_FOUND);
    assert.equal(lock.lockId, 0n);
    assert.equal(lock.created, false);
    assert.equal((await t().counts()).sessions, 0);
    assert.equal((await t().call.get({ sessionId: "missing" })).outcome, Outcome.OUTCOME_NOT_FOUND);
  });

  it("rule 4: Lock with create on a missing session creates an empty session at version 1, locked, created = true", async () => {
    const lock = await t().call.lock({ create: true, ttlSeconds: 300 });
    assert.equal(lock.outcome, Outcome.OUTCOME_OK);
    assert.equal(lock.created, true);
    assert.equal(lock.version, 1n);
    assert.equal(lock.data.length, 0);
    assert.ok(lock.lockId > 0n);
    assert.equal(lock.lockAgeMs, 0n);
    assert.equal(lock.ttlSeconds, 300);
    assert.equal(lock.leaseMs, 110_000);
    // Created and locked atomically: nobody else can get in.
    const get = await t().call.get();
    assert.equal(get.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(get.lockId, lock.lockId);
    const again = await t().call.lock({ create: true });
    assert.equal(again.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(again.created, false);
    const set = await t().call.set({ data: "first", lockId: lock.lockId });
    assert.equal(set.version, 2n);
  });

  it("rule 4: concurrent Lock with create on one new id: exactly one creates and holds the lock", async () => {
    const clients = Array.from({ length: 8 }, () => t().connect().call);
    const answers = await Promise.all(clients.map((c) => c.lock({ sessionId: "race", create: true })));
    const winners = answers.filter((a) => a.outcome === Outcome.OUTCOME_OK);
    assert.equal(winners.length, 1);
    assert.equal(winners[0]?.created, true);
    for (const a of answers.filter((x) => x.outcome !== Outcome.OUTCOME_OK)) {
      assert.equal(a.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(a.created, false);
      assert.equal(a.lockId, winners[0]?.lockId);
    }
    assert.equal((await t().counts()).sessions, 1);
  });

  it("rule 4: Lock with create on an existing unlocked session locks it and returns its data, created = false", async () => {
    await t().call.set({ data: "existing", ttlSeconds: 40 });
    const lock = await t().call.lock({ create: true, ttlSeconds: 500 });
    assert.equal(lock.outcome, Outcome.OUTCOME_OK);
    assert.equal(lock.created, false);
    assert.equal(lock.data.toString(), "existing");
    assert.equal(lock.version, 1n);
    assert.equal(lock.ttlSeconds, 40, "ttl_seconds is ignored for existing sessions");
  });
});
