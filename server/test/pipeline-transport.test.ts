import assert from "node:assert/strict";
import { credentials, status, type ClientDuplexStream } from "@grpc/grpc-js";
import {
  Outcome,
  PipelineClient,
  PipelineOperationError,
  SessionStateClient,
  type LockResponse,
  type PipelineOperation,
  type PipelineRequest,
  type PipelineResponse,
  type PipelineResult,
  type SetRequest,
} from "@stateward/client";
import { FakeClock, createLogger, resolveConfig, startServer, systemClock, type Clock, type StartedServer } from "../src/index";

/** Pipeline-only behaviour (issue 4); the shared conformance suite runs over it too. */
describe("pipeline transport", () => {
  let server: StartedServer;
  let clock: FakeClock;
  const clients: { close(): void }[] = [];

  async function start(flags: string[] = [], storeClock?: Clock): Promise<void> {
    clock = new FakeClock(1_700_000_000_000);
    server = await startServer(resolveConfig(["--port", "0", "--log-level", "silent", ...flags], {}), {
      clock: storeClock ?? clock,
      logger: createLogger("silent"),
    });
  }

  function pipelineClient(): PipelineClient {
    const client = new PipelineClient(server.address, credentials.createInsecure());
    clients.push(client);
    return client;
  }

  /** A raw Pipeline stream, to test the protocol itself. */
  function rawStream(): { call: ClientDuplexStream<PipelineRequest, PipelineResponse>; results: PipelineResult[]; next(count: number): Promise<PipelineResult[]> } {
    const client = new SessionStateClient(server.address, credentials.createInsecure());
    clients.push(client);
    const call = client.pipeline();
    call.on("error", () => undefined);
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
  }

  /** Writes the session "busy" and takes its lock (so that later Gets and Locks on it wait). */
  async function lockBusy(client: PipelineClient): Promise<LockResponse> {
    await client.set(set("busy", "v1"));
    return client.lock({ app: "app", sessionId: "busy", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 });
  }

  function set(sessionId: string, data: string, extra: Partial<SetRequest> = {}): SetRequest {
    return { app: "app", sessionId, data: Buffer.from(data), ttlSeconds: 0, lockId: 0n, keepLock: false, expectedVersion: 0n, onlyIfAbsent: false, ...extra };
  }

  function op(id: number, request: PipelineOperation["request"], timeoutMs = 0): PipelineOperation {
    return { id: BigInt(id), timeoutMs, request };
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server.shutdown();
  });

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
    assert.equal(server.store.stats().waiters, 1);
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

  it("gives oversized batches and malformed operations per-operation errors and keeps the stream", async () => {
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
    const byId = new Map(results.map((result) => [result.id, result.result]));
    const missing = byId.get(1n);
    assert.ok(missing?.$case === "error" && missing.value.code === status.INVALID_ARGUMENT);
    const empty = byId.get(2n);
    assert.ok(empty?.$case === "error" && empty.value.code === status.INVALID_ARGUMENT && /session_id/.test(empty.value.message));
    assert.equal(byId.get(3n)?.$case, "set");
    const excess = byId.get(4n);
    assert.ok(excess?.$case === "error" && excess.value.code === status.RESOURCE_EXHAUSTED && /max-pipeline-batch/.test(excess.value.message));
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
    assert.ok(duplicate?.id === 7n && duplicate.result?.$case === "error" && duplicate.result.value.code === status.INVALID_ARGUMENT);
  });

  it("keeps the original of a refused duplicate id tracked: cancellable, counted, gone with its stream", async () => {
    await start(["--max-pipeline-in-flight", "1"]);
    const client = pipelineClient();
    await lockBusy(client);
    const stream = rawStream();
    const wait = op(7, { $case: "lock", value: { app: "app", sessionId: "busy", waitMs: 60_000, leaseMs: 0, create: false, ttlSeconds: 0 } });
    stream.call.write({ operations: [wait], cancelIds: [] });
    await waitUntil(() => server.store.stats().waiters === 1);
    stream.call.write({ operations: [wait], cancelIds: [] });
    const [duplicate] = await stream.next(1);
    assert.ok(duplicate?.id === 7n && duplicate.result?.$case === "error" && duplicate.result.value.code === status.INVALID_ARGUMENT);
    // Still counted against --max-pipeline-in-flight 1: another waiting operation is refused.
    stream.call.write({ operations: [op(8, { $case: "get", value: { app: "app", sessionId: "busy", waitMs: 60_000 } })], cancelIds: [] });
    const [refused] = await stream.next(1);
    assert.ok(refused?.id === 8n && refused.result?.$case === "error" && refused.result.value.reason === "TOO_MANY_IN_FLIGHT");
    // Still cancellable: the cancel takes it out of the queue and is answered CANCELLED.
    stream.call.write({ operations: [], cancelIds: [7n] });
    const [cancelled] = await stream.next(1);
    assert.ok(cancelled?.id === 7n && cancelled.result?.$case === "error" && cancelled.result.value.code === status.CANCELLED);
    assert.equal(server.store.stats().waiters, 0);
  });

  it("does not leave the original of a refused duplicate waiting after its stream ends", async () => {
    await start();
    const client = pipelineClient();
    await lockBusy(client);
    const stream = rawStream();
    const wait = op(7, { $case: "get", value: { app: "app", sessionId: "busy", waitMs: 60_000 } });
    stream.call.write({ operations: [wait, wait], cancelIds: [] });
    await stream.next(1);
    assert.equal(server.store.stats().waiters, 1);
    stream.call.cancel();
    await waitUntil(() => server.store.stats().waiters === 0);
  });

  it("answers every cancelled operation with CANCELLED, and ignores ids already answered", async () => {
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
    assert.deepEqual(results.map((result) => [result.id, result.result?.$case === "error" ? result.result.value.code : -1]), [
      [1n, status.CANCELLED],
      [3n, status.CANCELLED],
    ]);
    assert.equal(server.store.stats().waiters, 0);
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
    const client = new SessionStateClient(server.address, credentials.createInsecure(), { "grpc.max_receive_message_length": 6 * 1024 * 1024 });
    clients.push(client);
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

  it("refuses a Lock whose timeout_ms leaves no time to deliver it, and changes nothing", async () => {
    await start();
    const client = pipelineClient();
    await client.set(set("s", "v1"));
    const stream = rawStream();
    stream.call.write({ operations: [op(1, { $case: "lock", value: { app: "app", sessionId: "s", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 } }, 5)], cancelIds: [] });
    const [refused] = await stream.next(1);
    assert.ok(refused?.result?.$case === "error" && refused.result.value.code === status.DEADLINE_EXCEEDED);
    assert.equal(server.store.stats().lockedSessions, 0);
  });

  it("answers DEADLINE_EXCEEDED, never grants, a waiting Lock whose timeout is too close when the lock frees", async () => {
    await start();
    const client = pipelineClient();
    await client.set(set("s", "v1"));
    const held = await client.lock({ app: "app", sessionId: "s", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 });
    const stream = rawStream();
    // Waits (on the store's fake clock) up to 150 ms; the store's timer does not move meanwhile, so
    // when the holder releases 250 ms later the waiter is still queued but its timeout has passed.
    stream.call.write({ operations: [op(1, { $case: "lock", value: { app: "app", sessionId: "s", waitMs: 10_000, leaseMs: 0, create: false, ttlSeconds: 0 } }, 200)], cancelIds: [] });
    await waitUntil(() => server.store.stats().waiters === 1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await client.release({ app: "app", sessionId: "s", lockId: held.lockId });
    const [answer] = await stream.next(1);
    assert.ok(answer?.result?.$case === "error" && answer.result.value.code === status.DEADLINE_EXCEEDED, JSON.stringify(answer?.result));
    assert.equal(server.store.stats().waiters, 0);
    assert.equal(server.store.stats().lockedSessions, 0, "the lock was not granted to a caller it could not reach");
  });

  it("caps waiting operations per stream (--max-pipeline-in-flight) without touching the store", async () => {
    await start(["--max-pipeline-in-flight", "2"]);
    const client = pipelineClient();
    await lockBusy(client);
    const first = client.get({ app: "app", sessionId: "busy", waitMs: 60_000 });
    const second = client.get({ app: "app", sessionId: "busy", waitMs: 60_000 });
    await assert.rejects(client.get({ app: "app", sessionId: "busy", waitMs: 60_000 }), (error: PipelineOperationError) => error.code === status.RESOURCE_EXHAUSTED && /max-pipeline-in-flight/.test(error.details));
    assert.equal(server.store.stats().waiters, 2);
    clock.advance(60_000);
    assert.equal((await first).outcome, Outcome.OUTCOME_LOCKED);
    assert.equal((await second).outcome, Outcome.OUTCOME_LOCKED);
  });

  it("cancels a waiting operation: it leaves the queue and is never granted the lock", async () => {
    await start();
    const client = pipelineClient();
    const held = await lockBusy(client);
    const abort = new AbortController();
    const waiting = client.lock({ app: "app", sessionId: "busy", waitMs: 60_000, leaseMs: 0, create: false, ttlSeconds: 0 }, { signal: abort.signal });
    await waitUntil(() => server.store.stats().waiters === 1);
    abort.abort();
    await assert.rejects(waiting, (error: PipelineOperationError) => error.code === status.CANCELLED);
    await waitUntil(() => server.store.stats().waiters === 0);
    assert.equal((await client.release({ app: "app", sessionId: "busy", lockId: held.lockId })).released, true);
    assert.equal(server.store.stats().lockedSessions, 0, "nobody got the lock");
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
    const doomed = new PipelineClient(server.address, credentials.createInsecure());
    const held = await doomed.lock({ app: "app", sessionId: "s", waitMs: 0, leaseMs: 5000, create: false, ttlSeconds: 0 });
    const blocked = doomed.get({ app: "app", sessionId: "s", waitMs: 60_000 }).catch((error: PipelineOperationError) => error);
    await waitUntil(() => server.store.stats().waiters === 1);
    doomed.close();
    assert.equal(((await blocked) as PipelineOperationError).code, status.CANCELLED);
    await waitUntil(() => server.store.stats().waiters === 0);
    assert.equal(server.store.stats().lockedSessions, 1, "the lock outlives its holder until the lease ends");
    clock.advance(5000);
    const next = await setup.lock({ app: "app", sessionId: "s", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 });
    assert.equal(next.outcome, Outcome.OUTCOME_OK);
    assert.ok(next.lockId > held.lockId);
  });

  it("fails in-flight operations with UNAVAILABLE when the server ends the stream, then reconnects", async () => {
    await start();
    const client = pipelineClient();
    await lockBusy(client);
    const waiting = client.get({ app: "app", sessionId: "busy", waitMs: 60_000 });
    await waitUntil(() => server.store.stats().waiters === 1);
    const oldServer = server;
    const shutdown = oldServer.shutdown();
    await assert.rejects(waiting, (error: PipelineOperationError) => error.code === status.UNAVAILABLE);
    await shutdown;
    // A new server on a new port: a new client works; the old one's next operation opens a new
    // stream (and fails UNAVAILABLE here, since its server is gone), never retrying silently.
    await assert.rejects(client.get({ app: "app", sessionId: "busy", waitMs: 0 }), (error: PipelineOperationError) => error.code === status.UNAVAILABLE);
    await start();
  });
});

/** Bytes of session data in a response (what the 4 MiB message cap is about). */
function dataBytesOf(response: PipelineResponse): number {
  let bytes = 0;
  for (const result of response.results) {
    const value = result.result;
    if (value?.$case === "get" || value?.$case === "lock") bytes += value.value.data.length;
  }
  return bytes;
}

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    assert.ok(Date.now() < deadline, "condition not met within 5 s");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
