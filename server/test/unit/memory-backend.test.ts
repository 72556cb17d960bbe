import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { FakeClock } from "../../src/store/fake-clock";
import { MemoryBackend } from "../../src/store/memory/memory-backend";
import { SESSION_OVERHEAD_BYTES } from "../../src/store/memory/memory-budget";
import type { GetResult, LockResult } from "../../src/store/operations";
import type { BackendLockInput, BackendSetInput, Cancellation, Completion } from "../../src/store/session-backend";
import { StoreError } from "../../src/store/store-error";

/** A full garbage collection, without starting node with --expose-gc. */
function fullGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/** Runs an operation that must answer at once through `resolve`, and returns the answer. */
function answerNow<R>(run: (completion: Completion<R>) => Cancellation | undefined): R {
  let answers = 0;
  let answer: R | undefined;
  const cancellation = run({
    resolve: (result) => {
      answers++;
      answer = result;
    },
    reject: (error) => assert.fail(error instanceof Error ? error : String(error)),
    waiting: () => assert.fail("the call should not wait"),
  });
  assert.equal(cancellation, undefined, "an immediate answer comes with no cancellation");
  assert.equal(answers, 1, "answered once, before the call returned");
  return answer as R;
}

/** Runs an operation that must be refused at once through `reject`, and returns the refusal. */
function refusalNow(run: (completion: Completion<unknown>) => Cancellation | undefined): Error {
  let refusal: unknown;
  const cancellation = run({ resolve: () => assert.fail("the call should be refused"), reject: (error) => (refusal = error) });
  assert.equal(cancellation, undefined);
  assert.ok(refusal instanceof Error, "refused before the call returned");
  return refusal;
}

function setInput(sessionId: string, data: Uint8Array, extra: Partial<BackendSetInput> = {}): BackendSetInput {
  return { app: "app", sessionId, data, ttlSeconds: 0, createTtlSeconds: 1200, lockId: 0, keepLock: false, expectedVersion: 0, onlyIfAbsent: false, ...extra };
}

function lockInput(sessionId: string, leaseMs: number, extra: Partial<BackendLockInput> = {}): BackendLockInput {
  return { app: "app", sessionId, waitMs: 0, leaseMs, create: true, ttlSeconds: 1200, ...extra };
}

function lockNow(backend: MemoryBackend, sessionId: string, leaseMs: number, ttlSeconds = 1200): LockResult {
  return answerNow<LockResult>((completion) => backend.lock(lockInput(sessionId, leaseMs, { ttlSeconds }), completion));
}

