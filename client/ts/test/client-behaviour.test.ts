/**
 * The TypeScript SDK against the shared client behaviour spec (proto/client-behaviour.json,
 * docs/client-behaviour.md), which the Python and Go clients' tests check too: the exported
 * defaults, and what the SDK does on the wire — deadlines, lock waits, retries, reasons — seen by a
 * scripted fake server and by a real one.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import express, { type ErrorRequestHandler } from "express";
import {
  ClientReason,
  DEFAULT_ADDRESS,
  DEFAULT_CHANNEL_OPTIONS,
  DEFAULT_LOCK_WAIT_MS,
  DEFAULT_REQUEST_WAIT_MS,
  DEFAULT_RETRY,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WAITER_LIMIT_RETRY,
  ExpireResponse,
  GetResponse,
  LEGACY_REASON_TRAILER,
  LockResponse,
  Outcome,
  ReleaseResponse,
  RemoveResponse,
  SetResponse,
  StatewardError,
  retryServiceConfig,
  type LockRequest,
  type PipelineRequest,
  type PipelineResponse,
  type SessionStateServer,
} from "../src";
import { StatewardStore, statewardSession } from "../src/express";
import { assert, expectStatewardError, listenOnLoopback, startFakeServer, useResources, type FakeServer } from "./helpers";

/** The parts of proto/client-behaviour.json this suite reads. */
interface Spec {
  readonly address: { readonly default: string };
  readonly deadlines: { readonly default_timeout_ms: number; readonly waiting_call_adds_wait: boolean; readonly explicit_deadline_is_total: boolean };
  readonly lock_helper: {
    readonly default_wait_ms: number;
    readonly create: boolean;
    readonly lease_ms: number;
    readonly ttl_seconds: number;
    readonly wait_exhausted: { readonly code: keyof typeof status; readonly reason: string };
  };
  readonly waiter_limit_retry: {
    readonly on: { readonly code: keyof typeof status; readonly reason: string };
    readonly initial_backoff_ms: number;
    readonly max_backoff_ms: number;
    readonly backoff_multiplier: number;
  };
  readonly unavailable_retry: {
    readonly methods: readonly string[];
    readonly never: readonly string[];
    readonly codes: readonly string[];
    readonly max_attempts: number;
    readonly initial_backoff_ms: number;
    readonly max_backoff_ms: number;
    readonly backoff_multiplier: number;
  };
  readonly channel: {
    readonly keepalive_time_ms: number;
    readonly keepalive_timeout_ms: number;
    readonly keepalive_permit_without_calls: boolean;
    readonly initial_reconnect_backoff_ms: number;
    readonly max_reconnect_backoff_ms: number;
    readonly max_receive_message_bytes: number | null;
  };
  readonly client_checks: Record<"uint32_fields" | "unknown_outcome" | "closed_client", { readonly code: keyof typeof status; readonly reason: string; readonly max?: number }>;
  readonly client_reasons: readonly { readonly name: string; readonly code: keyof typeof status; readonly sdks: readonly string[] }[];
}

const SPEC = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "..", "proto", "client-behaviour.json"), "utf8")) as Spec;

/** What the fake server saw of one call. */
interface Seen {
  readonly method: string;
  /** The call's deadline in ms from when the server saw it (unary), or the operation's timeout_ms (pipeline). */
  readonly deadlineMs: number;
  readonly request: unknown;
}

/** How the fake answers: Locks refused with TOO_MANY_WAITERS, calls failing with UNAVAILABLE, a bad outcome. */
interface Script {
  readonly seen: Seen[];
  tooManyWaiters: number;
  unavailable: Record<string, number>;
  getOutcome: Outcome;
}

const newScript = (): Script => ({ seen: [], tooManyWaiters: 0, unavailable: {}, getOutcome: Outcome.OUTCOME_OK });

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return at - Date.now();
}

