import assert from "node:assert/strict";
import { FakeClock } from "../../src/store/fake-clock";
import type { GetResult, LockResult, SetInput } from "../../src/store/operations";
import { SESSION_OVERHEAD_BYTES, SessionStore } from "../../src/store/session-store";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** A full garbage collection, without starting node with --expose-gc. */
function fullGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/** Store-level properties that the gRPC conformance suite cannot see. */
describe("session store internals", () => {
  function setInput(sessionId: string, data: Uint8Array, extra: Partial<SetInput> = {}): SetInput {
    return { app: "app", sessionId, data, ttlSeconds: 0, lockId: 0, keepLock: false, expectedVersion: 0, onlyIfAbsent: false, ...extra };
  }

  function lockNow(store: SessionStore, sessionId: string, leaseMs: number): LockResult {
    let answer: LockResult | undefined;
    store.lock(
      { app: "app", sessionId, waitMs: 0, leaseMs, create: true, ttlSeconds: 0 },
      { resolve: (result) => (answer = result), reject: (error) => assert.fail(error) },
    );
    assert.ok(answer);
    return answer;
  }

  it("holds 100,000 leases and 1,000 waiters on a single timer, and ends every lease on time", () => {
    const clock = new FakeClock(0);
    const store = new SessionStore({}, clock);
    for (let i = 0; i < 100_000; i++) lockNow(store, `s${i}`, 1000 + (i % 1000));
    let answered = 0;
    for (let i = 0; i < 1000; i++) {
      store.get(
        { app: "app", sessionId: `s${i}`, waitMs: 60_000 },
        { resolve: () => answered++, reject: (error) => assert.fail(error) },
      );
    }
    assert.equal(clock.pendingTimers, 1, "one store timer, not one per lock or waiter");
    assert.equal(store.stats().lockedSessions, 100_000);
    clock.advance(1000);
    assert.equal(store.stats().lockedSessions, 100_000 - 100, "leases of 1000 ms ended");
    clock.advance(999);
    assert.equal(store.stats().lockedSessions, 0);
    assert.equal(store.stats().leaseExpiries, 100_000);
    assert.equal(answered, 1000, "waiting readers were answered as their leases ended");
    assert.equal(clock.pendingTimers, 1, "only the expiry timer remains");
    store.close();
  });

  it("charges payload chunks, keys and a fixed overhead, and returns to zero", () => {
    const clock = new FakeClock(0);
    const store = new SessionStore({}, clock);
    store.set(setInput("abc", Buffer.alloc(1000)));
    assert.equal(store.stats().bytesUsed, SESSION_OVERHEAD_BYTES + 3 + 1024);
    store.set(setInput("abc", Buffer.alloc(10)));
    assert.equal(store.stats().bytesUsed, SESSION_OVERHEAD_BYTES + 3 + 64);
    assert.equal(store.remove({ app: "app", sessionId: "abc", lockId: 0 }), true);
    assert.equal(store.stats().bytesUsed, 0);
    store.close();
  });

  it("expires untouched sessions actively, without any access", () => {
    const clock = new FakeClock(0);
    const store = new SessionStore({ defaultTtlSeconds: 60 }, clock);
    for (let i = 0; i < 10_000; i++) store.set(setInput(`s${i}`, Buffer.alloc(100)));
    for (let i = 0; i < 10; i++) store.expire({ app: "app", sessionId: `s${i}`, ttlSeconds: 0 });
    clock.advance(30_000);
    for (let i = 0; i < 10; i++) store.expire({ app: "app", sessionId: `s${i}`, ttlSeconds: 0 });
    // Slices are bounded by real CPU time, so give the sweep a few more intervals to finish.
    clock.advance(33_000);
    const stats = store.stats();
    assert.equal(stats.sessions, 10, "only the touched sessions are left");
    assert.equal(stats.expired, 9990);
    assert.equal(stats.bytesUsed, 10 * (SESSION_OVERHEAD_BYTES + 2 + 128));
    clock.advance(60_000);
    assert.equal(store.stats().sessions, 0);
    store.close();
  });

  it("files a session again when its ttl is shortened, so the sweep still finds it in time", () => {
    const clock = new FakeClock(0);
    const store = new SessionStore({}, clock);
    store.set(setInput("s", Buffer.from("x"), { ttlSeconds: 3600 }));
    store.expire({ app: "app", sessionId: "s", ttlSeconds: 5 });
    clock.advance(6_000);
    assert.equal(store.stats().sessions, 0, "swept at the shorter deadline, not an hour later");
    store.close();
  });

  it("keeps a locked session past its deadline until the lease ends, then expires it", () => {
    const clock = new FakeClock(0);
    const store = new SessionStore({ defaultTtlSeconds: 1 }, clock);
    lockNow(store, "s", 5000);
    clock.advance(4000);
    let seen: GetResult | undefined;
    store.get({ app: "app", sessionId: "s", waitMs: 0 }, { resolve: (result) => (seen = result), reject: (error) => assert.fail(error) });
    assert.equal(seen?.outcome, "locked");
    clock.advance(2000 + 1000);
    assert.equal(store.stats().sessions, 0);
    assert.equal(store.stats().lockedSessions, 0);
    store.close();
  });

  it("never grants a lock to a waiter whose caller is gone", () => {
    const clock = new FakeClock(0);
    const store = new SessionStore({}, clock);
    const held = lockNow(store, "s", 1000);
    assert.equal(held.outcome, "ok");
    const outcomes: string[] = [];
    store.lock(
      { app: "app", sessionId: "s", waitMs: 10_000, leaseMs: 0, create: false, ttlSeconds: 0 },
      { resolve: (result) => outcomes.push(`gone:${result.outcome}`), reject: (error) => assert.fail(error), isActive: () => false },
    );
    store.lock(
      { app: "app", sessionId: "s", waitMs: 10_000, leaseMs: 0, create: false, ttlSeconds: 0 },
      { resolve: (result) => outcomes.push(`live:${result.outcome}`), reject: (error) => assert.fail(error) },
    );
    clock.advance(1000);
    assert.deepEqual(outcomes, ["live:ok"]);
    assert.equal(store.stats().waiters, 0);
    store.close();
  });

  it("answers waiters with an error on close and refuses calls afterwards", () => {
    const clock = new FakeClock(0);
    const store = new SessionStore({}, clock);
    lockNow(store, "s", 1000);
    const errors: string[] = [];
    store.get({ app: "app", sessionId: "s", waitMs: 5000 }, { resolve: () => assert.fail("no answer expected"), reject: (error) => errors.push(error.message) });
    store.close();
    assert.deepEqual(errors, ["the server is shutting down"]);
    assert.equal(clock.pendingTimers, 0);
    assert.throws(() => store.expire({ app: "app", sessionId: "s", ttlSeconds: 0 }), /shutting down/);
  });
});

describe("SessionStore app registry (audit defect 7)", () => {
  it("forgets apps with their last session: 200,000 distinct apps created and removed cost no heap", () => {
    const store = new SessionStore({}, new FakeClock(1_700_000_000_000));
    const cycle = (i: number): void => {
      const app = `tenant-${i}-${"x".repeat(40)}`;
      store.set({ app, sessionId: "s", data: new Uint8Array(0), ttlSeconds: 0, lockId: 0, keepLock: false, expectedVersion: 0, onlyIfAbsent: false });
      store.remove({ app, sessionId: "s", lockId: 0 });
    };
    const gc = fullGc();
    for (let i = 0; i < 1000; i++) cycle(i);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 1000; i < 200_000; i++) cycle(i);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(store.stats().sessions, 0);
    // Without forgetting, every name stays in a Map: about 200 B each, 40 MB here.
    assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB`);
    store.close();
  });
});
