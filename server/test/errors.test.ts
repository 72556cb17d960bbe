/**
 * Rule 14: unknown failures answer INTERNAL with a generic message (cause logged); NOT_FOUND is an
 * outcome. Issue 11: every refusal carries a google.rpc.Status with one google.rpc.ErrorInfo
 * (reason, domain stateward.v1, metadata naming the field and the limit), and a Pipeline
 * operation's OperationError carries the same code, message, reason and metadata as its unary twin.
 */
import * as assert from "node:assert/strict";
import { Writable } from "node:stream";

import { createLogger } from "../src/index";
import { FakeClock } from "../src/store/fake-clock";
import type { Completion } from "../src/store/session-backend";
import { DeferredBackend } from "./helpers/deferred-backend";
import {
  BACKEND_KINDS,
  FAKE_START_MS,
  Outcome,
  callsFor,
  describeEachBackend,
  errorInfoOf,
  expectStatus,
  grpc,
  reasonOf,
  startTestServer,
  useFakeServer,
  useServer,
  waitForWaiters,
} from "./helpers/test-server";
import type { Calls, TestServer } from "./helpers/test-server";

const SECRET_ID = "secret-session-id-0123456789";
const CAUSE = "kaboom: disk on fire at /var/internal/path";

const METHODS = ["get", "lock", "set", "release", "expire", "remove"] as const;
type MethodName = (typeof METHODS)[number];

/** Calls `method` on `key` with otherwise harmless fields. */
function callMethod(calls: Calls, method: MethodName, key: { app?: string; sessionId?: string }): Promise<unknown> {
  switch (method) {
    case "get":
      return calls.get({ ...key, waitMs: 1000 });
    case "lock":
      return calls.lock({ ...key, create: true });
    case "set":
      return calls.set({ ...key, data: "payload-data-xyz" });
    case "release":
      return calls.release({ ...key, lockId: 1n });
    case "expire":
      return calls.expire({ ...key, ttlSeconds: 60 });
    case "remove":
      return calls.remove(key);
  }
}

/** A refusal as a program sees it: status code, reason and ErrorInfo metadata. */
interface Refusal {
  readonly code: grpc.status;
  readonly reason: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Awaits a refusal with `code`; returns its reason and metadata (checked: domain stateward.v1, legacy trailer agrees). */
async function refusalOf(promise: Promise<unknown>, code: grpc.status): Promise<Refusal & { readonly message: string }> {
  const error = await expectStatus(promise, code);
  const reason = reasonOf(error);
  const info = errorInfoOf(error);
  assert.ok(info !== undefined && reason !== undefined, `the refusal carries an ErrorInfo (message: ${error.details})`);
  assert.equal(info.reason, reason);
  return { code: error.code, reason: info.reason, metadata: { ...info.metadata }, message: error.details };
}

/** Asserts a refusal: its code, its reason and exactly its metadata (and its message, if a pattern is given). */
async function expectRefusal(promise: Promise<unknown>, expected: Refusal, what = "", message?: RegExp): Promise<void> {
  const got = await refusalOf(promise, expected.code);
  assert.deepEqual({ code: got.code, reason: got.reason, metadata: got.metadata }, expected, `${what} (message: ${got.message})`);
  if (message !== undefined) assert.match(got.message, message, what);
}

/** The object whose method the backend tests replace: the memory backend itself, or the one a DeferredBackend wraps. */
function innermostBackend(t: TestServer): Record<string, unknown> {
  const backend = t.server.backend;
  return (backend instanceof DeferredBackend ? backend.inner : backend) as unknown as Record<string, unknown>;
}

describeEachBackend("errors (rule 14)", () => {
  describe("unknown failures", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        lines.push(...String(chunk).split("\n").filter((l) => l.length > 0));
        done();
      },
    });
    const t = useServer([], () => ({ clock: new FakeClock(FAKE_START_MS), logger: createLogger("info", sink) }));
    beforeEach(() => {
      lines.length = 0;
    });

    /** Asserts the INTERNAL answer, the logged cause, nothing leaked, and that the server still works. */
    async function expectInternal(call: Promise<unknown>): Promise<void> {
      const error = await expectStatus(call, grpc.status.INTERNAL);
      assert.doesNotMatch(error.details, /kaboom|disk|\/var/, "no internal detail reaches the caller");
      assert.ok(!error.details.includes(SECRET_ID));
      assert.equal(reasonOf(error), undefined, "no store reason on an internal failure");
      assert.equal(errorInfoOf(error), undefined, "no ErrorInfo on an internal failure");
    }

