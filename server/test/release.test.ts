/** Rule 10: Release with the holder's lock id releases; otherwise released = false and nothing changes. */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, describeEachTransport, useFakeServer } from "./helpers/test-server";

describeEachBackend("release (rule 10)", () => {
  const t = useFakeServer();

  it("rule 10: Release with the holder's lock_id releases the lock and keeps data and version", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    assert.deepEqual(await t().call.release({ lockId: lock.lockId }), { released: true });
    assert.equal((await t().counts()).lockedSessions, 0);
    const got = await t().call.get();
    assert.equal(got.outcome, Outcome.OUTCOME_OK);
    assert.equal(got.data.toString(), "v1");
    assert.equal(got.version, 1n);
    // Releasing twice: the second is a no-op answered false.
    assert.deepEqual(await t().call.release({ lockId: lock.lockId }), { released: false });
  });

  it("rule 10: any caller holding the lock id may force-release (another client, another connection)", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    const stranger = t().connect().call;
    // The stranger learns the holder's id from an OUTCOME_LOCKED answer, as ASP.NET waiters do.
    const seen = await stranger.lock();
    assert.equal(seen.outcome, Outcome.OUTCOME_LOCKED);
    assert.deepEqual(await stranger.release({ lockId: seen.lockId }), { released: true });
    const mine = await stranger.lock();
    assert.equal(mine.outcome, Outcome.OUTCOME_OK);
    assert.ok(mine.lockId > lock.lockId);
  });

  it("rule 10: a wrong, zero, old or unknown lock id answers released = false and changes nothing; never an error", async () => {
    await t().call.set({ data: "v1" });
    const old = await t().call.lock();
    await t().call.release({ lockId: old.lockId });
    const holder = await t().call.lock();
    const before = await t().counts();
    for (const lockId of [0n, old.lockId, holder.lockId + 1n, 18_446_744_073_709_551_615n]) {
      assert.deepEqual(await t().call.release({ lockId }), { released: false }, `lock id ${lockId}`);
    }
    assert.deepEqual(await t().counts(), before);
    const get = await t().call.get();
    assert.equal(get.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(get.lockId, holder.lockId);
    // Unlocked session and missing session: false, nothing created.
    await t().call.release({ lockId: holder.lockId });
    assert.deepEqual(await t().call.release({ lockId: holder.lockId }), { released: false });
    assert.deepEqual(await t().call.release({ sessionId: "missing", lockId: 1n }), { released: false });
    assert.equal((await t().call.get({ sessionId: "missing" })).outcome, Outcome.OUTCOME_NOT_FOUND);
    assert.equal((await t().counts()).sessions, 1);
    assert.equal((await t().call.get()).version, 1n);
  });
});

// Memory internals: the whole of the memory backend's stats (bytes, grants, ...), not just the counts.
describeEachTransport("release (rule 10) (memory backend)", () => {
  const t = useFakeServer();

  it("rule 10: a Release that does not release leaves the memory backend's stats exactly as they were", async () => {
    await t().call.set({ data: "v1" });
    const old = await t().call.lock();
    await t().call.release({ lockId: old.lockId });
    const holder = await t().call.lock();
    const before = t().memory().stats();
    for (const lockId of [0n, old.lockId, holder.lockId + 1n, 18_446_744_073_709_551_615n]) {
      assert.deepEqual(await t().call.release({ lockId }), { released: false }, `lock id ${lockId}`);
    }
    assert.deepEqual(await t().call.release({ sessionId: "missing", lockId: 1n }), { released: false });
    assert.deepEqual(t().memory().stats(), before);
  });
});
