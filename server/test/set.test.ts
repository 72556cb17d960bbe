/** Rule 9: Set: unlocked and locked writes, conflicts fail loudly with ABORTED, only_if_absent, versions. */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, describeEachTransport, expectStatus, grpc, useFakeServer } from "./helpers/test-server";
import type { FakeTestServer, GetResponse } from "./helpers/test-server";
import type { BackendCounts } from "../src/store/session-backend";

/** What a conflicting write must leave exactly as it was. */
interface State {
  readonly get: GetResponse;
  readonly counts: BackendCounts;
}

async function state(t: FakeTestServer, sessionId = "s1"): Promise<State> {
  return { get: await t.call.get({ sessionId }), counts: await t.counts() };
}

async function assertUnchanged(t: FakeTestServer, before: State, sessionId = "s1"): Promise<void> {
  const after = await state(t, sessionId);
  assert.deepEqual(after.counts, before.counts, "backend counts unchanged");
  assert.equal(after.get.outcome, before.get.outcome);
  assert.equal(after.get.lockId, before.get.lockId, "lock holder unchanged");
  assert.equal(after.get.lockAgeMs, before.get.lockAgeMs, "lock age unchanged");
  assert.equal(after.get.version, before.get.version, "version unchanged");
  assert.equal(after.get.ttlSeconds, before.get.ttlSeconds, "ttl unchanged");
  assert.deepEqual(after.get.data, before.get.data, "data unchanged");
}

/** Version and data as seen by a holder-less observer: lock, read, release with the given id. */
async function peekUnderLock(t: FakeTestServer, holderLockId: bigint): Promise<{ data: string; version: bigint }> {
  // While locked, Get shows no data; the holder's Set with keep_lock would change the version, so
  // read through a release and re-lock instead.
  await t.call.release({ lockId: holderLockId });
  const lock = await t.call.lock();
  return { data: lock.data.toString(), version: lock.version };
}