    function assertLogged(): void {
      const log = lines.join("\n");
      assert.match(log, /kaboom: disk on fire/, "the cause is logged");
      assert.ok(!log.includes(SECRET_ID), "the session id is never logged");
      assert.ok(!log.includes("payload-data-xyz"), "session data is never logged");
    }

    for (const method of METHODS) {
      it(`rule 14: an unexpected failure in ${method} answers INTERNAL with a generic message; the cause is logged`, async () => {
        const store = t().server.store as unknown as Record<string, unknown>;
        store[method] = () => {
          throw new Error(CAUSE);
        };
        try {
          await expectInternal(callMethod(t().call, method, { sessionId: SECRET_ID }));
        } finally {
          delete store[method];
        }
        assertLogged();
        // The server keeps working afterwards.
        assert.deepEqual(await t().call.set({ data: "ok" }), { version: 1n, written: true });
      });

      it(`rule 14: a backend that fails ${method} (rejects with something other than a refusal) is answered INTERNAL; the cause is logged`, async () => {
        // Over the deferred backend the failure reaches the transport on a later tick.
        const backend = innermostBackend(t());
        backend[method] = (_input: unknown, completion: Completion<unknown>) => {
          completion.reject(new Error(CAUSE));
          return undefined;
        };
        try {
          await expectInternal(callMethod(t().call, method, { sessionId: SECRET_ID }));
        } finally {
          delete backend[method];
        }
        assertLogged();
        assert.deepEqual(await t().call.set({ data: "ok" }), { version: 1n, written: true });
      });
    }
  });

  describe("NOT_FOUND", () => {
    const t = useFakeServer();

    it("rule 14: NOT_FOUND is an outcome, never an error status, on Get and Lock (with and without wait)", async () => {
      for (const waitMs of [0, 5000]) {
        const get = await t().call.get({ sessionId: "missing", waitMs });
        assert.equal(get.outcome, Outcome.OUTCOME_NOT_FOUND);
        const lock = await t().call.lock({ sessionId: "missing", waitMs, leaseMs: 1000 });
        assert.equal(lock.outcome, Outcome.OUTCOME_NOT_FOUND);
      }
      // Also when a waiter's session disappears.
      await t().call.set({ data: "x" });
      const holder = await t().call.lock();
      const waiter = t().start.lock({ waitMs: 60_000 });
      await waitForWaiters(t(), 1);
      await t().call.remove({ lockId: holder.lockId });
      assert.equal((await waiter.response).outcome, Outcome.OUTCOME_NOT_FOUND);
    });
  });
});

/** Limits small enough to reach in a test. */
const LIMIT_FLAGS = [
  ...["--max-item-bytes", "1024", "--max-waiters", "1"],
  ...["--max-lock-lease-ms", "5000", "--default-lock-lease-ms", "2000"],
  ...["--max-ttl-seconds", "600", "--default-ttl-seconds", "300"],
];

