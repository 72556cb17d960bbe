/** Rule 2: TTL defaults, maximum, sliding window for every call kind, exact invisibility. */
import * as assert from "node:assert/strict";

import {
  Outcome,
  describeEachBackend,
  describeEachTransport,
  expectStatus,
  fieldPattern,
  grpc,
  numberPattern,
  useFakeServer,
} from "./helpers/test-server";
import type { FakeTestServer } from "./helpers/test-server";

const MAX_TTL = 31_536_000;

/** Each case: `prepare` at t0 (after a Set with ttl 10 s), then `act` at t0 + actAt; the session must
 * still be visible at t0 + checkAt, which is past the t0 + 10 s deadline it had before `act`. */
interface SlideCase {
  readonly name: string;
  readonly prepare?: (t: FakeTestServer) => Promise<bigint>;
  readonly actAt: number;
  readonly act: (t: FakeTestServer, lockId: bigint) => Promise<void>;
}

const SLIDE_CASES: readonly SlideCase[] = [
  {
    name: "Get answered OUTCOME_OK",
    actAt: 6000,
    act: async (t) => assert.equal((await t.call.get()).outcome, Outcome.OUTCOME_OK),
  },
  {
    name: "Get answered OUTCOME_LOCKED",
    prepare: async (t) => (await t.call.lock({ leaseMs: 1000 })).lockId,
    actAt: 900,
    act: async (t) => assert.equal((await t.call.get()).outcome, Outcome.OUTCOME_LOCKED),
  },
  {
    name: "Lock answered OUTCOME_OK",
    actAt: 6000,
    act: async (t) => assert.equal((await t.call.lock({ leaseMs: 1000 })).outcome, Outcome.OUTCOME_OK),
  },
  {
    name: "Lock answered OUTCOME_LOCKED",
    prepare: async (t) => (await t.call.lock({ leaseMs: 1000 })).lockId,
    actAt: 900,
    act: async (t) => assert.equal((await t.call.lock()).outcome, Outcome.OUTCOME_LOCKED),
  },
  {
    name: "Set (unlocked write)",
    actAt: 6000,
    act: async (t) => assert.equal((await t.call.set({ data: "v2" })).written, true),
  },
  {
    name: "Set with the holder's lock id",
    prepare: async (t) => (await t.call.lock({ leaseMs: 7000 })).lockId,
    actAt: 6000,
    act: async (t, lockId) => assert.equal((await t.call.set({ data: "v2", lockId })).written, true),
  },
  {
    name: "Release",
    prepare: async (t) => (await t.call.lock({ leaseMs: 7000 })).lockId,
    actAt: 6000,
    act: async (t, lockId) => assert.equal((await t.call.release({ lockId })).released, true),
  },
  {
    name: "Expire",
    actAt: 6000,
    act: async (t) => assert.equal((await t.call.expire()).found, true),
  },
];

