/**
 * Traces: a span per operation named stateward.v1.SessionState/<Method> with the rpc.* attributes
 * of the semantic conventions 1.45, the outcome, lock wait, lease expiry and payload size; client →
 * server parent/child links over unary calls and per pipelined operation; never a session id in any
 * span, and an invalid app name never as sent.
 */
import * as assert from "node:assert/strict";
import { context, trace, SpanKind, SpanStatusCode, type Context } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import {
  createPipelineTracing,
  createTracingInterceptor,
  GetRequest,
  LockRequest,
  Outcome,
  PipelineClient,
  SetRequest,
  type SessionStateClient,
} from "../../client/ts/src";
import { FakeClock } from "../src/store/fake-clock";
import { sessionHash } from "../src/telemetry/operation-telemetry";
import {
  memoryTracing,
  propagator,
  spanStrings,
  startObservedServer,
  total,
  unary,
  useContextManager,
  type MemoryTracing,
  type ObservedServer,
} from "./helpers/telemetry-test-kit";
import { grpc, waitFor, FAKE_START_MS } from "./helpers/test-server";

/** A session id that must never show up in telemetry. */
const SECRET_ID = "sid-SECRET-7f3a9c1e";
const APP = "shop";

function serverSpans(s: ObservedServer, method?: string): ReadableSpan[] {
  return s.tracing.spans().filter((span) => span.kind === SpanKind.SERVER && (method === undefined || span.name === `stateward.v1.SessionState/${method}`));
}

function parentId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

function assertNoSessionId(spans: readonly ReadableSpan[], id: string): void {
  assert.ok(spans.length > 0, "there are spans to check");
  for (const span of spans) assert.ok(!spanStrings(span).includes(id), `span ${span.name} mentions the session id: ${spanStrings(span)}`);
}

