/**
 * Watch: session-end events (EXPIRED, REMOVED) with app, session id and time, delivered to the
 * watchers connected at the time, through the TypeScript client's async iterator; a slow watcher is
 * dropped with RESOURCE_EXHAUSTED instead of slowing the store.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import {
  RemoveRequest,
  SessionEventKind,
  SetRequest,
  WatchRequest,
  watchSessionEvents,
  type SessionEvent,
  type SessionStateClient,
} from "../../client/ts/src";
import { FakeClock } from "../src/store/fake-clock";
import { MemoryBackend } from "../src/store/memory/memory-backend";
import type { StoreCompletion } from "../src/store/session-store";
import { WATCHER_TOO_SLOW_MESSAGE } from "../src/grpc/watch-service";
import { startObservedServer, total, unary, type ObservedServer } from "./helpers/telemetry-test-kit";
import { FAKE_START_MS, grpc, reasonOf, waitFor, withTimeout } from "./helpers/test-server";

const APP = "shop";

/** The memory backend of a server (these tests sweep expiries with its runDueWork). */
function memoryOf(s: ObservedServer): MemoryBackend {
  const backend = s.server.backend;
  assert.ok(backend instanceof MemoryBackend, "this test drives the memory backend's expiry sweep");
  return backend;
}

/** A completion for calls made on the store directly: answers are dropped, failures collected. */
function collecting(failures: unknown[]): StoreCompletion<unknown> {
  return { resolve: () => undefined, reject: (error) => void failures.push(error) };
}

/** Collects events from an iterator in the background, until `count` have arrived. */
function collect(iterator: AsyncGenerator<SessionEvent>, count: number): Promise<SessionEvent[]> {
  return withTimeout(
    (async () => {
      const events: SessionEvent[] = [];
      for await (const event of iterator) {
        events.push(event);
        if (events.length === count) break;
      }
      return events;
    })(),
    5000,
    `${count} event(s)`,
  );
}