describeEachBackend("set (rule 9)", () => {
  const t = useFakeServer();

  it("rule 9: lock_id 0 is an unlocked write: creates a missing session at version 1, then +1 per write", async () => {
    const first = await t().call.set({ data: "v1" });
    assert.deepEqual(first, { version: 1n, written: true });
    const second = await t().call.set({ data: "v2" });
    assert.deepEqual(second, { version: 2n, written: true });
    const got = await t().call.get();
    assert.equal(got.data.toString(), "v2");
    assert.equal(got.version, 2n);
    // Empty data is data too.
    assert.deepEqual(await t().call.set({ data: "" }), { version: 3n, written: true });
    assert.equal((await t().call.get()).data.length, 0);
  });

  it("rule 9: a write with the holder's lock_id writes and releases the lock", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    const set = await t().call.set({ data: "v2", lockId: lock.lockId });
    assert.deepEqual(set, { version: 2n, written: true });
    assert.equal((await t().counts()).lockedSessions, 0);
    const got = await t().call.get();
    assert.equal(got.outcome, Outcome.OUTCOME_OK);
    assert.equal(got.data.toString(), "v2");
    // The id was consumed by the release: using it again is a stale write.
    await expectStatus(t().call.set({ data: "v3", lockId: lock.lockId }), grpc.status.ABORTED, {
      reason: "STALE_LOCK_ID",
      message: [/stale/i],
    });
  });

  it("rule 9: keep_lock writes and keeps holding the lock", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    const set = await t().call.set({ data: "v2", lockId: lock.lockId, keepLock: true });
    assert.deepEqual(set, { version: 2n, written: true });
    const get = await t().call.get();
    assert.equal(get.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(get.lockId, lock.lockId);
    await expectStatus(t().call.set({ data: "intruder" }), grpc.status.ABORTED);
    const again = await t().call.set({ data: "v3", lockId: lock.lockId, keepLock: true });
    assert.equal(again.version, 3n);
    const last = await t().call.set({ data: "v4", lockId: lock.lockId });
    assert.equal(last.version, 4n);
    assert.equal((await t().call.get()).data.toString(), "v4");
  });

  it("rule 9: an unlocked write to a session locked by another is ABORTED (locked by another) and changes nothing", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    const before = await state(t());
    await expectStatus(t().call.set({ data: "intruder" }), grpc.status.ABORTED, {
      reason: "LOCKED_BY_OTHER",
      message: [/another|other holder|locked/i],
    });
    await expectStatus(t().call.set({ data: "intruder", ttlSeconds: 5 }), grpc.status.ABORTED);
    await assertUnchanged(t(), before);
    assert.deepEqual(await peekUnderLock(t(), lock.lockId), { data: "v1", version: 1n });
  });

  it("rule 9: a write with a lock id that is not the holder's is ABORTED and changes nothing (lock, data, version)", async () => {
    await t().call.set({ data: "v1" });
    const old = await t().call.lock();
    await t().call.release({ lockId: old.lockId });
    const holder = await t().call.lock();
    const before = await state(t());
    await expectStatus(t().call.set({ data: "stale", lockId: old.lockId }), grpc.status.ABORTED, {
      reason: ["STALE_LOCK_ID", "LOCKED_BY_OTHER"],
    });
    await expectStatus(t().call.set({ data: "forged", lockId: holder.lockId + 1000n }), grpc.status.ABORTED);
    await assertUnchanged(t(), before);
    assert.deepEqual(await peekUnderLock(t(), holder.lockId), { data: "v1", version: 1n });
  });

  it("rule 9: a write with a lock id released earlier is ABORTED (stale lock id) and changes nothing", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    await t().call.release({ lockId: lock.lockId });
    const before = await state(t());
    const error = await expectStatus(t().call.set({ data: "stale", lockId: lock.lockId }), grpc.status.ABORTED, {
      reason: "STALE_LOCK_ID",
      message: [/stale|released/i],
    });
    assert.doesNotMatch(error.details, /version/i);
    await assertUnchanged(t(), before);
    // A lock id never issued is stale too: above the session's ids STALE_LOCK_ID, below the first
    // id of this incarnation SESSION_GONE (it cannot be a lock of this session).
    await expectStatus(t().call.set({ data: "x", lockId: lock.lockId + 1_000_000n }), grpc.status.ABORTED, {
      reason: "STALE_LOCK_ID",
    });
    await expectStatus(t().call.set({ data: "x", lockId: 987_654_321n }), grpc.status.ABORTED, {
      reason: "SESSION_GONE",
    });
    await assertUnchanged(t(), before);
  });

  it("rule 9: a write after the lock's lease ended is ABORTED (lease ended) and changes nothing", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock({ leaseMs: 1000 });
    t().clock.advance(1000);
    const before = await state(t());
    assert.equal(before.get.outcome, Outcome.OUTCOME_OK);
    await expectStatus(t().call.set({ data: "late", lockId: lock.lockId }), grpc.status.ABORTED, {
      reason: "LEASE_EXPIRED",
      message: [/lease/i],
    });
    await expectStatus(t().call.set({ data: "late", lockId: lock.lockId, keepLock: true }), grpc.status.ABORTED);
    await assertUnchanged(t(), before);
  });

  it("rule 9: a write with a lock id after the session was removed or expired is ABORTED (session gone) and creates nothing", async () => {
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    await t().call.remove({ lockId: lock.lockId });
    const before = await t().counts();
    await expectStatus(t().call.set({ data: "ghost", lockId: lock.lockId }), grpc.status.ABORTED, {
      reason: "SESSION_GONE",
      message: [/removed|expired|gone|exist/i],
    });
    assert.deepEqual(await t().counts(), before);
    assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_NOT_FOUND);

    // Expired: ttl 1 s, lease 1 s, then past both.
    await t().call.set({ sessionId: "e", data: "v1", ttlSeconds: 1 });
    const lockE = await t().call.lock({ sessionId: "e", leaseMs: 1000 });
    t().clock.advance(2001);
    await expectStatus(t().call.set({ sessionId: "e", data: "ghost", lockId: lockE.lockId }), grpc.status.ABORTED, {
      reason: ["SESSION_GONE", "LEASE_EXPIRED"],
    });
    assert.equal((await t().call.get({ sessionId: "e" })).outcome, Outcome.OUTCOME_NOT_FOUND);

    // A lock id on a session that never existed.
    await expectStatus(t().call.set({ sessionId: "never", data: "x", lockId: 5n }), grpc.status.ABORTED, {
      reason: ["SESSION_GONE", "STALE_LOCK_ID"],
    });
    assert.equal((await t().call.get({ sessionId: "never" })).outcome, Outcome.OUTCOME_NOT_FOUND);

    // Removed and re-created by someone else: the old id is still stale.
    await t().call.set({ data: "reborn" });
    await expectStatus(t().call.set({ data: "ghost", lockId: lock.lockId }), grpc.status.ABORTED);
    assert.equal((await t().call.get()).data.toString(), "reborn");
  });

  it("rule 9: a non-zero expected_version that differs from the current version is ABORTED (version mismatch) and changes nothing", async () => {
    await t().call.set({ data: "v1" });
    await t().call.set({ data: "v2" });
    const before = await state(t());
    for (const expectedVersion of [1n, 3n, 99n]) {
      await expectStatus(t().call.set({ data: "cas", expectedVersion }), grpc.status.ABORTED, {
        reason: "VERSION_MISMATCH",
        message: [/version/i],
      });
    }
    await assertUnchanged(t(), before);
    // Under a lock: the mismatch changes nothing, and the lock is not released.
    const lock = await t().call.lock();
    const lockedBefore = await state(t());
    await expectStatus(t().call.set({ data: "cas", lockId: lock.lockId, expectedVersion: 1n }), grpc.status.ABORTED, {
      reason: "VERSION_MISMATCH",
    });
    await assertUnchanged(t(), lockedBefore);
    // The matching version writes.
    const ok = await t().call.set({ data: "v3", lockId: lock.lockId, expectedVersion: 2n });
    assert.deepEqual(ok, { version: 3n, written: true });
    const unlockedOk = await t().call.set({ data: "v4", expectedVersion: 3n });
    assert.deepEqual(unlockedOk, { version: 4n, written: true });
  });

  it("rule 9: only_if_absent creates a missing session; an existing one is left as it is with written = false", async () => {
    const created = await t().call.set({ data: "first", onlyIfAbsent: true, ttlSeconds: 30 });
    assert.deepEqual(created, { version: 1n, written: true });
    await t().call.set({ data: "second" });
    const before = await state(t());
    const again = await t().call.set({ data: "overwrite?", onlyIfAbsent: true, ttlSeconds: 500 });
    assert.deepEqual(again, { version: 2n, written: false });
    await assertUnchanged(t(), before);
    assert.equal((await t().call.get()).ttlSeconds, 30);
    // On a locked session: still nothing changes.
    const lock = await t().call.lock();
    const lockedBefore = await state(t());
    const onLocked = await t().call.set({ data: "overwrite?", onlyIfAbsent: true });
    assert.equal(onLocked.written, false);
    await assertUnchanged(t(), lockedBefore);
    assert.deepEqual(await peekUnderLock(t(), lock.lockId), { data: "second", version: 2n });
  });

  it("rule 9: uint64 extremes: lock_id and expected_version of 2^64-1 are conflicts (ABORTED), never INTERNAL", async () => {
    const MAX_U64 = 18_446_744_073_709_551_615n;
    await t().call.set({ data: "v1" });
    const before = await state(t());
    await expectStatus(t().call.set({ data: "x", lockId: MAX_U64 }), grpc.status.ABORTED, { reason: "STALE_LOCK_ID" });
    await expectStatus(t().call.set({ data: "x", expectedVersion: MAX_U64 }), grpc.status.ABORTED, {
      reason: "VERSION_MISMATCH",
    });
    await assertUnchanged(t(), before);
    const lock = await t().call.lock();
    await expectStatus(t().call.remove({ lockId: MAX_U64 }), grpc.status.ABORTED);
    await expectStatus(t().call.set({ data: "x", lockId: MAX_U64 }), grpc.status.ABORTED);
    assert.deepEqual(await t().call.release({ lockId: MAX_U64 }), { released: false });
    assert.deepEqual(await t().call.release({ lockId: lock.lockId }), { released: true });
  });

  it("rule 9: versions start at 1 and grow by one per write; Lock, Release, Expire, Get and lease end keep them", async () => {
    const created = await t().call.lock({ create: true });
    assert.equal(created.version, 1n);
    assert.equal((await t().call.set({ data: "a", lockId: created.lockId, keepLock: true })).version, 2n);
    assert.equal((await t().call.release({ lockId: created.lockId })).released, true);
    assert.equal((await t().call.get()).version, 2n);
    await t().call.expire({ ttlSeconds: 60 });
    await t().call.expire();
    assert.equal((await t().call.get()).version, 2n);
    const lock = await t().call.lock({ leaseMs: 500 });
    assert.equal(lock.version, 2n);
    t().clock.advance(500);
    const relock = await t().call.lock();
    assert.equal(relock.version, 2n);
    assert.equal((await t().call.set({ data: "b", lockId: relock.lockId })).version, 3n);
    assert.equal((await t().call.set({ data: "c" })).version, 4n);
    const final = await t().call.get();
    assert.equal(final.version, 4n);
    assert.equal(final.data.toString(), "c");
  });
});

