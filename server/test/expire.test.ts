/** Rule 11: Expire restarts the window (optionally with a new ttl) without touching data, version or lock. */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, useFakeServer } from "./helpers/test-server";

describeEachBackend("expire (rule 11)", () => {
  const t = useFakeServer();

  it("rule 11: Expire restarts the window and keeps data and version", async () => {
    await t().call.set({ data: "v1", ttlSeconds: 10 });
    t().clock.advance(9_000);
    assert.deepEqual(await t().call.expire(), { found: true, ttlSeconds: 10 });
    t().clock.advance(9_000);
    // 18 s after the write, 9 s after Expire.
    const got = await t().call.get();
    assert.equal(got.outcome, Outcome.OUTCOME_OK);
    assert.equal(got.data.toString(), "v1");
    assert.equal(got.version, 1n);
  });

  it("rule 11: Expire with ttl_seconds > 0 sets a new ttl (longer or shorter) and restarts the window with it", async () => {
    await t().call.set({ data: "v1", ttlSeconds: 10 });
    assert.deepEqual(await t().call.expire({ ttlSeconds: 100 }), { found: true, ttlSeconds: 100 });
    assert.equal((await t().call.get()).ttlSeconds, 100);
    t().clock.advance(99_000);
    assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_OK, "the new 100 s window applies");
    assert.deepEqual(await t().call.expire({ ttlSeconds: 2 }), { found: true, ttlSeconds: 2 });
    t().clock.advance(2_001);
    assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_NOT_FOUND, "a shorter ttl applies at once");
  });

  it("rule 11: Expire keeps the lock: same holder, holder can still write and release", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    t().clock.advance(300);
    assert.deepEqual(await t().call.expire({ ttlSeconds: 50 }), { found: true, ttlSeconds: 50 });
    const get = await t().call.get();
    assert.equal(get.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(get.lockId, lock.lockId);
    assert.equal(get.lockAgeMs, 300n);
    assert.equal((await t().counts()).lockedSessions, 1);
    assert.deepEqual(await t().call.set({ data: "v2", lockId: lock.lockId }), { version: 2n, written: true });
    assert.equal((await t().call.get()).ttlSeconds, 50);
  });

  it("rule 11: Expire on a missing session: found = false, nothing created", async () => {
    assert.deepEqual(await t().call.expire({ sessionId: "missing" }), { found: false, ttlSeconds: 0 });
    const result = await t().call.expire({ sessionId: "missing", ttlSeconds: 600 });
    assert.equal(result.found, false);
    assert.equal((await t().counts()).sessions, 0);
    assert.equal((await t().call.get({ sessionId: "missing" })).outcome, Outcome.OUTCOME_NOT_FOUND);
    assert.equal((await t().call.lock({ sessionId: "missing" })).outcome, Outcome.OUTCOME_NOT_FOUND);
  });
});
