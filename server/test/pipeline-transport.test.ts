import assert from "node:assert/strict";
import { credentials, status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { PipelineClient, PipelineOperationError } from "@stateward/client";
import {
  Outcome,
  SessionStateClient,
  type LockResponse,
  type OperationError,
  type PipelineOperation,
  type PipelineRequest,
  type PipelineResponse,
  type PipelineResult,
  type SetRequest,
} from "@stateward/protocol";
import { FakeClock, systemClock, type Clock } from "../src/index";
import type { Cancellation, Completion } from "../src/store/session-backend";
import type { SetResult } from "../src/store/operations";
import { DeferredBackend } from "./helpers/deferred-backend";
import { BACKEND_KINDS, FAKE_START_MS, errorInfoOf, startTestServer, waitFor, withTimeout, type BackendKind, type TestServer } from "./helpers/test-server";

/** A raw Pipeline stream, to test the protocol itself. */
interface RawStream {
  readonly call: ClientDuplexStream<PipelineRequest, PipelineResponse>;
  readonly results: PipelineResult[];
  /** Resolves when the server ends the stream (its status arrived), with the status code. */
  readonly ended: Promise<number>;
  /** Resolves if the stream ends with an error status, with that error. */
  readonly failed: Promise<ServiceError>;
  next(count: number): Promise<PipelineResult[]>;
}

/** The OperationError of a result (fails if the result is not one). */
function errorOf(result: PipelineResult | undefined): OperationError {
  assert.ok(result?.result?.$case === "error", `expected an error result, got ${JSON.stringify(result?.result?.$case)}`);
  return result.result.value;
}

/**
 * A clock for one test: fake time, which can also jump without running the timers that fall due
 * meanwhile (a timer that fires late, as on a stalled event loop).
 */
class LateTimersClock implements Clock {
  private late = 0;
  constructor(private readonly fake: FakeClock) {}
  now(): number {
    return this.fake.now() + this.late;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    return this.fake.setTimeout(callback, ms);
  }
  clearTimeout(handle: unknown): void {
    this.fake.clearTimeout(handle);
  }
  /** Moves time forward by `ms` without running a timer. */
  jump(ms: number): void {
    this.late += ms;
  }
}

/** Pipeline-only behaviour (issue 4) over each backend; the shared conformance suite runs over it too. */
for (const backendKind of BACKEND_KINDS) {
  describe(`pipeline transport [${backendKind}]`, () => {
    const kit = usePipelineKit(backendKind);
    const { start, pipelineClient, rawStream, lockBusy, set, op } = kit;
    const server = (): TestServer => kit.server();
    const clock = (): FakeClock => kit.clock();

    it("answers the other operations of a batch at once while its first one waits for a lock", async () => {
      await start();
      const client = pipelineClient();
      const held = await lockBusy(client);
      const stream = rawStream();
      stream.call.write({
        operations: [
          op(1, { $case: "lock", value: { app: "app", sessionId: "busy", waitMs: 60_000, leaseMs: 0, create: false, ttlSeconds: 0 } }),
          op(2, { $case: "set", value: set("free", "x") }),
          op(3, { $case: "get", value: { app: "app", sessionId: "free", waitMs: 0 } }),
        ],
        cancelIds: [],
      });
      const first = await stream.next(2);
      assert.deepEqual(first.map((result) => result.id), [2n, 3n]);
      await waitForCount(server(), "waiters", 1);
      assert.equal(stream.results.length, 0, "the Lock still waits");
      await client.release({ app: "app", sessionId: "busy", lockId: held.lockId });
      const [granted] = await stream.next(1);
      assert.equal(granted?.id, 1n);
      assert.equal(granted?.result?.$case, "lock");
    });

    it("matches results to correlation ids under 10,000 mixed concurrent operations", async () => {
      await start();
      const client = pipelineClient();
      const checks: Promise<void>[] = [];
      for (let i = 0; i < 10_000; i++) {
        const sessionId = `s${i % 500}`;
        switch (i % 4) {
          case 0:
            checks.push(client.set(set(sessionId, `value-${sessionId}`)).then((response) => assert.equal(response.written, true)));
            break;
          case 1:
            checks.push(
              client.get({ app: "app", sessionId, waitMs: 0 }).then((response) => {
                if (response.outcome === Outcome.OUTCOME_OK) assert.equal(response.data.toString(), `value-${sessionId}`);
                else assert.equal(response.outcome, Outcome.OUTCOME_NOT_FOUND);
              }),
            );
            break;
          case 2:
            checks.push(client.expire({ app: "app", sessionId: `missing-${i}`, ttlSeconds: 0 }).then((response) => assert.equal(response.found, false)));
            break;
          default:
            checks.push(
              client.set(set(sessionId, "x", { expectedVersion: 999_999n })).then(
                () => assert.fail("a version mismatch must fail"),
                (error: PipelineOperationError) => assert.equal(error.reason, "VERSION_MISMATCH"),
              ),
            );
        }
      }
      await Promise.all(checks);
    });

    it("gives oversized batches and malformed operations per-operation errors with their ErrorInfo metadata, and keeps the stream", async () => {
      await start(["--max-pipeline-batch", "3"]);
      const stream = rawStream();
      stream.call.write({
        operations: [
          op(1, undefined),
          op(2, { $case: "get", value: { app: "app", sessionId: "", waitMs: 0 } }),
          op(3, { $case: "set", value: set("ok", "v") }),
          op(4, { $case: "get", value: { app: "app", sessionId: "ok", waitMs: 0 } }),
        ],
        cancelIds: [],
      });
      const results = await stream.next(4);
      const byId = new Map(results.map((result) => [result.id, result]));
      const missing = errorOf(byId.get(1n));
      assert.equal(missing.code, status.INVALID_ARGUMENT);
      assert.equal(missing.reason, "INVALID_FIELD");
      assert.deepEqual(missing.metadata, { field: "request" });
      const empty = errorOf(byId.get(2n));
      assert.equal(empty.code, status.INVALID_ARGUMENT);
      assert.match(empty.message, /session_id/);
      assert.equal(empty.reason, "INVALID_FIELD");
      assert.equal(empty.metadata.field, "session_id");
      assert.equal(byId.get(3n)?.result?.$case, "set");
      const excess = errorOf(byId.get(4n));
      assert.equal(excess.code, status.RESOURCE_EXHAUSTED);
      assert.match(excess.message, /max-pipeline-batch/);
      assert.equal(excess.reason, "BATCH_TOO_LARGE");
      assert.deepEqual(excess.metadata, { limit: "3" });
      // The stream survived: it still answers.
      stream.call.write({ operations: [op(5, { $case: "get", value: { app: "app", sessionId: "ok", waitMs: 0 } })], cancelIds: [] });
      const [after] = await stream.next(1);
      assert.ok(after?.result?.$case === "get" && after.result.value.outcome === Outcome.OUTCOME_OK);
    });

    it("refuses a duplicate correlation id while the first is in flight", async () => {
      await start();
      const client = pipelineClient();
      await lockBusy(client);
      const stream = rawStream();
      const wait = op(7, { $case: "get", value: { app: "app", sessionId: "busy", waitMs: 60_000 } });
      stream.call.write({ operations: [wait, wait], cancelIds: [] });
      const [duplicate] = await stream.next(1);
      assert.equal(duplicate?.id, 7n);
      const error = errorOf(duplicate);
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.equal(error.reason, "DUPLICATE_OPERATION_ID");
    });

    it("keeps the original of a refused duplicate id tracked: cancellable, counted, gone with its stream", async () => {
      await start(["--max-pipeline-in-flight", "1"]);
      const client = pipelineClient();
      await lockBusy(client);
      const stream = rawStream();
      const wait = op(7, { $case: "lock", value: { app: "app", sessionId: "busy", waitMs: 60_000, leaseMs: 0, create: false, ttlSeconds: 0 } });
      stream.call.write({ operations: [wait], cancelIds: [] });
      await waitForCount(server(), "waiters", 1);
      stream.call.write({ operations: [wait], cancelIds: [] });
      const [duplicate] = await stream.next(1);
      assert.ok(duplicate?.id === 7n && errorOf(duplicate).code === status.INVALID_ARGUMENT);
      // Still counted against --max-pipeline-in-flight 1: another waiting operation is refused.
      stream.call.write({ operations: [op(8, { $case: "get", value: { app: "app", sessionId: "busy", waitMs: 60_000 } })], cancelIds: [] });
      const [refused] = await stream.next(1);
      assert.equal(refused?.id, 8n);
      const tooMany = errorOf(refused);
      assert.equal(tooMany.code, status.RESOURCE_EXHAUSTED);
      assert.equal(tooMany.reason, "TOO_MANY_IN_FLIGHT");
      assert.deepEqual(tooMany.metadata, { limit: "1" });
      assert.match(tooMany.message, /the stream already has 1 operations in flight/);
      // Still cancellable: the cancel takes it out of the queue and is answered CANCELLED.
      stream.call.write({ operations: [], cancelIds: [7n] });
      const [cancelled] = await stream.next(1);
      assert.equal(cancelled?.id, 7n);
      const cancelError = errorOf(cancelled);
      assert.equal(cancelError.code, status.CANCELLED);
      assert.equal(cancelError.reason, "OPERATION_CANCELLED");
      assert.equal((await server().counts()).waiters, 0);
    });

    it("does not leave the original of a refused duplicate waiting after its stream ends", async () => {
      await start();
      const client = pipelineClient();
      await lockBusy(client);
      const stream = rawStream();
      const wait = op(7, { $case: "get", value: { app: "app", sessionId: "busy", waitMs: 60_000 } });
      stream.call.write({ operations: [wait, wait], cancelIds: [] });
      await stream.next(1);
      await waitForCount(server(), "waiters", 1);
      stream.call.cancel();
      await waitForCount(server(), "waiters", 0);
    });

    it("answers every cancelled operation with CANCELLED (reason OPERATION_CANCELLED), and ignores ids already answered", async () => {
      await start();
      const client = pipelineClient();
      await lockBusy(client);
      const stream = rawStream();
      stream.call.write({
        operations: [op(1, { $case: "get", value: { app: "app", sessionId: "busy", waitMs: 60_000 } }), op(2, { $case: "get", value: { app: "app", sessionId: "busy", waitMs: 0 } })],
        cancelIds: [],
      });
      const [answered] = await stream.next(1);
      assert.equal(answered?.id, 2n);
      // Cancel the waiting one, the answered one, and an id in the same message as its operation.
      stream.call.write({ operations: [op(3, { $case: "get", value: { app: "app", sessionId: "busy", waitMs: 60_000 } })], cancelIds: [1n, 2n] });
      stream.call.write({ operations: [], cancelIds: [3n] });
      const results = await stream.next(2);
      assert.deepEqual(results.map((result) => [result.id, errorOf(result).code, errorOf(result).reason]), [
        [1n, status.CANCELLED, "OPERATION_CANCELLED"],
        [3n, status.CANCELLED, "OPERATION_CANCELLED"],
      ]);
      assert.equal((await server().counts()).waiters, 0);
      // Nothing for id 2 (its result was sent before): a probe comes back next.
      stream.call.write({ operations: [op(4, { $case: "get", value: { app: "app", sessionId: "nope", waitMs: 0 } })], cancelIds: [] });
      const [probe] = await stream.next(1);
      assert.equal(probe?.id, 4n);
    });

    it("splits results into messages of at most 4 MiB: 64 Gets of 1 MiB reach a client with a 6 MiB receive limit", async () => {
      await start(["--max-memory", "256MiB"]);
      const writer = pipelineClient();
      const payload = Buffer.alloc(1024 * 1024 - 64, 7);
      await Promise.all(Array.from({ length: 64 }, (_, i) => writer.set({ ...set(`big-${i}`, ""), data: payload })));
      const client = new SessionStateClient(server().server.address, credentials.createInsecure(), { "grpc.max_receive_message_length": 6 * 1024 * 1024 });
      kit.closeLater(client);
      const call = client.pipeline();
      const sizes: number[] = [];
      let received = 0;
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", (response: PipelineResponse) => {
          sizes.push(dataBytesOf(response));
          received += response.results.length;
          if (received === 64) resolve();
        });
        call.on("error", reject);
      });
      call.write({ operations: Array.from({ length: 64 }, (_, i) => op(i + 1, { $case: "get", value: { app: "app", sessionId: `big-${i}`, waitMs: 0 } })), cancelIds: [] });
      await done;
      call.end();
      assert.ok(sizes.length >= 16, `expected the results in several messages, got ${sizes.length}`);
      for (const size of sizes) assert.ok(size <= 4 * 1024 * 1024 + 64 * 1024, `a message of ${size} bytes`);
    });

    it("ends a stream with CLIENT_TOO_SLOW (metadata limit) when the results of its waiting operations pile up beyond 16 MiB", async () => {
      await start();
      const client = pipelineClient();
      await client.set({ ...set("big", ""), data: Buffer.alloc(1024 * 1024 - 64, 1) });
      const held = await client.lock({ app: "app", sessionId: "big", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 });
      const stream = rawStream();
      // 20 waiting Gets of a 1 MiB session: answered together when the lock is released.
      stream.call.write({ operations: Array.from({ length: 20 }, (_, i) => op(i + 1, { $case: "get", value: { app: "app", sessionId: "big", waitMs: 60_000 } })), cancelIds: [] });
      await waitForCount(server(), "waiters", 20);
      await client.release({ app: "app", sessionId: "big", lockId: held.lockId });
      const error = await withTimeout(stream.failed, 5000, "the stream's end");
      assert.equal(error.code, status.RESOURCE_EXHAUSTED);
      assert.match(error.details, /client too slow/);
      assert.deepEqual(errorInfoOf(error), { reason: "CLIENT_TOO_SLOW", metadata: { limit: String(16 * 1024 * 1024) } });
      await waitForCount(server(), "waiters", 0);
    });

    it("refuses a Lock whose timeout_ms leaves no time to deliver it (DEADLINE_TOO_CLOSE), and changes nothing", async () => {
      await start();
      const client = pipelineClient();
      await client.set(set("s", "v1"));
      const stream = rawStream();
      stream.call.write({ operations: [op(1, { $case: "lock", value: { app: "app", sessionId: "s", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 } }, 5)], cancelIds: [] });
      const [refused] = await stream.next(1);
      const error = errorOf(refused);
      assert.equal(error.code, status.DEADLINE_EXCEEDED);
      assert.equal(error.reason, "DEADLINE_TOO_CLOSE");
      assert.equal((await server().counts()).lockedSessions, 0);
    });

    it("answers DEADLINE_EXCEEDED (DEADLINE_TOO_CLOSE), never grants, a waiting Lock whose timeout is too close when the lock frees", async () => {
      // The store's time jumps 160 ms while its timers stay put (a late timer): when the holder
      // releases, the waiter is still queued but a lock granted now could not reach it in time.
      const late = new LateTimersClock(new FakeClock(FAKE_START_MS));
      await start([], late);
      const client = pipelineClient();
      await client.set(set("s", "v1"));
      const held = await client.lock({ app: "app", sessionId: "s", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 });
      const stream = rawStream();
      // timeout 200 ms: it waits at most 150 ms (a 50 ms margin), and no lock is granted within
      // 50 ms of the deadline.
      stream.call.write({ operations: [op(1, { $case: "lock", value: { app: "app", sessionId: "s", waitMs: 10_000, leaseMs: 0, create: false, ttlSeconds: 0 } }, 200)], cancelIds: [] });
      await waitForCount(server(), "waiters", 1);
      late.jump(160);
      await client.release({ app: "app", sessionId: "s", lockId: held.lockId });
      const [answer] = await stream.next(1);
      const error = errorOf(answer);
      assert.equal(error.code, status.DEADLINE_EXCEEDED, JSON.stringify(answer?.result));
      assert.equal(error.reason, "DEADLINE_TOO_CLOSE");
      const counts = await server().counts();
      assert.equal(counts.waiters, 0);
      assert.equal(counts.lockedSessions, 0, "the lock was not granted to a caller it could not reach");
    });

    it("caps operations in flight per stream (--max-pipeline-in-flight): the next one that may wait is refused without touching the store", async () => {
      await start(["--max-pipeline-in-flight", "2"]);
      const client = pipelineClient();
      await lockBusy(client);
      const first = client.get({ app: "app", sessionId: "busy", waitMs: 60_000 });
      const second = client.get({ app: "app", sessionId: "busy", waitMs: 60_000 });
      const third = assert.rejects(client.get({ app: "app", sessionId: "busy", waitMs: 60_000 }), (error: PipelineOperationError) => {
        assert.equal(error.code, status.RESOURCE_EXHAUSTED);
        assert.match(error.details, /max-pipeline-in-flight/);
        assert.match(error.details, /the stream already has 2 operations in flight/);
        assert.equal(error.reason, "TOO_MANY_IN_FLIGHT");
        assert.deepEqual({ ...error.reasonMetadata }, { limit: "2" });
        return true;
      });
      await withTimeout(third, 5000, "the refusal of the third waiting Get");
      await waitForCount(server(), "waiters", 2);
      clock().advance(60_000);
      assert.equal((await first).outcome, Outcome.OUTCOME_LOCKED);
      assert.equal((await second).outcome, Outcome.OUTCOME_LOCKED);
    });

    it("holds back, never refuses, operations that do not wait while the stream has --max-pipeline-in-flight in flight", async () => {
      await start(["--max-pipeline-in-flight", "2"]);
      const stream = rawStream();
      const operations = Array.from({ length: 200 }, (_, i) => op(i + 1, { $case: "set", value: set(`s${i}`, `v${i}`) }));
      stream.call.write({ operations, cancelIds: [] });
      const results = await stream.next(200);
      assert.deepEqual(new Set(results.map((result) => result.id)), new Set(operations.map((operation) => operation.id)), "every operation answered");
      for (const result of results) assert.ok(result.result?.$case === "set" && result.result.value.written, JSON.stringify(result.result?.$case));
      assert.equal((await server().counts()).sessions, 200);
    });

    it("cancels a waiting operation: it leaves the queue and is never granted the lock", async () => {
      await start();
      const client = pipelineClient();
      const held = await lockBusy(client);
      const abort = new AbortController();
      const waiting = client.lock({ app: "app", sessionId: "busy", waitMs: 60_000, leaseMs: 0, create: false, ttlSeconds: 0 }, { signal: abort.signal });
      await waitForCount(server(), "waiters", 1);
      abort.abort();
      await assert.rejects(waiting, (error: PipelineOperationError) => error.code === status.CANCELLED);
      await waitForCount(server(), "waiters", 0);
      assert.equal((await client.release({ app: "app", sessionId: "busy", lockId: held.lockId })).released, true);
      assert.equal((await server().counts()).lockedSessions, 0, "nobody got the lock");
    });

    it("answers a waiting operation OUTCOME_LOCKED before its own timeout", async () => {
      // Real time on both sides: the operation's timeout is wall-clock, and so must the wait be.
      await start([], systemClock);
      const client = pipelineClient();
      await lockBusy(client);
      const started = Date.now();
      const answer = await client.get({ app: "app", sessionId: "busy", waitMs: 60_000 }, { timeoutMs: 300 });
      assert.equal(answer.outcome, Outcome.OUTCOME_LOCKED);
      assert.ok(Date.now() - started < 300, "answered before the timeout");
    });

    it("frees a lock held by a client that disappears (the lease ends) and drops its waiters at once", async () => {
      await start();
      const setup = pipelineClient();
      await setup.set(set("s", "v1"));
      const doomed = new PipelineClient(server().server.address, credentials.createInsecure());
      const held = await doomed.lock({ app: "app", sessionId: "s", waitMs: 0, leaseMs: 5000, create: false, ttlSeconds: 0 });
      const blocked = doomed.get({ app: "app", sessionId: "s", waitMs: 60_000 }).catch((error: PipelineOperationError) => error);
      await waitForCount(server(), "waiters", 1);
      doomed.close();
      assert.equal(((await blocked) as PipelineOperationError).code, status.CANCELLED);
      await waitForCount(server(), "waiters", 0);
      assert.equal((await server().counts()).lockedSessions, 1, "the lock outlives its holder until the lease ends");
      clock().advance(5000);
      const next = await setup.lock({ app: "app", sessionId: "s", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 });
      assert.equal(next.outcome, Outcome.OUTCOME_OK);
      assert.ok(next.lockId > held.lockId);
    });

    it("fails in-flight operations with UNAVAILABLE when the server ends the stream, then reconnects", async () => {
      await start();
      const client = pipelineClient();
      await lockBusy(client);
      const waiting = client.get({ app: "app", sessionId: "busy", waitMs: 60_000 });
      await waitForCount(server(), "waiters", 1);
      const shutdown = server().server.shutdown();
      await assert.rejects(waiting, (error: PipelineOperationError) => error.code === status.UNAVAILABLE);
      await shutdown;
      // A new server on a new port: a new client works; the old one's next operation opens a new
      // stream (and fails UNAVAILABLE here, since its server is gone), never retrying silently.
      await assert.rejects(client.get({ app: "app", sessionId: "busy", waitMs: 0 }), (error: PipelineOperationError) => error.code === status.UNAVAILABLE);
      await start();
      const fresh = pipelineClient();
      assert.equal((await fresh.get({ app: "app", sessionId: "busy", waitMs: 0 })).outcome, Outcome.OUTCOME_NOT_FOUND);
    });
  });
}