describeEachBackend("ttl (rule 2)", () => {
  describe("with the default expiry cycle", () => {
    const t = useFakeServer();

    it("rule 2: ttl_seconds 0 means the 1200 s default, for Set and for Lock with create", async () => {
      await t().call.set({ sessionId: "by-set", data: "x" });
      assert.equal((await t().call.get({ sessionId: "by-set" })).ttlSeconds, 1200);
      const created = await t().call.lock({ sessionId: "by-lock", create: true });
      assert.equal(created.created, true);
      assert.equal(created.ttlSeconds, 1200);
    });

    it("rule 2: the default window is 1200 s: visible at 1,199,999 ms, gone at 1,200,000 ms", async () => {
      await t().call.set({ sessionId: "a", data: "x" });
      await t().call.set({ sessionId: "b", data: "x" });
      t().clock.advance(1_199_999);
      assert.equal((await t().call.get({ sessionId: "a" })).outcome, Outcome.OUTCOME_OK);
      t().clock.advance(1);
      assert.equal((await t().call.get({ sessionId: "b" })).outcome, Outcome.OUTCOME_NOT_FOUND);
    });

    it("rule 2: ttl 31,536,000 s (one year) is accepted by Set, Lock and Expire", async () => {
      const set = await t().call.set({ sessionId: "set", data: "x", ttlSeconds: MAX_TTL });
      assert.equal(set.written, true);
      assert.equal((await t().call.get({ sessionId: "set" })).ttlSeconds, MAX_TTL);
      const lock = await t().call.lock({ sessionId: "lock", create: true, ttlSeconds: MAX_TTL });
      assert.equal(lock.outcome, Outcome.OUTCOME_OK);
      assert.equal(lock.ttlSeconds, MAX_TTL);
      await t().call.set({ sessionId: "expire", data: "x", ttlSeconds: 60 });
      const expired = await t().call.expire({ sessionId: "expire", ttlSeconds: MAX_TTL });
      assert.deepEqual(expired, { found: true, ttlSeconds: MAX_TTL });
    });

    it("rule 2: ttl 31,536,001 s is INVALID_ARGUMENT naming ttl_seconds and the limit, and changes nothing", async () => {
      const expected = { reason: "INVALID_FIELD", message: [fieldPattern("ttl_seconds"), numberPattern(MAX_TTL)] };
      await t().call.set({ data: "original", ttlSeconds: 60 });
      const before = await t().counts();
      await expectStatus(t().call.set({ data: "new", ttlSeconds: MAX_TTL + 1 }), grpc.status.INVALID_ARGUMENT, expected);
      await expectStatus(
        t().call.set({ sessionId: "new", data: "new", ttlSeconds: MAX_TTL + 1 }),
        grpc.status.INVALID_ARGUMENT,
        expected,
      );
      await expectStatus(
        t().call.lock({ sessionId: "new", create: true, ttlSeconds: MAX_TTL + 1 }),
        grpc.status.INVALID_ARGUMENT,
        expected,
      );
      await expectStatus(t().call.expire({ ttlSeconds: MAX_TTL + 1 }), grpc.status.INVALID_ARGUMENT, expected);
      await expectStatus(t().call.expire({ ttlSeconds: 0xffffffff }), grpc.status.INVALID_ARGUMENT, expected);
      assert.deepEqual(await t().counts(), before);
      const got = await t().call.get();
      assert.equal(got.data.toString(), "original");
      assert.equal(got.ttlSeconds, 60);
      assert.equal(got.version, 1n);
      assert.equal((await t().call.get({ sessionId: "new" })).outcome, Outcome.OUTCOME_NOT_FOUND);
    });

    it("rule 2: a session is invisible from the instant its deadline passes (deadline - 1 ms visible, deadline gone)", async () => {
      await t().call.set({ sessionId: "a", data: "x", ttlSeconds: 10 });
      await t().call.set({ sessionId: "b", data: "x", ttlSeconds: 10 });
      await t().call.set({ sessionId: "c", data: "x", ttlSeconds: 10 });
      t().clock.advance(9_999);
      assert.equal((await t().call.get({ sessionId: "a" })).outcome, Outcome.OUTCOME_OK);
      t().clock.advance(1);
      assert.equal((await t().call.get({ sessionId: "b" })).outcome, Outcome.OUTCOME_NOT_FOUND);
      assert.equal((await t().call.lock({ sessionId: "c" })).outcome, Outcome.OUTCOME_NOT_FOUND);
      // "a" was slid by the Get at 9,999 ms.
      assert.equal((await t().call.get({ sessionId: "a" })).outcome, Outcome.OUTCOME_OK);
    });

    it("rule 2: Set with ttl_seconds 0 keeps the session's current ttl", async () => {
      await t().call.set({ data: "v1", ttlSeconds: 30 });
      await t().call.set({ data: "v2", ttlSeconds: 0 });
      const got = await t().call.get();
      assert.equal(got.ttlSeconds, 30);
      assert.equal(got.version, 2n);
      // The window is 30 s, not the 1200 s default.
      t().clock.advance(29_999);
      assert.equal((await t().call.set({ data: "v3" })).version, 3n);
      t().clock.advance(30_001);
      assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_NOT_FOUND);
    });

    it("rule 2: Set with a ttl changes the ttl; Set with ttl 0 under a lock keeps it too", async () => {
      await t().call.set({ data: "v1", ttlSeconds: 30 });
      await t().call.set({ data: "v2", ttlSeconds: 90 });
      assert.equal((await t().call.get()).ttlSeconds, 90);
      const lock = await t().call.lock();
      assert.equal(lock.ttlSeconds, 90);
      await t().call.set({ data: "v3", lockId: lock.lockId });
      assert.equal((await t().call.get()).ttlSeconds, 90);
    });

    for (const c of SLIDE_CASES) {
      it(`rule 2: ${c.name} restarts the sliding window`, async () => {
        await t().call.set({ data: "x", ttlSeconds: 10 });
        const lockId = c.prepare ? await c.prepare(t()) : 0n;
        t().clock.advance(c.actAt);
        await c.act(t(), lockId);
        // Past the old deadline (t0 + 10 s), before the new one (t0 + actAt + 10 s).
        t().clock.advance(9_999);
        const got = await t().call.get();
        assert.equal(got.outcome, Outcome.OUTCOME_OK, "still visible after the old deadline");
        t().clock.advance(10_001);
        assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_NOT_FOUND);
      });
    }

    it("rule 2: after expiry the key is free: an unlocked Set creates a new session at version 1", async () => {
      await t().call.set({ data: "v1", ttlSeconds: 5 });
      await t().call.set({ data: "v2" });
      t().clock.advance(5_001);
      assert.equal((await t().call.expire()).found, false);
      const set = await t().call.set({ data: "fresh" });
      assert.equal(set.version, 1n);
      const got = await t().call.get();
      assert.equal(got.data.toString(), "fresh");
      assert.equal(got.ttlSeconds, 1200, "a new session gets the default ttl, not the expired one's");
    });
  });

  describe("with the expiry cycle effectively off", () => {
    const t = useFakeServer(["--expiry-interval-ms", "60000"]);

    it("rule 2: an expired session is invisible to every call even before it is swept", async () => {
      await t().call.set({ data: "x", ttlSeconds: 10 });
      const lock = await t().call.lock({ sessionId: "locked", create: true, ttlSeconds: 10, leaseMs: 1000 });
      t().clock.advance(10_001);
      assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_NOT_FOUND);
      assert.equal((await t().call.get({ waitMs: 1000 })).outcome, Outcome.OUTCOME_NOT_FOUND);
      assert.equal((await t().call.lock()).outcome, Outcome.OUTCOME_NOT_FOUND);
      assert.deepEqual(await t().call.expire(), { found: false, ttlSeconds: 0 });
      assert.equal((await t().call.remove()).removed, false);
      assert.equal((await t().call.release({ sessionId: "locked", lockId: lock.lockId })).released, false);
      await expectStatus(
        t().call.set({ sessionId: "locked", data: "late", lockId: lock.lockId }),
        grpc.status.ABORTED,
      );
      assert.equal((await t().call.get({ sessionId: "locked" })).outcome, Outcome.OUTCOME_NOT_FOUND);
      const fresh = await t().call.set({ data: "y", onlyIfAbsent: true });
      assert.deepEqual(fresh, { version: 1n, written: true });
    });
  });
});

