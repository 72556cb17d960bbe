/** Rule 3: Get is a reader: never locks, OUTCOME_LOCKED shows the holder, readers never wait for readers. */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, useFakeServer, waitForWaiters } from "./helpers/test-server";

describeEachBackend("get (rule 3)", () => {
  const t = useFakeServer();

  it("rule 3: OUTCOME_OK returns data, version and ttl, and takes no lock", async () => {
    await t().call.set({ data: "hello", ttlSeconds: 77 });
    await t().call.set({ data: "hello again" });
    const got = await t().call.get();
    assert.equal(got.outcome, Outcome.OUTCOME_OK);
    assert.equal(got.data.toString(), "hello again");
    assert.equal(got.version, 2n);
    assert.equal(got.ttlSeconds, 77);
    assert.equal(got.lockId, 0n);
    assert.equal((await t().counts()).lockedSessions, 0);
    // No lock was taken: a writer gets the lock at once, and an unlocked Set is allowed.
    const lock = await t().call.lock();
    assert.equal(lock.outcome, Outcome.OUTCOME_OK);
    await t().call.release({ lockId: lock.lockId });
    assert.equal((await t().call.set({ data: "w" })).version, 3n);
  });

  it("rule 3: a locked session answers OUTCOME_LOCKED with the holder's lock_id and lock_age_ms, and no data", async () => {
    await t().call.set({ data: "secret", ttlSeconds: 60 });
    const lock = await t().call.lock();
    assert.equal(lock.outcome, Outcome.OUTCOME_OK);
    t().clock.advance(250);
    const got = await t().call.get();
    assert.equal(got.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(got.lockId, lock.lockId);
    assert.equal(got.lockAgeMs, 250n);
    assert.equal(got.data.length, 0, "no data while locked");
    assert.equal(got.ttlSeconds, 60);
    t().clock.advance(1000);
    assert.equal((await t().call.get()).lockAgeMs, 1250n);
    // Still the same holder: the Get changed nothing.
    assert.equal((await t().call.release({ lockId: lock.lockId })).released, true);
  });

  it("rule 3: NOT_FOUND for a missing session, and nothing is created", async () => {
    const got = await t().call.get({ sessionId: "nobody" });
    assert.equal(got.outcome, Outcome.OUTCOME_NOT_FOUND);
    assert.equal(got.data.length, 0);
    assert.equal((await t().counts()).sessions, 0);
  });

  it("rule 3: readers never wait for readers (concurrent waiting Gets on an unlocked session answer at once)", async () => {
    await t().call.set({ data: "shared" });
    const connections = [t().connect(), t().connect(), t().connect(), t().connect()];
    const pending = connections.flatMap((connection) => Array.from({ length: 8 }, () => connection.start.get({ waitMs: 60_000 })));
    // The fake clock never moves: if any reader waited, this would not settle.
    const answers = await Promise.all(pending.map((p) => p.response));
    for (const a of answers) {
      assert.equal(a.outcome, Outcome.OUTCOME_OK);
      assert.equal(a.data.toString(), "shared");
    }
    const counts = await t().counts();
    assert.equal(counts.waiters, 0);
    assert.equal(counts.lockedSessions, 0);
  });

  it("rule 3: a waiting reader does not block a writer's Lock and Get never holds the lock", async () => {
    await t().call.set({ data: "x" });
    const first = await t().call.lock({ leaseMs: 10_000 });
    const reader = t().start.get({ waitMs: 60_000 });
    await waitForWaiters(t(), 1);
    await t().call.release({ lockId: first.lockId });
    const read = await reader.response;
    assert.equal(read.outcome, Outcome.OUTCOME_OK);
    // The reader got data, not the lock.
    const second = await t().call.lock();
    assert.equal(second.outcome, Outcome.OUTCOME_OK);
  });
});