describeEachBackend("refusals carry a google.rpc.ErrorInfo (issue 11)", () => {
  const t = useFakeServer(LIMIT_FLAGS);

  it("a 257-byte session_id is INVALID_FIELD with metadata {field: session_id, limit: 256}, on every method", async () => {
    for (const method of METHODS) {
      await expectRefusal(
        callMethod(t().call, method, { sessionId: "s".repeat(257) }),
        { code: grpc.status.INVALID_ARGUMENT, reason: "INVALID_FIELD", metadata: { field: "session_id", limit: "256" } },
        method,
      );
    }
  });

  it("a session_id that is empty or not visible ASCII is INVALID_FIELD naming session_id", async () => {
    for (const sessionId of ["", "a b", "caf\u00e9"]) {
      const refusal = await refusalOf(t().call.get({ sessionId }), grpc.status.INVALID_ARGUMENT);
      assert.equal(refusal.reason, "INVALID_FIELD");
      assert.equal(refusal.metadata.field, "session_id", JSON.stringify(sessionId));
    }
  });

  it("a 129-byte app is INVALID_FIELD with metadata {field: app, limit: 128}, on every method", async () => {
    for (const method of METHODS) {
      await expectRefusal(
        callMethod(t().call, method, { app: "a".repeat(129) }),
        { code: grpc.status.INVALID_ARGUMENT, reason: "INVALID_FIELD", metadata: { field: "app", limit: "128" } },
        method,
      );
    }
  });

  it("data over --max-item-bytes is ITEM_TOO_LARGE with metadata {field: data, limit, size}", async () => {
    await expectRefusal(
      t().call.set({ data: Buffer.alloc(1025) }),
      { code: grpc.status.INVALID_ARGUMENT, reason: "ITEM_TOO_LARGE", metadata: { field: "data", limit: "1024", size: "1025" } },
      "set",
      /^data is 1025 bytes; the limit \(--max-item-bytes\) is 1024 bytes$/,
    );
    // Under a lock too, and the lock is still held.
    await t().call.set({ data: "v1" });
    const lock = await t().call.lock();
    await expectRefusal(t().call.set({ data: Buffer.alloc(4000), lockId: lock.lockId }), {
      code: grpc.status.INVALID_ARGUMENT,
      reason: "ITEM_TOO_LARGE",
      metadata: { field: "data", limit: "1024", size: "4000" },
    });
    assert.equal((await t().call.get()).lockId, lock.lockId);
  });

  it("lease_ms over --max-lock-lease-ms is INVALID_FIELD with metadata {field: lease_ms, limit}", async () => {
    await t().call.set({ data: "v1" });
    const expected = { code: grpc.status.INVALID_ARGUMENT, reason: "INVALID_FIELD", metadata: { field: "lease_ms", limit: "5000" } };
    // The message names the server flag that sets the limit, as the ttl's does.
    await expectRefusal(t().call.lock({ leaseMs: 5001 }), expected, "lock", /^lease_ms must be at most 5000 \(--max-lock-lease-ms\); got 5001$/);
    await expectRefusal(t().call.lock({ sessionId: "new", create: true, leaseMs: 3_600_000 }), expected);
    assert.equal((await t().counts()).lockedSessions, 0);
  });

  it("ttl_seconds over --max-ttl-seconds is INVALID_FIELD with metadata {field: ttl_seconds, limit}, on Set, Lock and Expire", async () => {
    await t().call.set({ data: "v1" });
    const expected = { code: grpc.status.INVALID_ARGUMENT, reason: "INVALID_FIELD", metadata: { field: "ttl_seconds", limit: "600" } };
    // The message names the server flag that sets the limit, as the lease's does.
    const message = /^ttl_seconds must be at most 600 \(--max-ttl-seconds\); got 601$/;
    await expectRefusal(t().call.set({ data: "x", ttlSeconds: 601 }), expected, "set", message);
    await expectRefusal(t().call.lock({ sessionId: "new", create: true, ttlSeconds: 601 }), expected, "lock", message);
    await expectRefusal(t().call.expire({ ttlSeconds: 601 }), expected, "expire", message);
  });

  it("a waiter over --max-waiters is TOO_MANY_WAITERS with metadata {limit}", async () => {
    await t().call.set({ data: "v1" });
    const holder = await t().call.lock();
    const waiting = t().start.get({ waitMs: 60_000 });
    await waitForWaiters(t(), 1);
    const expected = { code: grpc.status.RESOURCE_EXHAUSTED, reason: "TOO_MANY_WAITERS", metadata: { limit: "1" } };
    await expectRefusal(t().call.get({ waitMs: 60_000 }), expected, "get");
    await expectRefusal(t().call.lock({ waitMs: 60_000 }), expected, "lock");
    await t().call.release({ lockId: holder.lockId });
    assert.equal((await waiting.response).outcome, Outcome.OUTCOME_OK);
  });

  it("conflicts carry their reason in an ErrorInfo of domain stateward.v1", async () => {
    await t().call.set({ data: "v1" });
    const old = await t().call.lock({ leaseMs: 1000 });
    await t().call.release({ lockId: old.lockId });
    const holder = await t().call.lock({ leaseMs: 1000 });
    const aborted = async (promise: Promise<unknown>, reason: string): Promise<void> => {
      const refusal = await refusalOf(promise, grpc.status.ABORTED);
      assert.equal(refusal.reason, reason);
    };
    await aborted(t().call.set({ data: "x" }), "LOCKED_BY_OTHER");
    await aborted(t().call.set({ data: "x", lockId: old.lockId }), "STALE_LOCK_ID");
    await aborted(t().call.set({ data: "x", lockId: holder.lockId, expectedVersion: 7n }), "VERSION_MISMATCH");
    t().clock.advance(1000);
    await aborted(t().call.set({ data: "x", lockId: holder.lockId }), "LEASE_EXPIRED");
    const gone = await t().call.lock();
    await t().call.remove({ lockId: gone.lockId });
    await aborted(t().call.set({ data: "x", lockId: gone.lockId }), "SESSION_GONE");
  });

  it("a Lock whose deadline leaves no time to deliver it is DEADLINE_EXCEEDED with reason DEADLINE_TOO_CLOSE, and locks nothing", async () => {
    await t().call.set({ data: "v1" });
    // Only a deadline of at most 8 ms is inside the margin on arrival, so the client's own deadline
    // races the server's refusal: retry until the server's answer wins (it does, nearly always).
    let reason: string | undefined;
    for (let attempt = 0; attempt < 50 && reason === undefined; attempt++) {
      const error = await expectStatus(t().call.lock({}, { deadlineMs: 8 }), grpc.status.DEADLINE_EXCEEDED);
      if (errorInfoOf(error) !== undefined) reason = (await refusalOf(Promise.reject(error), grpc.status.DEADLINE_EXCEEDED)).reason;
    }
    assert.equal(reason, "DEADLINE_TOO_CLOSE");
    assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_OK, "the session is not locked");
    assert.equal((await t().counts()).lockedSessions, 0);
  });
});