// Memory internals: the active expiry cycle (runDueWork) and what it sweeps (stats().sessions, bytesUsed).
describeEachTransport("ttl after an early release (audit defect 4) (memory backend)", () => {
  const t = useFakeServer(["--expiry-interval-ms", "100"]);

  it("rule 2: a session whose expiry came due while locked, then released early, is swept at its real deadline", async () => {
    await t().call.set({ data: "v", ttlSeconds: 2 });
    const lock = await t().call.lock({ leaseMs: 3_600_000 });
    // The expiry cycle finds it due while locked and files it again at its lease end (an hour).
    t().clock.advance(5_000);
    t().memory().runDueWork();
    assert.equal(t().memory().stats().sessions, 1);
    // Released early: the sliding window restarts now, so the deadline is now + 2 s.
    assert.equal((await t().call.release({ lockId: lock.lockId })).released, true);
    t().clock.advance(2_000 + 1_000 + 200);
    t().memory().runDueWork();
    assert.equal(t().memory().stats().sessions, 0, "swept within the expiry cycle's delay of its deadline");
    assert.equal(t().memory().stats().bytesUsed, 0, "and its memory is no longer charged");
  });

  it("rule 2: the same after a Set that writes and releases", async () => {
    await t().call.set({ data: "v", ttlSeconds: 2 });
    const lock = await t().call.lock({ leaseMs: 3_600_000 });
    t().clock.advance(5_000);
    t().memory().runDueWork();
    await t().call.set({ data: "w", lockId: lock.lockId });
    t().clock.advance(2_000 + 1_000 + 200);
    t().memory().runDueWork();
    assert.equal(t().memory().stats().sessions, 0);
  });
});