/**
 * A backend that answers on a later tick (the deferred backend): what the Pipeline must not assume
 * of its backend (issue 11).
 */
describe("pipeline transport: asynchronous backend", () => {
  const kit = usePipelineKit("deferred");
  const { start, pipelineClient, rawStream, lockBusy, set, op } = kit;
  const server = (): TestServer => kit.server();

  it("does not end a half-closed stream before the operations pending on the backend are answered: every result arrives", async () => {
    await start();
    const client = pipelineClient();
    const held = await lockBusy(client);
    const stream = rawStream();
    const operations = [
      op(1, { $case: "lock", value: { app: "app", sessionId: "busy", waitMs: 60_000, leaseMs: 0, create: false, ttlSeconds: 0 } }),
      ...Array.from({ length: 99 }, (_, i) => op(i + 2, i % 2 === 0 ? { $case: "set", value: set(`h${i}`, "v") } : { $case: "get", value: { app: "app", sessionId: `h${i - 1}`, waitMs: 0 } })),
    ];
    // Half-close right after the operations: every one of them is still pending on the backend.
    stream.call.write({ operations, cancelIds: [] });
    stream.call.end();
    const answered = await stream.next(99);
    assert.deepEqual(new Set(answered.map((result) => result.id)), new Set(operations.slice(1).map((operation) => operation.id)));
    // The Lock still waits: the stream is not over.
    await waitForCount(server(), "waiters", 1);
    const settled = await Promise.race([stream.ended.then(() => "ended"), new Promise((resolve) => setImmediate(() => resolve("open")))]);
    assert.equal(settled, "open", "the stream waits for its last operation");
    await client.release({ app: "app", sessionId: "busy", lockId: held.lockId });
    const [granted] = await stream.next(1);
    assert.equal(granted?.id, 1n);
    assert.ok(granted?.result?.$case === "lock" && granted.result.value.outcome === Outcome.OUTCOME_OK);
    assert.equal(await withTimeout(stream.ended, 5000, "the stream's end"), status.OK);
  });

  it("answers a half-closed stream's writes, then ends it, even when all of them are pending on the backend", async () => {
    await start();
    const stream = rawStream();
    const operations = Array.from({ length: 50 }, (_, i) => op(i + 1, { $case: "set", value: set(`w${i}`, `v${i}`) }));
    stream.call.write({ operations, cancelIds: [] });
    stream.call.end();
    assert.equal(await withTimeout(stream.ended, 5000, "the stream's end"), status.OK);
    assert.deepEqual(
      stream.results.map((result) => [result.id, result.result?.$case === "set" && result.result.value.written]),
      operations.map((operation) => [operation.id, true]),
    );
    assert.equal((await server().counts()).sessions, 50);
  });

  it("answers a cancelled operation that the backend can no longer withdraw with its own result, never CANCELLED", async () => {
    await start();
    const backend = server().server.backend;
    assert.ok(backend instanceof DeferredBackend);
    const inner = backend.inner;
    // A Set that has reached the backend and is under way: it cannot be withdrawn any more, and
    // is answered when the test lets it.
    const gate: { open?: () => void } = {};
    const realSet = inner.set.bind(inner);
    inner.set = (input, completion: Completion<SetResult>): Cancellation => {
      void new Promise<void>((resolve) => (gate.open = resolve)).then(() => realSet(input, completion));
      return { cancel: () => false };
    };
    const stream = rawStream();
    stream.call.write({ operations: [op(1, { $case: "set", value: set("under-way", "written") })], cancelIds: [] });
    await waitFor(() => gate.open !== undefined, "the Set to reach the backend");
    // The cancel comes before the probe's operation in one message: the probe's answer proves it was read.
    stream.call.write({ operations: [op(2, { $case: "get", value: { app: "app", sessionId: "probe", waitMs: 0 } })], cancelIds: [1n] });
    const [probe] = await stream.next(1);
    assert.equal(probe?.id, 2n);
    assert.equal(stream.results.length, 0, "no CANCELLED for the write under way");
    gate.open?.();
    const [write] = await stream.next(1);
    assert.equal(write?.id, 1n);
    assert.ok(write?.result?.$case === "set" && write.result.value.written, `the write's own result, got ${JSON.stringify(write?.result?.$case)}`);
    // It did happen.
    const client = pipelineClient();
    assert.equal((await client.get({ app: "app", sessionId: "under-way", waitMs: 0 })).data.toString(), "written");
  });

  it("at shutdown, answers every operation still pending on the backend before ending the stream", async () => {
    await start();
    const backend = server().server.backend;
    assert.ok(backend instanceof DeferredBackend);
    const inner = backend.inner;
    // A Set under way on the backend (it cannot be withdrawn), answered when the test lets it.
    const gate: { open?: () => void } = {};
    const realSet = inner.set.bind(inner);
    inner.set = (input, completion: Completion<SetResult>): Cancellation => {
      void new Promise<void>((resolve) => (gate.open = resolve)).then(() => realSet(input, completion));
      return { cancel: () => false };
    };
    const stream = rawStream();
    stream.call.write({ operations: [op(1, { $case: "set", value: set("under-way", "written") })], cancelIds: [] });
    await waitFor(() => gate.open !== undefined, "the Set to reach the backend");
    const stopping = server().server.shutdown();
    // The stream stays open while the backend owes it an answer.
    const settled = await Promise.race([stream.ended.then(() => "ended"), new Promise((resolve) => setTimeout(() => resolve("open"), 50))]);
    assert.equal(settled, "open");
    gate.open?.();
    const [write] = await stream.next(1);
    assert.equal(write?.id, 1n);
    assert.ok(write?.result?.$case === "set" || write?.result?.$case === "error", "the Set gets a result of its own");
    assert.equal(await withTimeout(stream.ended, 5000, "the stream's end"), status.OK);
    await stopping;
  });

  it("withdraws a cancelled operation that is waiting on the backend: CANCELLED, and it never gets the lock", async () => {
    await start();
    const client = pipelineClient();
    const held = await lockBusy(client);
    const stream = rawStream();
    stream.call.write({ operations: [op(1, { $case: "lock", value: { app: "app", sessionId: "busy", waitMs: 60_000, leaseMs: 0, create: false, ttlSeconds: 0 } })], cancelIds: [] });
    await waitForCount(server(), "waiters", 1);
    stream.call.write({ operations: [], cancelIds: [1n] });
    const [cancelled] = await stream.next(1);
    assert.equal(errorOf(cancelled).reason, "OPERATION_CANCELLED");
    await waitForCount(server(), "waiters", 0);
    assert.equal((await client.release({ app: "app", sessionId: "busy", lockId: held.lockId })).released, true);
    assert.equal((await server().counts()).lockedSessions, 0);
  });
});