// Memory internals: a refused write must leave every byte and counter of the memory backend as it was.
describeEachTransport("set (rule 9) (memory backend)", () => {
  const t = useFakeServer();

  it("rule 9: conflicting and not-written Sets leave the memory backend's stats exactly as they were", async () => {
    await t().call.set({ data: "v1" });
    await t().call.set({ data: "v2" });
    const old = await t().call.lock();
    await t().call.release({ lockId: old.lockId });
    const unlocked = t().memory().stats();
    await expectStatus(t().call.set({ data: "cas", expectedVersion: 1n }), grpc.status.ABORTED, { reason: "VERSION_MISMATCH" });
    await expectStatus(t().call.set({ data: "stale", lockId: old.lockId }), grpc.status.ABORTED, { reason: "STALE_LOCK_ID" });
    assert.deepEqual(await t().call.set({ data: "overwrite?", onlyIfAbsent: true }), { version: 2n, written: false });
    assert.deepEqual(t().memory().stats(), unlocked);
    const holder = await t().call.lock();
    const locked = t().memory().stats();
    await expectStatus(t().call.set({ data: "intruder" }), grpc.status.ABORTED, { reason: "LOCKED_BY_OTHER" });
    await expectStatus(t().call.set({ data: "forged", lockId: holder.lockId + 1000n }), grpc.status.ABORTED);
    await expectStatus(t().call.set({ data: "cas", lockId: holder.lockId, expectedVersion: 1n }), grpc.status.ABORTED, { reason: "VERSION_MISMATCH" });
    assert.deepEqual(t().memory().stats(), locked);
    await t().call.remove({ lockId: holder.lockId });
    const removed = t().memory().stats();
    await expectStatus(t().call.set({ data: "ghost", lockId: holder.lockId }), grpc.status.ABORTED, { reason: "SESSION_GONE" });
    assert.deepEqual(t().memory().stats(), removed);
    assert.notDeepEqual(locked, removed, "the probe sees a change when there is one");
  });
});