/** Refusals to compare over both transports: each a fresh request on a server set up by `prepare`. */
interface TwinCase {
  readonly name: string;
  readonly code: grpc.status;
  readonly run: (calls: Calls, holderLockId: bigint) => Promise<unknown>;
}

const TWIN_CASES: readonly TwinCase[] = [
  ...METHODS.map((method) => ({
    name: `${method}: 257-byte session_id`,
    code: grpc.status.INVALID_ARGUMENT,
    run: (calls: Calls) => callMethod(calls, method, { sessionId: "s".repeat(257) }),
  })),
  { name: "get: non-ASCII app", code: grpc.status.INVALID_ARGUMENT, run: (calls) => calls.get({ app: "\u00e9t\u00e9" }) },
  { name: "set: data too large", code: grpc.status.INVALID_ARGUMENT, run: (calls) => calls.set({ data: Buffer.alloc(2000) }) },
  { name: "lock: lease too long", code: grpc.status.INVALID_ARGUMENT, run: (calls) => calls.lock({ leaseMs: 5001 }) },
  { name: "expire: ttl too long", code: grpc.status.INVALID_ARGUMENT, run: (calls) => calls.expire({ ttlSeconds: 601 }) },
  { name: "set: locked by another", code: grpc.status.ABORTED, run: (calls) => calls.set({ data: "x" }) },
  { name: "set: version mismatch", code: grpc.status.ABORTED, run: (calls, lockId) => calls.set({ data: "x", lockId, keepLock: true, expectedVersion: 9n }) },
  { name: "set: stale lock id", code: grpc.status.ABORTED, run: (calls, lockId) => calls.set({ data: "x", lockId: lockId + 100n }) },
  { name: "remove: locked by another", code: grpc.status.ABORTED, run: (calls) => calls.remove({ lockId: 0n }) },
  { name: "get: too many waiters", code: grpc.status.RESOURCE_EXHAUSTED, run: (calls) => calls.get({ waitMs: 60_000 }) },
];

for (const backend of BACKEND_KINDS) {
  describe(`pipeline refusals are their unary twins (issue 11) [${backend}]`, () => {
    let t: TestServer | undefined;
    beforeEach(async () => {
      t = await startTestServer(LIMIT_FLAGS, { clock: new FakeClock(FAKE_START_MS), transport: "pipeline", backend });
    });
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    it("an OperationError carries the same code, message, reason and metadata as the unary call's status", async () => {
      assert.ok(t !== undefined);
      const server = t;
      const unary = callsFor(server.client);
      const pipelined = server.call;
      await unary.set({ data: "v1" });
      const holder = await unary.lock();
      // One waiter fills the queue (--max-waiters 1).
      const waiting = server.start.get({ waitMs: 60_000 });
      await waitForWaiters(server, 1);
      for (const c of TWIN_CASES) {
        const viaUnary = await refusalOf(c.run(unary, holder.lockId), c.code);
        const viaPipeline = await refusalOf(c.run(pipelined, holder.lockId), c.code);
        assert.deepEqual(viaPipeline, viaUnary, c.name);
      }
      await unary.release({ lockId: holder.lockId });
      assert.equal((await waiting.response).outcome, Outcome.OUTCOME_OK);
    });
  });
}