function lockAnswer(script: Script, request: LockRequest): { error?: grpc.ServerErrorResponse; response?: LockResponse } {
  // As the server: only a call that would wait can be refused for the queue.
  if (request.waitMs > 0 && script.tooManyWaiters > 0) {
    script.tooManyWaiters--;
    const metadata = new grpc.Metadata();
    metadata.set(LEGACY_REASON_TRAILER, SPEC.waiter_limit_retry.on.reason);
    return { error: Object.assign(new Error("queue full"), { code: status[SPEC.waiter_limit_retry.on.code], details: "queue full", metadata }) };
  }
  if (script.tooManyWaiters > 0) return { response: LockResponse.fromPartial({ outcome: Outcome.OUTCOME_LOCKED, lockId: 7n, lockAgeMs: 1 }) };
  return { response: LockResponse.fromPartial({ outcome: Outcome.OUTCOME_OK, lockId: 9n, version: 1n, leaseMs: 60_000, created: request.create }) };
}

/** A unary method that records the call and fails it with UNAVAILABLE while the script says so. */
function unary<Req, Res>(script: Script, method: string, answer: (request: Req) => Res): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    script.seen.push({ method, deadlineMs: deadlineOf(call), request: call.request });
    const failures = script.unavailable[method] ?? 0;
    if (failures > 0) {
      script.unavailable[method] = failures - 1;
      callback({ code: status.UNAVAILABLE, details: "scripted outage" });
      return;
    }
    callback(null, answer(call.request));
  };
}

function fakeImplementation(script: Script): SessionStateServer {
  return {
    get: unary(script, "Get", () => GetResponse.fromPartial({ outcome: script.getOutcome, data: Buffer.from("x"), version: 1n })),
    lock: (call, callback) => {
      script.seen.push({ method: "Lock", deadlineMs: deadlineOf(call), request: call.request });
      if ((script.unavailable.Lock ?? 0) > 0) {
        script.unavailable.Lock = (script.unavailable.Lock ?? 0) - 1;
        callback({ code: status.UNAVAILABLE, details: "scripted outage" });
        return;
      }
      const { error, response } = lockAnswer(script, call.request);
      if (error !== undefined) callback(error);
      else callback(null, response);
    },
    set: unary(script, "Set", () => SetResponse.fromPartial({ version: 2n, written: true })),
    release: unary(script, "Release", () => ReleaseResponse.fromPartial({ released: true })),
    expire: unary(script, "Expire", () => ExpireResponse.fromPartial({ found: true, ttlSeconds: 60 })),
    remove: unary(script, "Remove", () => RemoveResponse.fromPartial({ removed: true })),
    pipeline: (call) => {
      call.on("data", (request: PipelineRequest) => {
        const results: PipelineResponse["results"] = [];
        for (const operation of request.operations) {
          const value = operation.request;
          if (value === undefined) continue;
          script.seen.push({ method: `pipeline.${value.$case}`, deadlineMs: operation.timeoutMs, request: value.value });
          if (value.$case === "lock") {
            const { response } = lockAnswer(script, value.value);
            results.push({ id: operation.id, result: { $case: "lock", value: response ?? LockResponse.fromPartial({}) } });
          } else if (value.$case === "set") {
            results.push({ id: operation.id, result: { $case: "set", value: SetResponse.fromPartial({ version: 2n, written: true }) } });
          } else if (value.$case === "release") {
            results.push({ id: operation.id, result: { $case: "release", value: ReleaseResponse.fromPartial({ released: true }) } });
          } else {
            results.push({ id: operation.id, result: { $case: "get", value: GetResponse.fromPartial({ outcome: Outcome.OUTCOME_OK, version: 1n }) } });
          }
        }
        call.write({ results });
      });
      call.on("end", () => call.end());
    },
    watch: (call) => call.end(),
  };
}

function startFake(script: Script): Promise<FakeServer> {
  return startFakeServer(fakeImplementation(script));
}

/** Runs `body` with Math.random pinned (to take jitter out of a timing), then restores it. */
async function withRandom<T>(value: number, body: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = () => value;
  try {
    return await body();
  } finally {
    Math.random = original;
  }
}

/** Asserts a deadline seen by the server: at most `expected`, and not much less (the trip there). */
function assertDeadline(seen: Seen | undefined, expected: number, what: string): void {
  assert.ok(seen !== undefined, `${what}: not seen`);
  assert.ok(seen.deadlineMs <= expected + 5 && seen.deadlineMs > expected - 1_500, `${what}: deadline ${seen.deadlineMs} ms, expected about ${expected} ms`);
}

