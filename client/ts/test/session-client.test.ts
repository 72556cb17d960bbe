import { status } from "@grpc/grpc-js";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { SpanStatusCode } from "@opentelemetry/api";
import type { StartedServer } from "../../../server/src/index";
import { SessionClient, StatewardError, type SessionClientOptions } from "../src";
import { assert, expectStatewardError, TRANSPORTS, useResources, waitFor } from "./helpers";

for (const transport of TRANSPORTS) {
  describe(`SessionClient [${transport}]`, function () {
    const r = useResources();
    let server: StartedServer;
    let client: SessionClient;
    const connect = (options: SessionClientOptions = {}): SessionClient => r().client({ address: server.address, transport, ...options });

    beforeEach(async () => {
      server = await r().server();
      client = connect();
    });

    it("get: not-found, then ok with data, version and ttl", async () => {
      assert.deepEqual(await client.get("app", "s1"), { outcome: "not-found" });
      const written = await client.set("app", "s1", "hello", { ttlSeconds: 60 });
      assert.deepEqual(written, { outcome: "ok", version: 1n });
      const read = await client.get("app", "s1");
      assert.equal(read.outcome, "ok");
      if (read.outcome !== "ok") return;
      assert.equal(read.data.toString(), "hello");
      assert.equal(read.version, 1n);
      assert.equal(read.ttlSeconds, 60);
      assert.deepEqual(Object.keys(read).sort(), ["data", "outcome", "ttlSeconds", "version"], "exactly the issue's shape");
    });

    it("lock: ok with a bigint lock id, then locked for the next writer and for readers", async () => {
      await client.set("app", "s1", Buffer.from([1, 2, 3]));
      const lock = await client.lock("app", "s1", { leaseMs: 60_000 });
      assert.equal(lock.outcome, "ok");
      if (lock.outcome !== "ok") return;
      assert.equal(typeof lock.lockId, "bigint");
      assert.ok(lock.lockId > 0n);
      assert.deepEqual([...lock.data], [1, 2, 3]);
      assert.equal(lock.created, false);
      assert.ok(lock.leaseMs > 0 && lock.leaseMs <= 60_000);
      const again = await client.lock("app", "s1");
      assert.equal(again.outcome, "locked");
      if (again.outcome !== "locked") return;
      assert.equal(again.lockId, lock.lockId);
      assert.equal(typeof again.lockAgeMs, "number");
      assert.deepEqual(Object.keys(again).sort(), ["lockAgeMs", "lockId", "outcome"], "exactly the issue's shape");
      assert.deepEqual(Object.keys(lock).sort(), ["created", "data", "leaseMs", "lockId", "outcome", "ttlSeconds", "version"]);
      const read = await client.get("app", "s1");
      assert.equal(read.outcome, "locked");
    });

    it("lock: not-found creates nothing; create makes an empty locked session", async () => {
      assert.deepEqual(await client.lock("app", "new"), { outcome: "not-found" });
      assert.deepEqual(await client.get("app", "new"), { outcome: "not-found" });
      const created = await client.lock("app", "new", { create: true, ttlSeconds: 30 });
      assert.equal(created.outcome, "ok");
      if (created.outcome !== "ok") return;
      assert.equal(created.created, true);
      assert.equal(created.version, 1n);
      assert.equal(created.data.length, 0);
    });

    it("set with the lock id writes and releases; keepLock keeps it", async () => {
      await client.set("app", "s1", "v1");
      const lock = await client.lock("app", "s1");
      assert.ok(lock.outcome === "ok");
      const kept = await client.set("app", "s1", "v2", { lockId: lock.lockId, keepLock: true });
      assert.deepEqual(kept, { outcome: "ok", version: 2n });
      assert.equal((await client.get("app", "s1")).outcome, "locked");
      await client.set("app", "s1", "v3", { lockId: lock.lockId });
      const read = await client.get("app", "s1");
      assert.ok(read.outcome === "ok");
      assert.equal(read.data.toString(), "v3");
      assert.equal(read.version, 3n);
    });

    it("conflicts throw StatewardError ABORTED with the server's reason", async () => {
      await client.set("app", "s1", "v1");
      const lock = await client.lock("app", "s1");
      assert.ok(lock.outcome === "ok");
      const other = await expectStatewardError(client.set("app", "s1", "x"), status.ABORTED, "LOCKED_BY_OTHER");
      assert.equal(other.operation, "set");
      assert.doesNotMatch(other.message, /s1/, "messages never carry session ids");
      await expectStatewardError(client.set("app", "s1", "x", { lockId: lock.lockId + 1000n }), status.ABORTED, ["STALE_LOCK_ID", "LOCKED_BY_OTHER"]);
      await client.release("app", "s1", lock.lockId);
      await expectStatewardError(client.set("app", "s1", "x", { lockId: lock.lockId }), status.ABORTED, "STALE_LOCK_ID");
      await expectStatewardError(client.set("app", "s1", "x", { expectedVersion: 7n }), status.ABORTED, "VERSION_MISMATCH");
      const ok = await client.set("app", "s1", "x", { expectedVersion: 1n });
      assert.deepEqual(ok, { outcome: "ok", version: 2n });
    });

    it("invalid input throws INVALID_ARGUMENT with its reason", async () => {
      const error = await expectStatewardError(client.get("app", ""), status.INVALID_ARGUMENT, "INVALID_FIELD");
      assert.ok(StatewardError.is(error));
      assert.equal(error.operation, "get");
    });

    it("a negative or non-finite uint32 option is refused before it is sent", async () => {
      await expectStatewardError(client.expire("app", "s1", { ttlSeconds: -1 }), status.INVALID_ARGUMENT, "INVALID_FIELD");
      await expectStatewardError(client.lock("app", "s1", { waitMs: Number.NaN }), status.INVALID_ARGUMENT, "INVALID_FIELD");
      await expectStatewardError(client.get("app", "s1", { waitMs: 2 ** 32 }), status.INVALID_ARGUMENT, "INVALID_FIELD");
    });

    it("set onlyIfAbsent: ok on a missing session, exists otherwise", async () => {
      assert.deepEqual(await client.set("app", "s1", "a", { onlyIfAbsent: true }), { outcome: "ok", version: 1n });
      assert.deepEqual(await client.set("app", "s1", "b", { onlyIfAbsent: true }), { outcome: "exists", version: 1n });
    });

    it("release: ok for the holder, not-held otherwise", async () => {
      await client.set("app", "s1", "v");
      const lock = await client.lock("app", "s1");
      assert.ok(lock.outcome === "ok");
      assert.deepEqual(await client.release("app", "s1", lock.lockId + 1n), { outcome: "not-held" });
      assert.deepEqual(await client.release("app", "s1", lock.lockId), { outcome: "ok" });
      assert.deepEqual(await client.release("app", "s1", lock.lockId), { outcome: "not-held" });
    });

    it("expire: ok with the new ttl, not-found creates nothing, data untouched", async () => {
      assert.deepEqual(await client.expire("app", "s1"), { outcome: "not-found" });
      await client.set("app", "s1", "v", { ttlSeconds: 100 });
      assert.deepEqual(await client.expire("app", "s1", { ttlSeconds: 300 }), { outcome: "ok", ttlSeconds: 300 });
      const read = await client.get("app", "s1");
      assert.ok(read.outcome === "ok");
      assert.equal(read.version, 1n);
      assert.equal(read.ttlSeconds, 300);
    });

    it("remove: a locked session needs the holder's lock id", async () => {
      await client.set("app", "s1", "v");
      const lock = await client.lock("app", "s1");
      assert.ok(lock.outcome === "ok");
      await expectStatewardError(client.remove("app", "s1"), status.ABORTED);
      assert.deepEqual(await client.remove("app", "s1", { lockId: lock.lockId }), { outcome: "ok" });
      assert.deepEqual(await client.remove("app", "s1"), { outcome: "not-found" });
    });

    it("a waiting lock is answered the moment the holder releases", async () => {
      await client.set("app", "s1", "v");
      const first = await client.lock("app", "s1");
      assert.ok(first.outcome === "ok");
      const waiting = client.lock("app", "s1", { waitMs: 10_000 });
      await waitFor(async () => (await server.store.counts()).waiters === 1, "one waiter");
      await client.set("app", "s1", "v2", { lockId: first.lockId });
      const second = await waiting;
      assert.equal(second.outcome, "ok");
      if (second.outcome !== "ok") return;
      assert.ok(second.lockId > first.lockId, "lock ids are increasing fencing tokens");
      assert.equal(second.data.toString(), "v2");
    });

    it("the deadline bounds a wait: locked shortly before it, or DEADLINE_EXCEEDED", async () => {
      await client.set("app", "s1", "v");
      assert.equal((await client.lock("app", "s1")).outcome, "ok");
      const started = Date.now();
      try {
        const answer = await client.lock("app", "s1", { waitMs: 60_000, timeoutMs: 300 });
        assert.equal(answer.outcome, "locked");
      } catch (error) {
        assert.ok(error instanceof StatewardError);
        assert.equal(error.code, status.DEADLINE_EXCEEDED);
      }
      assert.ok(Date.now() - started < 3000);
      await waitFor(async () => (await server.store.counts()).waiters === 0, "the waiter to leave the queue");
    });

    it("the client's default deadline applies to every call", async () => {
      const quick = connect({ defaultTimeoutMs: 200 });
      await quick.set("app", "s1", "v");
      assert.equal((await quick.lock("app", "s1")).outcome, "ok");
      // A waiting call gets its waitMs on top of the default deadline, so it is not cut short...
      const started = Date.now();
      const answer = await quick.lock("app", "s1", { waitMs: 400 });
      assert.equal(answer.outcome, "locked");
      assert.ok(Date.now() - started >= 350, "waited for its waitMs");
    });

    it("an aborted call fails with CANCELLED and leaves the queue", async () => {
      await client.set("app", "s1", "v");
      assert.equal((await client.lock("app", "s1")).outcome, "ok");
      const controller = new AbortController();
      const waiting = client.lock("app", "s1", { waitMs: 30_000, signal: controller.signal });
      await waitFor(async () => (await server.store.counts()).waiters === 1, "one waiter");
      controller.abort();
      await expectStatewardError(waiting, status.CANCELLED);
      await waitFor(async () => (await server.store.counts()).waiters === 0, "the waiter to leave the queue");
    });

    it("per-call metadata is accepted (and the call still works)", async () => {
      await client.set("app", "s1", "v", { metadata: { "x-tenant": "t1" } });
      const read = await client.get("app", "s1", { metadata: { "x-tenant": "t1" } });
      assert.equal(read.outcome, "ok");
    });

    it("a closed client rejects calls with CANCELLED / CLIENT_CLOSED", async () => {
      const closing = connect();
      closing.close();
      closing.close();
      await expectStatewardError(closing.get("app", "s1"), status.CANCELLED, "CLIENT_CLOSED");
    });

    it("an unreachable server fails with UNAVAILABLE (after bounded retries for get)", async () => {
      const address = server.address;
      await server.shutdown();
      const lonely = r().client({ address, transport, defaultTimeoutMs: 2000, retry: { maxAttempts: 2, initialBackoffMs: 10 } });
      await expectStatewardError(lonely.get("app", "s1"), status.UNAVAILABLE);
      await expectStatewardError(lonely.set("app", "s1", "v"), status.UNAVAILABLE);
    });

    it("tracing: one client span per operation, without session ids", async () => {
      const exporter = new InMemorySpanExporter();
      const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
      const traced = connect({ tracing: { tracerProvider } });
      await traced.set("app", "secret-session-id", "v");
      await traced.get("app", "secret-session-id");
      const spans = exporter.getFinishedSpans();
      assert.deepEqual(
        spans.map((span) => span.name),
        ["stateward.v1.SessionState/Set", "stateward.v1.SessionState/Get"],
      );
      assert.doesNotMatch(JSON.stringify(spans.map((span) => span.attributes)), /secret-session-id/);
      // The RPC conventions v1.45.0, as the server's spans: fully-qualified method, status by name.
      assert.deepEqual(
        spans.map((span) => span.attributes),
        ["Set", "Get"].map((method) => ({ "rpc.system.name": "grpc", "rpc.method": `stateward.v1.SessionState/${method}`, "rpc.status_code": "OK" })),
      );
      // A write under a lock id the session does not have is refused: every non-OK status is a client error.
      await expectStatewardError(traced.set("app", "secret-session-id", "w", { lockId: 12345n }), status.ABORTED);
      const refused = exporter.getFinishedSpans()[2];
      assert.deepEqual(refused?.attributes, {
        "rpc.system.name": "grpc",
        "rpc.method": "stateward.v1.SessionState/Set",
        "rpc.status_code": "ABORTED",
        "error.type": "ABORTED",
      });
      assert.deepEqual(refused.status, { code: SpanStatusCode.ERROR, message: "ABORTED" });
      await tracerProvider.shutdown();
    });

    it("ready() resolves once connected", async () => {
      await client.ready(2000);
    });
  });
}