/** Per-test server on `backendKind`, its clients and raw streams; everything closed after each test. */
function usePipelineKit(backendKind: BackendKind): {
  start(flags?: string[], storeClock?: Clock): Promise<void>;
  server(): TestServer;
  clock(): FakeClock;
  pipelineClient(): PipelineClient;
  rawStream(): RawStream;
  lockBusy(client: PipelineClient): Promise<LockResponse>;
  set(sessionId: string, data: string, extra?: Partial<SetRequest>): SetRequest;
  op(id: number, request: PipelineOperation["request"], timeoutMs?: number): PipelineOperation;
  closeLater(closable: { close(): void }): void;
} {
  let current: TestServer | undefined;
  let fake: FakeClock | undefined;
  const servers: TestServer[] = [];
  const clients: { close(): void }[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const started of servers.splice(0)) await started.close();
    current = undefined;
    fake = undefined;
  });

  const server = (): TestServer => {
    assert.ok(current !== undefined, "server not started");
    return current;
  };

  function set(sessionId: string, data: string, extra: Partial<SetRequest> = {}): SetRequest {
    return { app: "app", sessionId, data: Buffer.from(data), ttlSeconds: 0, lockId: 0n, keepLock: false, expectedVersion: 0n, onlyIfAbsent: false, ...extra };
  }

  function pipelineClient(): PipelineClient {
    const client = new PipelineClient(server().server.address, credentials.createInsecure());
    clients.push(client);
    return client;
  }

  return {
    async start(flags = [], storeClock) {
      fake = new FakeClock(FAKE_START_MS);
      current = await startTestServer(flags, { clock: storeClock ?? fake, backend: backendKind });
      servers.push(current);
    },
    server,
    clock() {
      assert.ok(fake !== undefined, "server not started");
      return fake;
    },
    pipelineClient,
    rawStream() {
      const client = new SessionStateClient(server().server.address, credentials.createInsecure());
      clients.push(client);
      const call = client.pipeline();
      const failed = new Promise<ServiceError>((resolve) => call.on("error", resolve));
      const ended = new Promise<number>((resolve) => call.on("status", (s: { code: number }) => resolve(s.code)));
      const results: PipelineResult[] = [];
      let waiters: (() => void)[] = [];
      call.on("data", (response: PipelineResponse) => {
        results.push(...response.results);
        const ready = waiters;
        waiters = [];
        for (const wake of ready) wake();
      });
      return {
        call,
        results,
        ended,
        failed,
        async next(count) {
          const deadline = Date.now() + 5000;
          while (results.length < count) {
            assert.ok(Date.now() < deadline, `expected ${count} results, got ${results.length}`);
            await new Promise<void>((resolve) => {
              waiters.push(resolve);
              setTimeout(resolve, 100);
            });
          }
          return results.splice(0, count);
        },
      };
    },
    /** Writes the session "busy" and takes its lock (so that later Gets and Locks on it wait). */
    async lockBusy(client) {
      await client.set(set("busy", "v1"));
      return client.lock({ app: "app", sessionId: "busy", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 });
    },
    set,
    op(id, request, timeoutMs = 0) {
      return { id: BigInt(id), timeoutMs, request };
    },
    closeLater(closable) {
      clients.push(closable);
    },
  };
}

/** Waits until the backend reports exactly `n` of `what` (through the backend-neutral probe). */
async function waitForCount(t: TestServer, what: "waiters" | "lockedSessions" | "sessions", n: number): Promise<void> {
  let last = -1;
  await waitFor(async () => (last = (await t.counts())[what]) === n, `${n} ${what} (have ${last})`, 5000);
}

/** Bytes of session data in a response (what the 4 MiB message cap is about). */
function dataBytesOf(response: PipelineResponse): number {
  let bytes = 0;
  for (const result of response.results) {
    const value = result.result;
    if (value?.$case === "get" || value?.$case === "lock") bytes += value.value.data.length;
  }
  return bytes;
}