describe("client behaviour spec (proto/client-behaviour.json)", function () {
  const r = useResources();

  describe("exported defaults", function () {
    it("deadline, address and lock helper defaults", () => {
      assert.equal(DEFAULT_ADDRESS, SPEC.address.default);
      assert.equal(DEFAULT_TIMEOUT_MS, SPEC.deadlines.default_timeout_ms);
      assert.equal(DEFAULT_LOCK_WAIT_MS, SPEC.lock_helper.default_wait_ms);
      assert.equal(DEFAULT_REQUEST_WAIT_MS, SPEC.lock_helper.default_wait_ms, "the deprecated alias");
    });

    it("waiter-limit retry and UNAVAILABLE retry policies", () => {
      assert.deepEqual(DEFAULT_WAITER_LIMIT_RETRY, { initialBackoffMs: SPEC.waiter_limit_retry.initial_backoff_ms, maxBackoffMs: SPEC.waiter_limit_retry.max_backoff_ms });
      const retry = SPEC.unavailable_retry;
      assert.deepEqual(DEFAULT_RETRY, {
        maxAttempts: retry.max_attempts,
        initialBackoffMs: retry.initial_backoff_ms,
        maxBackoffMs: retry.max_backoff_ms,
        backoffMultiplier: retry.backoff_multiplier,
      });
      const config = JSON.parse(retryServiceConfig()) as {
        methodConfig: { name: { service: string; method: string }[]; retryPolicy: Record<string, unknown> }[];
      };
      assert.equal(config.methodConfig.length, 1);
      const [methods] = config.methodConfig;
      assert.deepEqual(methods?.name.map((name) => name.method), [...retry.methods]);
      assert.deepEqual(methods?.retryPolicy, {
        maxAttempts: retry.max_attempts,
        initialBackoff: `${(retry.initial_backoff_ms / 1000).toFixed(3)}s`,
        maxBackoff: `${(retry.max_backoff_ms / 1000).toFixed(3)}s`,
        backoffMultiplier: retry.backoff_multiplier,
        retryableStatusCodes: [...retry.codes],
      });
    });

    it("channel options: keepalive, reconnect backoff, receive limit", () => {
      const channel = SPEC.channel;
      assert.equal(DEFAULT_CHANNEL_OPTIONS["grpc.keepalive_time_ms"], channel.keepalive_time_ms);
      assert.equal(DEFAULT_CHANNEL_OPTIONS["grpc.keepalive_timeout_ms"], channel.keepalive_timeout_ms);
      assert.equal(DEFAULT_CHANNEL_OPTIONS["grpc.keepalive_permit_without_calls"], channel.keepalive_permit_without_calls ? 1 : 0);
      assert.equal(DEFAULT_CHANNEL_OPTIONS["grpc.initial_reconnect_backoff_ms"], channel.initial_reconnect_backoff_ms);
      assert.equal(DEFAULT_CHANNEL_OPTIONS["grpc.max_reconnect_backoff_ms"], channel.max_reconnect_backoff_ms);
      assert.equal(DEFAULT_CHANNEL_OPTIONS["grpc.max_receive_message_length"], channel.max_receive_message_bytes ?? -1);
    });

    it("the client's own reasons are the spec's", () => {
      const ours = SPEC.client_reasons.filter((reason) => reason.sdks.includes("ts"));
      assert.deepEqual(Object.keys(ClientReason).sort(), ours.map((reason) => reason.name).sort());
      for (const reason of ours) assert.equal((ClientReason as Record<string, string>)[reason.name], reason.name);
    });
  });

  describe("on the wire (a scripted fake server)", function () {
    let script: Script;
    let address: string;

    beforeEach(async () => {
      script = newScript();
      const fake = await startFake(script);
      r().defer(() => fake.close());
      address = fake.address;
    });

    for (const transport of ["unary", "pipeline"] as const) {
      it(`[${transport}] deadlines: the default, plus the wait for a waiting call; an explicit one is the whole deadline`, async () => {
        const client = r().client({ address, transport, retry: false });
        const method = (name: string): string => (transport === "unary" ? name : `pipeline.${name.toLowerCase()}`);
        await client.set("app", "s", "v");
        assertDeadline(script.seen.find((seen) => seen.method === method("Set")), SPEC.deadlines.default_timeout_ms, "Set");
        script.seen.length = 0;
        await client.lock("app", "s", { waitMs: 2_000 });
        assert.ok(SPEC.deadlines.waiting_call_adds_wait);
        assertDeadline(script.seen.find((seen) => seen.method === method("Lock")), SPEC.deadlines.default_timeout_ms + 2_000, "a waiting Lock");
        script.seen.length = 0;
        await client.lock("app", "s", { waitMs: 2_000, timeoutMs: 1_234 });
        assert.ok(SPEC.deadlines.explicit_deadline_is_total);
        assertDeadline(script.seen.find((seen) => seen.method === method("Lock")), 1_234, "a waiting Lock with its own timeoutMs");
      });

      it(`[${transport}] withLock without options: the spec's wait, create, server lease and ttl`, async () => {
        const client = r().client({ address, transport, retry: false });
        const result = await client.withLock("app", "s", () => "new");
        assert.equal(result.outcome, "ok");
        const lock = script.seen.find((seen) => seen.method === (transport === "unary" ? "Lock" : "pipeline.lock"));
        const request = lock?.request as LockRequest | undefined;
        assert.equal(request?.waitMs, SPEC.lock_helper.default_wait_ms);
        assert.equal(request.create, SPEC.lock_helper.create);
        assert.equal(request.leaseMs, SPEC.lock_helper.lease_ms);
        assert.equal(request.ttlSeconds, SPEC.lock_helper.ttl_seconds);
        assertDeadline(lock, SPEC.deadlines.default_timeout_ms + SPEC.lock_helper.default_wait_ms, "withLock's Lock");
      });
    }

    it("retries the idempotent calls on UNAVAILABLE up to max_attempts, never the others", async () => {
      const client = r().client({ address, transport: "unary" });
      const spec = SPEC.unavailable_retry;
      const calls: Record<string, () => Promise<unknown>> = {
        Get: () => client.get("app", "s"),
        Expire: () => client.expire("app", "s"),
        Release: () => client.release("app", "s", 1n),
        Lock: () => client.lock("app", "s"),
        Set: () => client.set("app", "s", "v"),
        Remove: () => client.remove("app", "s"),
      };
      for (const [method, call] of Object.entries(calls)) {
        script.seen.length = 0;
        script.unavailable[method] = 100;
        await expectStatewardError(call(), status.UNAVAILABLE);
        const expected = spec.methods.includes(method) ? spec.max_attempts : 1;
        assert.ok(spec.methods.includes(method) !== spec.never.includes(method), `${method} is in exactly one list`);
        assert.equal(script.seen.filter((seen) => seen.method === method).length, expected, `${method} attempts`);
        script.unavailable[method] = 0;
      }
    });

    it("retries TOO_MANY_WAITERS with backoffs from initial_backoff_ms, times backoff_multiplier, capped at max_backoff_ms", async () => {
      const client = r().client({ address, transport: "unary", retry: false });
      const spec = SPEC.waiter_limit_retry;
      // Eight refusals; with the jitter pinned at (nearly) its top, the delays are the backoffs.
      const refusals = 8;
      let expected = 0;
      let uncapped = 0;
      for (let n = 0, backoff = spec.initial_backoff_ms; n < refusals; n++, backoff *= spec.backoff_multiplier) {
        expected += Math.min(backoff, spec.max_backoff_ms);
        uncapped += backoff;
      }
      script.tooManyWaiters = refusals;
      const started = Date.now();
      const result = await withRandom(0.999, () => client.withLock("app", "s", () => "v"));
      const elapsed = Date.now() - started;
      assert.equal(result.outcome, "ok");
      assert.equal(script.seen.filter((seen) => seen.method === "Lock").length, refusals + 1);
      assert.ok(elapsed >= expected * 0.99, `retried after ${elapsed} ms in all; the backoffs add up to ${expected} ms`);
      assert.ok(elapsed < uncapped, `retried after ${elapsed} ms in all: the cap of ${spec.max_backoff_ms} ms was not applied (${uncapped} ms)`);
      // Each retry waits only what is left of the one budget.
      const waits = script.seen.filter((seen) => seen.method === "Lock").map((seen) => (seen.request as LockRequest).waitMs);
      assert.ok(waits.every((wait, i) => i === 0 || wait <= (waits[i - 1] ?? 0)), `waits ${waits.join(", ")}`);
      assert.ok((waits[0] ?? 0) <= SPEC.lock_helper.default_wait_ms);
    });

    it("a queue that stays full for the whole wait ends as the wait's end does, within the wait", async () => {
      const client = r().client({ address, transport: "unary", retry: false });
      script.tooManyWaiters = 1_000;
      const started = Date.now();
      const result = await client.withLock("app", "s", () => "never", { waitMs: 300 });
      const elapsed = Date.now() - started;
      assert.equal(result.outcome, "locked");
      const last = script.seen.filter((seen) => seen.method === "Lock").at(-1);
      assert.equal((last?.request as LockRequest | undefined)?.waitMs, 0, "the last look does not wait");
      assert.ok(elapsed < 300 + 1_000, `took ${elapsed} ms for a wait of 300 ms`);
    });

    it("an unknown outcome is an error, not a guess", async () => {
      const client = r().client({ address, transport: "unary", retry: false });
      script.getOutcome = Outcome.OUTCOME_UNSPECIFIED;
      const check = SPEC.client_checks.unknown_outcome;
      await expectStatewardError(client.get("app", "s"), status[check.code], check.reason);
    });
  });

  describe("on the client", function () {
    it("a value the wire cannot carry is refused before sending, naming the field", async () => {
      const client = r().client({ address: "127.0.0.1:1", transport: "unary", retry: false });
      const check = SPEC.client_checks.uint32_fields;
      const max = check.max ?? Number.NaN;
      const error = await expectStatewardError(client.get("app", "s", { waitMs: -1 }), status[check.code], check.reason);
      assert.deepEqual(error.metadata, { field: "wait_ms", limit: String(max) });
      await expectStatewardError(client.lock("app", "s", { leaseMs: max + 1 }), status[check.code], check.reason);
    });

    it("a closed client refuses calls", async () => {
      const client = r().client({ address: "127.0.0.1:1" });
      client.close();
      const check = SPEC.client_checks.closed_client;
      await expectStatewardError(client.get("app", "s"), status[check.code], check.reason);
    });
  });

  describe("against a real server", function () {
    it("withLock: a lock held for the whole wait is the outcome locked; a missing session is created", async () => {
      const server = await r().server();
      const client = r().client({ address: server.address });
      const created = await client.withLock("app", "new", (data, context) => {
        assert.equal(context.created, SPEC.lock_helper.create);
        return Buffer.concat([data, Buffer.from("!")]);
      });
      assert.ok(created.outcome === "ok" && created.written);
      const holder = await client.lock("app", "new");
      assert.ok(holder.outcome === "ok");
      const result = await client.withLock("app", "new", () => "never", { waitMs: 200 });
      assert.equal(result.outcome, "locked");
    });

    it("the Express store: a lock held for the whole wait fails the request with the spec's code and reason", async () => {
      const server = await r().server();
      const client = r().client({ address: server.address });
      const store = new StatewardStore({ client, app: "web", waitMs: 200 });
      const app = express();
      app.use(statewardSession({ store, secret: "test-secret-not-for-production", resave: false, saveUninitialized: true, busyResponse: false }));
      app.post("/touch", (req, res) => {
        req.session.touched = Date.now();
        res.json({ sid: req.sessionID });
      });
      const reportError: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
        res.status(500).json(StatewardError.is(error) ? { code: error.code, reason: error.reason } : { error: String(error) });
      };
      app.use(reportError);
      const listening = await listenOnLoopback(app);
      r().defer(() => listening.close());
      const first = await fetch(`${listening.url}/touch`, { method: "POST" });
      const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const { sid } = (await first.json()) as { sid: string };
      const holder = await client.lock("web", sid);
      assert.ok(holder.outcome === "ok");
      const response = await fetch(`${listening.url}/touch`, { method: "POST", headers: { cookie } });
      const expected = SPEC.lock_helper.wait_exhausted;
      assert.deepEqual(await response.json(), { code: status[expected.code], reason: expected.reason });
      await client.release("web", sid, holder.lockId);
    });
  });
});

declare module "express-session" {
  interface SessionData {
    touched?: number;
  }
}