/** Memory-backend properties that the gRPC conformance suite cannot see. */
describe("memory backend internals", () => {
  it("holds 100,000 leases and 1,000 waiters on a single timer, and ends every lease on time", () => {
    const clock = new FakeClock(0);
    const backend = new MemoryBackend({}, {}, clock);
    for (let i = 0; i < 100_000; i++) lockNow(backend, `s${i}`, 1000 + (i % 1000));
    let answered = 0;
    let waiting = 0;
    for (let i = 0; i < 1000; i++) {
      const cancellation = backend.get(
        { app: "app", sessionId: `s${i}`, waitMs: 60_000 },
        { resolve: () => answered++, reject: (error) => assert.fail(String(error)), waiting: () => waiting++ },
      );
      assert.ok(cancellation !== undefined, "a waiting call gets a cancellation");
    }
    assert.equal(waiting, 1000, "waiting() is called as each call enters its queue");
    assert.equal(clock.pendingTimers, 1, "one backend timer, not one per lock or waiter");
    assert.equal(backend.stats().lockedSessions, 100_000);
    clock.advance(1000);
    assert.equal(backend.stats().lockedSessions, 100_000 - 100, "leases of 1000 ms ended");
    clock.advance(999);
    assert.equal(backend.stats().lockedSessions, 0);
    assert.equal(backend.stats().leaseExpiries, 100_000);
    assert.equal(answered, 1000, "waiting readers were answered as their leases ended");
    assert.equal(clock.pendingTimers, 1, "only the expiry timer remains");
    void backend.close();
  });

  it("charges payload chunks, keys and a fixed overhead, and returns to zero", () => {
    const backend = new MemoryBackend({}, {}, new FakeClock(0));
    answerNow((completion) => backend.set(setInput("abc", Buffer.alloc(1000)), completion));
    assert.equal(backend.stats().bytesUsed, SESSION_OVERHEAD_BYTES + 3 + 1024);
    answerNow((completion) => backend.set(setInput("abc", Buffer.alloc(10)), completion));
    assert.equal(backend.stats().bytesUsed, SESSION_OVERHEAD_BYTES + 3 + 64);
    assert.deepEqual(answerNow((completion) => backend.remove({ app: "app", sessionId: "abc", lockId: 0 }, completion)), { removed: true });
    assert.equal(backend.stats().bytesUsed, 0);
    void backend.close();
  });

  it("expires untouched sessions actively, without any access", async () => {
    const clock = new FakeClock(0);
    const backend = new MemoryBackend({}, {}, clock);
    const expire = (sessionId: string): void => {
      answerNow((completion) => backend.expire({ app: "app", sessionId, ttlSeconds: 0 }, completion));
    };
    for (let i = 0; i < 10_000; i++) answerNow((completion) => backend.set(setInput(`s${i}`, Buffer.alloc(100), { createTtlSeconds: 60 }), completion));
    for (let i = 0; i < 10; i++) expire(`s${i}`);
    clock.advance(30_000);
    for (let i = 0; i < 10; i++) expire(`s${i}`);
    // Slices are bounded by real CPU time, so give the sweep a few more intervals to finish.
    clock.advance(33_000);
    const stats = backend.stats();
    assert.equal(stats.sessions, 10, "only the touched sessions are left");
    assert.equal(stats.expired, 9990);
    assert.equal(stats.bytesUsed, 10 * (SESSION_OVERHEAD_BYTES + 2 + 128));
    assert.deepEqual(await backend.counts(), { sessions: 10, lockedSessions: 0, waiters: 0 }, "counts() reads the same gauges");
    clock.advance(60_000);
    assert.equal(backend.stats().sessions, 0);
    void backend.close();
  });

  it("files a session again when its ttl is shortened, so the sweep still finds it in time", () => {
    const clock = new FakeClock(0);
    const backend = new MemoryBackend({}, {}, clock);
    answerNow((completion) => backend.set(setInput("s", Buffer.from("x"), { createTtlSeconds: 3600 }), completion));
    answerNow((completion) => backend.expire({ app: "app", sessionId: "s", ttlSeconds: 5 }, completion));
    clock.advance(6_000);
    assert.equal(backend.stats().sessions, 0, "swept at the shorter deadline, not an hour later");
    void backend.close();
  });

  it("keeps a locked session past its deadline until the lease ends, then expires it", () => {
    const clock = new FakeClock(0);
    const backend = new MemoryBackend({}, {}, clock);
    lockNow(backend, "s", 5000, 1);
    clock.advance(4000);
    const seen = answerNow<GetResult>((completion) => backend.get({ app: "app", sessionId: "s", waitMs: 0 }, completion));
    assert.equal(seen.outcome, "locked");
    clock.advance(2000 + 1000);
    assert.equal(backend.stats().sessions, 0);
    assert.equal(backend.stats().lockedSessions, 0);
    void backend.close();
  });

  it("never grants a lock to a waiter whose caller is gone: it is dropped, and the next one served", () => {
    const clock = new FakeClock(0);
    const backend = new MemoryBackend({}, {}, clock);
    assert.equal(lockNow(backend, "s", 1000).outcome, "ok");
    const outcomes: string[] = [];
    const queued = (name: string, active: boolean): Completion<LockResult> => ({
      resolve: (result) => outcomes.push(`${name}:${result.outcome}`),
      reject: (error) => assert.fail(String(error)),
      isActive: () => active,
      dropped: () => outcomes.push(`${name}:dropped`),
    });
    backend.lock(lockInput("s", 1000, { waitMs: 10_000, create: false }), queued("gone", false));
    backend.lock(lockInput("s", 1000, { waitMs: 10_000, create: false }), queued("live", true));
    clock.advance(1000);
    assert.deepEqual(outcomes, ["gone:dropped", "live:ok"]);
    assert.equal(backend.stats().waiters, 0);
    void backend.close();
  });

  it("withdraws a cancelled waiter: cancel() is true (also when repeated) and nothing is answered; false once answered", () => {
    const clock = new FakeClock(0);
    const backend = new MemoryBackend({}, {}, clock);
    lockNow(backend, "s", 1000);
    const answered: string[] = [];
    const completion = (name: string): Completion<GetResult> => ({ resolve: () => answered.push(name), reject: (error) => assert.fail(String(error)) });
    const withdrawn = backend.get({ app: "app", sessionId: "s", waitMs: 5000 }, completion("withdrawn"));
    const served = backend.get({ app: "app", sessionId: "s", waitMs: 5000 }, completion("served"));
    assert.ok(withdrawn !== undefined && served !== undefined);
    assert.equal(withdrawn.cancel(), true);
    assert.equal(withdrawn.cancel(), true, "idempotent");
    assert.equal(backend.stats().waiters, 1);
    clock.advance(1000);
    assert.deepEqual(answered, ["served"]);
    assert.equal(served.cancel(), false, "already answered");
    void backend.close();
  });

  it("refuses a full queue with TOO_MANY_WAITERS (limits.maxWaiters), changing nothing", () => {
    const backend = new MemoryBackend({}, { maxWaiters: 1 }, new FakeClock(0));
    lockNow(backend, "s", 1000);
    backend.get({ app: "app", sessionId: "s", waitMs: 5000 }, { resolve: () => undefined, reject: (error) => assert.fail(String(error)) });
    const refusal = refusalNow((completion) => backend.get({ app: "app", sessionId: "s", waitMs: 5000 }, completion));
    assert.equal((refusal as { reason?: string }).reason, "TOO_MANY_WAITERS");
    assert.equal(backend.stats().waiters, 1);
    void backend.close();
  });

  it("answers waiters SHUTTING_DOWN on close, refuses calls afterwards, and stops its timer", async () => {
    const clock = new FakeClock(0);
    const backend = new MemoryBackend({}, {}, clock);
    lockNow(backend, "s", 1000);
    const errors: string[] = [];
    backend.get(
      { app: "app", sessionId: "s", waitMs: 5000 },
      { resolve: () => assert.fail("no answer expected"), reject: (error) => errors.push((error as { reason: string }).reason) },
    );
    await backend.close();
    assert.deepEqual(errors, ["SHUTTING_DOWN"]);
    assert.equal(clock.pendingTimers, 0);
    const refusal = refusalNow((completion) => backend.expire({ app: "app", sessionId: "s", ttlSeconds: 0 }, completion));
    assert.match(refusal.message, /shutting down/);
  });

  it("answers a failure it did not foresee through reject, not by throwing", () => {
    // Sized for 64-byte items: a larger payload (the store would have refused it) has no slab class.
    const backend = new MemoryBackend({}, { maxItemBytes: 64 }, new FakeClock(0));
    const failure = refusalNow((completion) => backend.set(setInput("s", Buffer.alloc(1000)), completion));
    assert.ok(!(failure instanceof StoreError), `a failure, not a refusal: ${failure.message}`);
    assert.equal(backend.stats().sessions, 0, "the refused write left nothing behind");
    void backend.close();
  });
});

describe("memory backend app registry (audit defect 7)", () => {
  it("forgets apps with their last session: 200,000 distinct apps created and removed cost no heap", () => {
    const backend = new MemoryBackend({}, {}, new FakeClock(1_700_000_000_000));
    const ignore = { resolve: () => undefined, reject: (error: unknown) => assert.fail(String(error)) };
    const cycle = (i: number): void => {
      const app = `tenant-${i}-${"x".repeat(40)}`;
      backend.set({ ...setInput("s", new Uint8Array(0)), app }, ignore);
      backend.remove({ app, sessionId: "s", lockId: 0 }, ignore);
    };
    const gc = fullGc();
    for (let i = 0; i < 1000; i++) cycle(i);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 1000; i < 200_000; i++) cycle(i);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(backend.stats().sessions, 0);
    // Without forgetting, every name stays in a Map: about 200 B each, 40 MB here.
    assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB`);
    void backend.close();
  });
});