describe("telemetry: traces", function () {
  useContextManager();
  let s: ObservedServer | undefined;
  let clientTracing: MemoryTracing;
  const server = (): ObservedServer => {
    assert.ok(s !== undefined);
    return s;
  };
  const tracedClient = (): SessionStateClient =>
    server().client({ interceptors: [createTracingInterceptor({ tracerProvider: clientTracing.provider, propagator })] });

  beforeEach(() => {
    clientTracing = memoryTracing();
  });
  afterEach(async () => {
    await s?.close();
    s = undefined;
    await clientTracing.provider.shutdown();
  });

  it("makes each unary call a server span, child of the client span, child of the web request", async () => {
    s = await startObservedServer();
    const client = tracedClient();
    const web = clientTracing.provider.getTracer("web").startSpan("GET /cart", { kind: SpanKind.SERVER });
    const webContext: Context = trace.setSpan(context.active(), web);
    await context.with(webContext, async () => {
      await unary(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: SECRET_ID, data: Buffer.from("hello") }));
      const got = await unary(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: SECRET_ID }));
      assert.equal(got.outcome, Outcome.OUTCOME_OK);
      await unary(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "nobody" }));
    });
    web.end();

    const clientSpans = clientTracing.spans().filter((span) => span.kind === SpanKind.CLIENT);
    assert.deepEqual(
      clientSpans.map((span) => span.name),
      ["stateward.v1.SessionState/Set", "stateward.v1.SessionState/Get", "stateward.v1.SessionState/Get"],
    );
    const spans = serverSpans(server());
    assert.equal(spans.length, 3);
    for (const [i, span] of spans.entries()) {
      const clientSpan = clientSpans[i] as ReadableSpan;
      assert.equal(span.name, clientSpan.name);
      assert.equal(span.spanContext().traceId, web.spanContext().traceId, "same trace as the web request");
      assert.equal(parentId(span), clientSpan.spanContext().spanId, "server span is the client span's child");
      assert.equal(parentId(clientSpan), web.spanContext().spanId, "client span is the web request's child");
      assert.equal(span.attributes["rpc.system.name"], "grpc");
      assert.equal(span.attributes["rpc.method"], span.name, "the fully-qualified method, as the span name");
      assert.equal(span.attributes["rpc.status_code"], "OK");
      for (const old of ["rpc.system", "rpc.service", "rpc.grpc.status_code"]) assert.equal(span.attributes[old], undefined, old);
      assert.equal(span.attributes["error.type"], undefined);
      assert.equal(span.attributes["stateward.transport"], "unary");
      assert.equal(span.attributes["stateward.app"], APP);
      // The client follows the same version of the conventions as the server.
      assert.deepEqual(clientSpan.attributes, { "rpc.system.name": "grpc", "rpc.method": span.name, "rpc.status_code": "OK" });
    }
    const [set, hit, miss] = spans as [ReadableSpan, ReadableSpan, ReadableSpan];
    assert.equal(set.attributes["rpc.method"], "stateward.v1.SessionState/Set");
    assert.equal(set.attributes["stateward.outcome"], "written");
    assert.equal(set.attributes["stateward.payload.size"], 5);
    assert.equal(set.attributes["stateward.lease_expired"], false);
    assert.equal(hit.attributes["stateward.outcome"], "ok");
    assert.equal(hit.attributes["stateward.payload.size"], 5);
    assert.equal(hit.attributes["stateward.lock.wait_ms"], 0);
    assert.equal(miss.attributes["stateward.outcome"], "not_found");
    assertNoSessionId([...spans, ...clientTracing.spans()], SECRET_ID);
  });

  it("records the lock wait of a queued Lock, and a lease that ran out, with their statuses", async () => {
    const clock = new FakeClock(FAKE_START_MS);
    s = await startObservedServer([], { clock });
    const client = tracedClient();
    const first = await unary(client, client.lock, LockRequest.fromPartial({ app: APP, sessionId: SECRET_ID, create: true, leaseMs: 60_000 }));
    const waiting = unary(client, client.lock, LockRequest.fromPartial({ app: APP, sessionId: SECRET_ID, waitMs: 10_000, leaseMs: 1000 }));
    await waitFor(async () => (await server().server.store.counts()).waiters === 1, "one waiter");
    await new Promise((resolve) => setTimeout(resolve, 20)); // a measurable wait
    await unary(client, client.release, { app: APP, sessionId: SECRET_ID, lockId: first.lockId });
    const second = await waiting;
    assert.equal(second.outcome, Outcome.OUTCOME_OK);
    // The second holder's lease ends; its late Set is refused with LEASE_EXPIRED.
    clock.advance(2000);
    await assert.rejects(
      unary(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: SECRET_ID, lockId: second.lockId, data: Buffer.from("late") })),
      (error: grpc.ServiceError) => error.code === grpc.status.ABORTED,
    );

    const locks = serverSpans(server(), "Lock");
    assert.equal(locks.length, 2);
    const [immediate, queued] = locks as [ReadableSpan, ReadableSpan];
    assert.equal(immediate.attributes["stateward.lock.wait_ms"], 0);
    assert.ok((queued.attributes["stateward.lock.wait_ms"] as number) >= 15, `wait ${String(queued.attributes["stateward.lock.wait_ms"])} ms`);
    assert.equal(queued.attributes["stateward.outcome"], "ok");
    const [late] = serverSpans(server(), "Set") as [ReadableSpan];
    assert.equal(late.attributes["rpc.status_code"], "ABORTED");
    assert.equal(late.attributes["error.type"], undefined, "a refusal is not a server error");
    assert.equal(late.attributes["stateward.outcome"], "error");
    assert.equal(late.attributes["stateward.reason"], "LEASE_EXPIRED");
    assert.equal(late.attributes["stateward.lease_expired"], true);
    assert.equal(late.attributes["stateward.payload.size"], 4);
    const clientSet = clientTracing.spans().find((span) => span.name.endsWith("/Set"));
    // For a gRPC client every non-OK status is an error: error.type and span status ERROR.
    assert.deepEqual(clientSet?.attributes, {
      "rpc.system.name": "grpc",
      "rpc.method": "stateward.v1.SessionState/Set",
      "rpc.status_code": "ABORTED",
      "error.type": "ABORTED",
    });
    assert.deepEqual(clientSet.status, { code: SpanStatusCode.ERROR, message: "ABORTED" });
    assertNoSessionId([...server().tracing.spans(), ...clientTracing.spans()], SECRET_ID);
  });

  it("gives every pipelined operation its own span, child of the operation's client span", async () => {
    s = await startObservedServer();
    const pipeline = new PipelineClient(server().server.address, grpc.credentials.createInsecure(), {
      operationHook: createPipelineTracing({ tracerProvider: clientTracing.provider, propagator }),
    });
    server().closables.push(pipeline);
    const tracer = clientTracing.provider.getTracer("web");
    const requests = ["a", "b"].map((name) => tracer.startSpan(`GET /${name}`, { kind: SpanKind.SERVER }));
    // Two "web requests" issue operations in the same tick: they travel in one batch.
    await Promise.all(
      requests.map((web, i) =>
        context.with(trace.setSpan(context.active(), web), () =>
          Promise.all([
            pipeline.set(SetRequest.fromPartial({ app: APP, sessionId: `${SECRET_ID}-${i}`, data: Buffer.from("xy") })),
            pipeline.get(GetRequest.fromPartial({ app: APP, sessionId: `${SECRET_ID}-${i}` })),
          ]),
        ),
      ),
    );
    for (const web of requests) web.end();

    const spans = serverSpans(server());
    assert.equal(spans.length, 4);
    const clientSpans = clientTracing.spans().filter((span) => span.kind === SpanKind.CLIENT);
    assert.equal(clientSpans.length, 4);
    for (const span of spans) {
      assert.equal(span.attributes["stateward.transport"], "pipeline");
      assert.equal(span.attributes["rpc.status_code"], "OK");
      const parent = clientSpans.find((candidate) => candidate.spanContext().spanId === parentId(span));
      assert.ok(parent !== undefined, `the parent of ${span.name} is a client span`);
      assert.equal(parent.name, span.name);
      assert.deepEqual(parent.attributes, { "rpc.system.name": "grpc", "rpc.method": span.name, "rpc.status_code": "OK" });
      const web = requests.find((candidate) => candidate.spanContext().spanId === parentId(parent));
      assert.ok(web !== undefined, "the client span is a web request's child");
      assert.equal(span.spanContext().traceId, web.spanContext().traceId);
    }
    assert.deepEqual(new Set(spans.map((span) => span.attributes["rpc.method"])), new Set(["stateward.v1.SessionState/Set", "stateward.v1.SessionState/Get"]));
    assertNoSessionId([...spans, ...clientSpans], SECRET_ID);
  });

  it("adds a keyed hash of the session only when a key is configured", async () => {
    const key = "correlation-key-0123456789";
    s = await startObservedServer(["--session-hash-key", key]);
    const client = tracedClient();
    await unary(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: SECRET_ID, data: Buffer.from("x") }));
    await unary(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: SECRET_ID }));
    const spans = serverSpans(server());
    const expected = sessionHash(key, APP, SECRET_ID);
    assert.match(expected, /^[0-9a-f]{32}$/);
    for (const span of spans) assert.equal(span.attributes["stateward.session.hash"], expected);
    assert.notEqual(sessionHash("another-key-0123456789", APP, SECRET_ID), expected);
    assertNoSessionId(spans, SECRET_ID);
    await s.close();
    // Without a key: no hash at all.
    s = await startObservedServer();
    const plain = tracedClient();
    await unary(plain, plain.get, GetRequest.fromPartial({ app: APP, sessionId: SECRET_ID }));
    await waitFor(() => serverSpans(server()).length === 1, "one server span");
    assert.equal(serverSpans(server())[0]?.attributes["stateward.session.hash"], undefined);
  });

  it("ends the span of a queued call whose caller went away as cancelled", async () => {
    s = await startObservedServer();
    const client = tracedClient();
    await unary(client, client.lock, LockRequest.fromPartial({ app: APP, sessionId: SECRET_ID, create: true }));
    const call = client.lock(LockRequest.fromPartial({ app: APP, sessionId: SECRET_ID, waitMs: 10_000 }), () => undefined);
    await waitFor(async () => (await server().server.store.counts()).waiters === 1, "one waiter");
    call.cancel();
    await waitFor(() => serverSpans(server(), "Lock").length === 2, "the cancelled Lock's span");
    const cancelled = serverSpans(server(), "Lock")[1];
    assert.equal(cancelled?.attributes["stateward.outcome"], "cancelled");
    assert.equal(cancelled?.attributes["rpc.status_code"], "CANCELLED");
  });

  it("records an app name that fails validation as (invalid), never as sent, unary and pipelined", async () => {
    s = await startObservedServer();
    const client = tracedClient();
    const pipeline = new PipelineClient(server().server.address, grpc.credentials.createInsecure());
    server().closables.push(pipeline);
    const badBytes = "shop\u0000\n<script>\u00e9";
    const tooLong = "a".repeat(129);
    for (const app of [badBytes, tooLong]) {
      await assert.rejects(unary(client, client.get, GetRequest.fromPartial({ app, sessionId: SECRET_ID })), (error: grpc.ServiceError) => error.code === grpc.status.INVALID_ARGUMENT);
      await assert.rejects(pipeline.set(SetRequest.fromPartial({ app, sessionId: SECRET_ID, data: Buffer.from("x") })));
    }
    // The longest valid name is kept as it is.
    const longest = "b".repeat(128);
    await unary(client, client.get, GetRequest.fromPartial({ app: longest, sessionId: SECRET_ID }));
    await waitFor(() => serverSpans(server()).length === 5, "five server spans");
    const spans = serverSpans(server());
    const apps = spans.map((span) => span.attributes["stateward.app"]);
    assert.deepEqual(apps, ["(invalid)", "(invalid)", "(invalid)", "(invalid)", longest]);
    for (const span of spans.slice(0, 4)) {
      assert.equal(span.attributes["rpc.status_code"], "INVALID_ARGUMENT");
      assert.ok(!spanStrings(span).includes("<script>") && !spanStrings(span).includes(tooLong), spanStrings(span));
    }
    assertNoSessionId(spans, SECRET_ID);
  });
});