// Expiries are swept on the fake clock with the memory backend's runDueWork, and bursts are made on its store directly.
describe("watch: session-end events (memory backend)", function () {
  let s: ObservedServer | undefined;
  const server = (): ObservedServer => {
    assert.ok(s !== undefined);
    return s;
  };
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  /** Starts watching and waits until the server has the watcher; `events` settles later. */
  async function watching(client: SessionStateClient, app: string, count: number, abort?: AbortSignal): Promise<{ events: Promise<SessionEvent[]> }> {
    const before = server().server.watchers();
    const events = collect(watchSessionEvents(client, app, abort ? { signal: abort } : {}), count);
    events.catch(() => undefined);
    await waitFor(() => server().server.watchers() === before + 1, "the watcher to be connected");
    // Wrapped: an async function returning the promise itself would wait for the events.
    return { events };
  }

  it("reports an expiry (swept on the fake clock) and a removal, with app, id and time", async () => {
    const clock = new FakeClock(FAKE_START_MS);
    s = await startObservedServer([], { clock, tracing: false });
    const client = s.client();
    const { events } = await watching(client, APP, 2);
    await unary(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: "short", ttlSeconds: 1 }));
    await unary(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: "gone" }));
    // Expiry is filed in 1 s buckets: 3 s is past the deadline's bucket whatever the start time.
    clock.advance(3000);
    memoryOf(server()).runDueWork();
    await unary(client, client.remove, RemoveRequest.fromPartial({ app: APP, sessionId: "gone" }));
    const [expired, removed] = (await events) as [SessionEvent, SessionEvent];
    assert.equal(expired.kind, SessionEventKind.SESSION_EVENT_KIND_EXPIRED);
    assert.equal(expired.app, APP);
    assert.equal(expired.sessionId, "short");
    const expiredAt = expired.time?.getTime() ?? 0;
    assert.ok(expiredAt >= FAKE_START_MS + 1000 && expiredAt <= FAKE_START_MS + 3000, `expired at +${expiredAt - FAKE_START_MS} ms`);
    assert.equal(removed.kind, SessionEventKind.SESSION_EVENT_KIND_REMOVED);
    assert.equal(removed.sessionId, "gone");
    assert.equal(removed.time?.getTime(), FAKE_START_MS + 3000, "the store clock's time");
    // The iterator's break cancelled the call: the server forgets the watcher.
    await waitFor(() => server().server.watchers() === 0, "the watcher to leave");
    const collected = await server().reader.metrics();
    assert.equal(total(collected, "stateward.watch.events", { "stateward.event.kind": "expired" }), 1);
    assert.equal(total(collected, "stateward.watch.events", { "stateward.event.kind": "removed" }), 1);
  });

  it("reports a session found expired on access, and only to the watchers of its app", async () => {
    const clock = new FakeClock(FAKE_START_MS);
    s = await startObservedServer([], { clock, tracing: false });
    const client = s.client();
    const { events: other } = await watching(client, "other-app", 1);
    const { events: mine } = await watching(client, APP, 1);
    await unary(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: "lazy", ttlSeconds: 1 }));
    clock.advance(1001);
    // No sweep: the Get finds it expired and deletes it.
    await unary(client, client.get, { app: APP, sessionId: "lazy", waitMs: 0 });
    const [event] = await mine;
    assert.equal(event?.kind, SessionEventKind.SESSION_EVENT_KIND_EXPIRED);
    assert.equal(event.sessionId, "lazy");
    await unary(client, client.set, SetRequest.fromPartial({ app: "other-app", sessionId: "x" }));
    await unary(client, client.remove, RemoveRequest.fromPartial({ app: "other-app", sessionId: "x" }));
    const [otherEvent] = await other;
    assert.equal(otherEvent?.app, "other-app", "the other app's watcher saw only its own app's event");
  });

  it("ends the iteration quietly on abort, and refuses a malformed app", async () => {
    s = await startObservedServer([], { tracing: false, metrics: false });
    const client = s.client();
    const abort = new AbortController();
    const { events } = await watching(client, APP, 1, abort.signal);
    abort.abort();
    assert.deepEqual(await events, []);
    await waitFor(() => server().server.watchers() === 0, "the watcher to leave");
    await assert.rejects(
      collect(watchSessionEvents(client, "bad app"), 1),
      (error: grpc.ServiceError) => error.code === grpc.status.INVALID_ARGUMENT && /app must be visible ASCII/.test(error.details),
    );
  });

  it("drops a watcher that does not read with RESOURCE_EXHAUSTED, without slowing the store", async () => {
    s = await startObservedServer(["--watch-max-backlog", "16"], { tracing: false });
    const client = s.client();
    const store = s.server.store;
    const failures: unknown[] = [];
    const quiet = collecting(failures);
    // A raw stream that is never read: its flow-control windows fill, then its backlog.
    const call = client.watch(WatchRequest.fromPartial({ app: APP }));
    call.pause();
    const ended = new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
    await waitFor(() => server().server.watchers() === 1, "the watcher to be connected");
    const started = process.hrtime.bigint();
    let sessions = 0;
    for (let round = 0; round < 200 && server().server.watchers() > 0; round++) {
      for (let i = 0; i < 500; i++, sessions++) {
        const sessionId = `s-${sessions}-${"x".repeat(64)}`;
        store.set({ app: APP, sessionId, data: Buffer.alloc(0), ttlSeconds: 0, lockId: 0, keepLock: false, expectedVersion: 0, onlyIfAbsent: false }, quiet);
        store.remove({ app: APP, sessionId, lockId: 0 }, quiet);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.deepEqual(failures, [], "every write and removal was answered");
    assert.equal(server().server.watchers(), 0, `the watcher was dropped (after ${sessions} events, ${elapsedMs.toFixed(0)} ms)`);
    // The client reads again: what was in flight, then the status.
    call.resume();
    const error = await withTimeout(ended, 5000, "the dropped watcher's status");
    assert.equal(error.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(error.details, WATCHER_TOO_SLOW_MESSAGE);
    assert.match(error.details, /watcher too slow/);
    assert.equal(reasonOf(error), "WATCHER_TOO_SLOW");
    const collected = await server().reader.metrics();
    assert.equal(total(collected, "stateward.watch.dropped"), 1);
    // The store kept going: further removals are unaffected.
    await unary(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: "after" }));
    assert.equal((await unary(client, client.remove, RemoveRequest.fromPartial({ app: APP, sessionId: "after" }))).removed, true);
  });

  it("delivers a burst of 20,000 expiries to a watcher that keeps reading in its own process", async function () {
    this.timeout(30_000);
    const clock = new FakeClock(FAKE_START_MS);
    s = await startObservedServer([], { clock, tracing: false, metrics: false });
    const store = s.server.store;
    const memory = memoryOf(s);
    const failures: unknown[] = [];
    const quiet = collecting(failures);
    const count = 20_000;
    for (let i = 0; i < count; i++) {
      store.set({ app: APP, sessionId: `burst-${i}`, data: Buffer.alloc(0), ttlSeconds: 1, lockId: 0, keepLock: false, expectedVersion: 0, onlyIfAbsent: false }, quiet);
    }
    assert.equal((await store.counts()).sessions, count);
    assert.deepEqual(failures, []);
    const child = spawn(process.execPath, ["-r", "tsx/cjs", path.join(__dirname, "fixtures", "watch-counter.ts"), s.server.address, APP, String(count)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    try {
      await waitFor(() => server().server.watchers() === 1, "the watcher process to connect", 20_000);
      clock.advance(3000);
      // Every expiry in the same turn of the event loop: the burst the watcher must absorb.
      for (let slices = 0; memory.stats().sessions > 0 && slices < 10_000; slices++) memory.runDueWork();
      assert.equal(memory.stats().sessions, 0);
      await withTimeout(exited, 25_000, "the watcher process to count its events");
    } finally {
      child.kill();
    }
    const result = JSON.parse(output.trim().split("\n").pop() ?? "{}") as { events?: number; code?: number };
    assert.deepEqual(result, { events: count, code: 0 });
  });

  it("ends watch streams with UNAVAILABLE when the server shuts down", async () => {
    s = await startObservedServer([], { tracing: false, metrics: false });
    const client = s.client();
    const { events } = await watching(client, APP, 1);
    const shutdown = s.server.shutdown();
    await assert.rejects(events, (error: grpc.ServiceError) => error.code === grpc.status.UNAVAILABLE);
    await withTimeout(shutdown, 5000, "shutdown");
  });
});