/**
 * Over a backend that answers on a later tick, every answer comes after the handler returned: what
 * telemetry records as "waited" must be what the backend said (its `waiting()`), not a guess from
 * the timing (issue 11).
 */
describe("telemetry: asynchronous backend", function () {
  let s: ObservedServer | undefined;
  const server = (): ObservedServer => {
    assert.ok(s !== undefined);
    return s;
  };
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it("records Gets and Locks that did not wait as waited=false, and a Lock queued behind a holder as waited=true, over unary and the pipeline", async () => {
    s = await startObservedServer([], { backend: "deferred" });
    const client = s.client();
    const pipeline = new PipelineClient(s.server.address, grpc.credentials.createInsecure());
    s.closables.push(pipeline);
    const transports = [
      {
        name: "unary",
        get: (request: GetRequest) => unary(client, client.get, request),
        lock: (request: LockRequest) => unary(client, client.lock, request),
        release: (lockId: bigint, sessionId: string) => unary(client, client.release, { app: APP, sessionId, lockId }),
      },
      {
        name: "pipeline",
        get: (request: GetRequest) => pipeline.get(request),
        lock: (request: LockRequest) => pipeline.lock(request),
        release: (lockId: bigint, sessionId: string) => pipeline.release({ app: APP, sessionId, lockId }),
      },
    ] as const;
    for (const t of transports) {
      const sessionId = `${SECRET_ID}-${t.name}`;
      await unary(client, client.set, SetRequest.fromPartial({ app: APP, sessionId, data: Buffer.from("hello") }));
      // Get on an unlocked session, with and without a wait: neither waits.
      assert.equal((await t.get(GetRequest.fromPartial({ app: APP, sessionId }))).outcome, Outcome.OUTCOME_OK);
      assert.equal((await t.get(GetRequest.fromPartial({ app: APP, sessionId, waitMs: 10_000 }))).outcome, Outcome.OUTCOME_OK);
      // A Lock taken at once, a Get and a Lock answered LOCKED at once (no wait asked): none waits.
      const first = await t.lock(LockRequest.fromPartial({ app: APP, sessionId, leaseMs: 60_000 }));
      assert.equal(first.outcome, Outcome.OUTCOME_OK);
      assert.equal((await t.get(GetRequest.fromPartial({ app: APP, sessionId }))).outcome, Outcome.OUTCOME_LOCKED);
      assert.equal((await t.lock(LockRequest.fromPartial({ app: APP, sessionId }))).outcome, Outcome.OUTCOME_LOCKED);
      // A Lock queued behind the holder waits.
      const queued = t.lock(LockRequest.fromPartial({ app: APP, sessionId, waitMs: 10_000, leaseMs: 1000 }));
      await waitFor(async () => (await server().server.store.counts()).waiters === 1, "the Lock to queue");
      await t.release(first.lockId, sessionId);
      const second = await queued;
      assert.equal(second.outcome, Outcome.OUTCOME_OK);
      await t.release(second.lockId, sessionId);
    }

    await waitFor(() => serverSpans(server(), "Lock").length === 6, "every Lock span");
    for (const transport of ["unary", "pipeline"]) {
      const ofTransport = (method: string): ReadableSpan[] => serverSpans(server(), method).filter((span) => span.attributes["stateward.transport"] === transport);
      const gets = ofTransport("Get");
      assert.equal(gets.length, 3, transport);
      for (const span of gets) assert.equal(span.attributes["stateward.lock.wait_ms"], 0, `${transport}: a Get that did not wait (${String(span.attributes["stateward.outcome"])})`);
      const locks = ofTransport("Lock");
      assert.equal(locks.length, 3, transport);
      const waited = locks.filter((span) => (span.attributes["stateward.lock.wait_ms"] as number) > 0);
      assert.equal(waited.length, 1, `${transport}: only the queued Lock waited`);
      assert.equal(waited[0]?.attributes["stateward.outcome"], "ok");
      for (const span of locks) if (span !== waited[0]) assert.equal(span.attributes["stateward.lock.wait_ms"], 0);
    }
    const collected = await server().reader.metrics();
    assert.equal(total(collected, "stateward.lock.wait.duration", { "rpc.method": "stateward.v1.SessionState/Get" }), 0, "no Get is a lock wait");
    assert.equal(total(collected, "stateward.lock.wait.duration", { "rpc.method": "stateward.v1.SessionState/Lock", "stateward.transport": "unary" }), 1);
    assert.equal(total(collected, "stateward.lock.wait.duration", { "rpc.method": "stateward.v1.SessionState/Lock", "stateward.transport": "pipeline" }), 1);
    assert.equal(total(collected, "stateward.lock.wait.duration"), 2);
  });
});
