/**
 * The server's per-session waiter limit (`--max-waiters`, default 50, ASP.NET's queue limit) and
 * the SDK: more concurrent lockers than queue places must all get their turn (TOO_MANY_WAITERS is
 * retried with backoff within the caller's wait budget), and the Express middleware answers 503
 * with Retry-After when that budget runs out.
 */
import { status } from "@grpc/grpc-js";
import express, { type ErrorRequestHandler } from "express";
import type { StartedServer } from "../../../server/src/index";
import { StatewardError, withLock, type SessionClient, type SessionOperations } from "../src";
import { StatewardStore, statewardSession, type StatewardSessionOptions, type StatewardStoreSettings } from "../src/express";
import { assert, listenOnLoopback, expectStatewardError, useResources, waitFor } from "./helpers";

declare module "express-session" {
  interface SessionData {
    counter?: number;
  }
}

const SECRET = "test-secret-not-for-production";
/** More concurrent lockers than the server's default `--max-waiters` (50) has queue places. */
const LOCKERS = 64;

/** Reads a counter session written by the tests below. */
async function counterOf(client: SessionClient, app: string, sessionId: string): Promise<number> {
  const read = await client.get(app, sessionId);
  assert.ok(read.outcome === "ok", `outcome ${read.outcome}`);
  return Number(read.data.toString());
}

/** An Express app on 127.0.0.1:0: POST /inc increments `counter` after a little async work. */
async function startApp(
  store: StatewardStore,
  options: Partial<StatewardSessionOptions> = {},
): Promise<{ url: string; errors: string[]; close(): Promise<void> }> {
  const errors: string[] = [];
  const app = express();
  app.use(statewardSession({ store, secret: SECRET, resave: false, saveUninitialized: false, ...options }));
  app.post("/inc", async (req, res) => {
    const counter = req.session.counter ?? 0;
    // The handler's own I/O between reading and writing the session.
    await new Promise((resolve) => setImmediate(resolve));
    req.session.counter = counter + 1;
    res.json({ counter: req.session.counter });
  });
  const onError: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
    const reason = StatewardError.is(error) ? error.reason : String(error);
    errors.push(reason);
    if (!res.headersSent) res.status(500).json({ reason });
  };
  app.use(onError);
  return { ...(await listenOnLoopback(app)), errors };
}

describe("waiter limit: TOO_MANY_WAITERS is retried within the wait budget", function () {
  this.timeout(20_000);
  const r = useResources();

  /**
   * A server with `--max-waiters 1`, session "s" locked by `holder` and its only queue place taken
   * by a waiting Lock; `drain` releases the holder and then the waiter's lock.
   */
  async function fullQueue(): Promise<{ c: SessionClient; holder: { lockId: bigint }; drain(): Promise<void> }> {
    const tight = await r().server(["--max-waiters", "1"]);
    const c = r().client({ address: tight.address });
    const holder = await c.lock("app", "s", { create: true });
    assert.ok(holder.outcome === "ok");
    const queued = c.lock("app", "s", { waitMs: 5_000 });
    await waitFor(async () => (await tight.store.counts()).waiters === 1, "the queue to be full");
    return {
      c,
      holder,
      async drain() {
        await c.release("app", "s", holder.lockId);
        const next = await queued;
        if (next.outcome === "ok") await c.release("app", "s", next.lockId);
      },
    };
  }

  describe("withLock and beginRequest", function () {
    let server: StartedServer;
    let client: SessionClient;

    beforeEach(async () => {
      // Default flags: --max-waiters 50.
      server = await r().server();
      client = r().client({ address: server.address });
    });

    it(`${LOCKERS} concurrent withLock calls on one session all succeed (counter ends at ${LOCKERS})`, async () => {
      await client.set("app", "counter", "0");
      const results = await Promise.allSettled(
        Array.from({ length: LOCKERS }, () => client.withLock("app", "counter", (data) => String(Number(data.toString()) + 1))),
      );
      const failures = results.filter((result) => result.status === "rejected").map((result) => String(result.reason));
      assert.equal(failures.length, 0, `${failures.length} of ${LOCKERS} withLock calls failed, e.g. ${failures[0]}`);
      assert.ok(results.every((result) => result.status === "fulfilled" && result.value.outcome === "ok"));
      assert.equal(await counterOf(client, "app", "counter"), LOCKERS);
      await waitFor(async () => (await server.store.counts()).waiters === 0, "no waiters left");
    });

    it(`${LOCKERS} concurrent beginRequest/endRequest writers on one session all succeed`, async () => {
      await client.set("app", "counter", "0");
      const results = await Promise.allSettled(
        Array.from({ length: LOCKERS }, async () => {
          const request = await client.beginRequest("app", "counter", { readOnly: false });
          assert.ok(request.outcome === "ok", `outcome ${request.outcome}`);
          await client.endRequest(request, { data: String(Number(request.data.toString()) + 1) });
        }),
      );
      const failures = results.filter((result) => result.status === "rejected").map((result) => String(result.reason));
      assert.equal(failures.length, 0, `${failures.length} of ${LOCKERS} requests failed, e.g. ${failures[0]}`);
      assert.equal(await counterOf(client, "app", "counter"), LOCKERS);
    });

    it("never waits longer than waitMs in all: a full queue for the whole budget ends as locked", async () => {
      // The only queue place is taken for longer than the budget below.
      const { c, holder, drain } = await fullQueue();
      const started = Date.now();
      const result = await c.withLock("app", "s", () => "never", { waitMs: 300, waiterLimitRetry: { initialBackoffMs: 5, maxBackoffMs: 50 } });
      const elapsed = Date.now() - started;
      assert.equal(result.outcome, "locked");
      if (result.outcome === "locked") assert.equal(result.lockId, holder.lockId);
      assert.ok(elapsed >= 250, `gave up after ${elapsed} ms, before the budget of 300 ms ran out`);
      assert.ok(elapsed < 1_000, `took ${elapsed} ms for a budget of 300 ms`);
      await drain();
    });

    it("waiterLimitRetry: false passes TOO_MANY_WAITERS straight through", async () => {
      const { c, drain } = await fullQueue();
      await expectStatewardError(c.withLock("app", "s", () => "never", { waiterLimitRetry: false }), status.RESOURCE_EXHAUSTED, "TOO_MANY_WAITERS");
      await expectStatewardError(c.beginRequest("app", "s", { readOnly: false, waiterLimitRetry: false }), status.RESOURCE_EXHAUSTED, "TOO_MANY_WAITERS");
      await drain();
    });

    it("an abort during the backoff rejects with CANCELLED at once", async () => {
      const { c, drain } = await fullQueue();
      // Counts the Lock attempts the server refused, to know when the backoff has begun.
      let refused = 0;
      const counting: SessionOperations = {
        get: c.get.bind(c),
        lock: (app, sessionId, options) =>
          c.lock(app, sessionId, options).catch((error: unknown) => {
            refused++;
            throw error;
          }),
        set: c.set.bind(c),
        release: c.release.bind(c),
        expire: c.expire.bind(c),
        remove: c.remove.bind(c),
      };
      const controller = new AbortController();
      // Long backoffs: the abort lands in the first one.
      const pending = withLock(counting, "app", "s", () => "never", {
        waitMs: 5_000,
        signal: controller.signal,
        waiterLimitRetry: { initialBackoffMs: 2_000, maxBackoffMs: 2_000 },
      });
      await waitFor(() => refused === 1, "the first attempt to be refused");
      const started = Date.now();
      controller.abort();
      await expectStatewardError(pending, status.CANCELLED);
      assert.ok(Date.now() - started < 500);
      await drain();
    });
  });

  describe("Express", function () {
    it(`${LOCKERS} concurrent requests of one user on a default server all succeed (counter ends at ${LOCKERS})`, async () => {
      const server = await r().server();
      const client = r().client({ address: server.address });
      const store = new StatewardStore({ client, app: "web" });
      const app = await startApp(store);
      r().defer(() => app.close());
      const first = await fetch(`${app.url}/inc`, { method: "POST" });
      assert.equal(first.status, 200);
      const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const responses = await Promise.all(Array.from({ length: LOCKERS }, () => fetch(`${app.url}/inc`, { method: "POST", headers: { cookie } })));
      const statuses = await Promise.all(responses.map(async (response) => `${response.status} ${await response.text()}`));
      const failed = statuses.filter((line) => !line.startsWith("200 "));
      assert.equal(failed.length, 0, `${failed.length} of ${LOCKERS} requests failed, e.g. ${failed[0]}`);
      const sid = decodeURIComponent(cookie.slice("connect.sid=".length)).slice(2).split(".")[0] ?? "";
      const stored = await client.get("web", sid);
      assert.ok(stored.outcome === "ok");
      assert.equal((JSON.parse(stored.data.toString()) as { counter: number }).counter, LOCKERS + 1);
      assert.deepEqual(app.errors, []);
    });

    /** A session whose lock is held and whose only queue place (`--max-waiters 1`) is taken. */
    async function busySession(storeOptions: Partial<StatewardStoreSettings>, middleware: Partial<StatewardSessionOptions> = {}) {
      const server = await r().server(["--max-waiters", "1"]);
      const client = r().client({ address: server.address });
      const store = new StatewardStore({ client, app: "web", ...storeOptions });
      const app = await startApp(store, middleware);
      r().defer(() => app.close());
      const first = await fetch(`${app.url}/inc`, { method: "POST" });
      const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const sid = decodeURIComponent(cookie.slice("connect.sid=".length)).slice(2).split(".")[0] ?? "";
      const holder = await client.lock("web", sid);
      assert.ok(holder.outcome === "ok");
      const queued = client.lock("web", sid, { waitMs: 10_000 });
      await waitFor(async () => (await server.store.counts()).waiters === 1, "the queue to be full");
      r().defer(async () => {
        await client.release("web", sid, holder.lockId);
        const next = await queued;
        if (next.outcome === "ok") await client.release("web", sid, next.lockId);
      });
      return { app, cookie };
    }

    it("answers 503 with Retry-After when the wait budget runs out on a full queue", async () => {
      const { app, cookie } = await busySession({ waitMs: 300, waiterLimitRetry: { initialBackoffMs: 5, maxBackoffMs: 50 } });
      const started = Date.now();
      const response = await fetch(`${app.url}/inc`, { method: "POST", headers: { cookie } });
      const elapsed = Date.now() - started;
      assert.equal(response.status, 503, await response.text());
      assert.equal(response.headers.get("retry-after"), "1");
      assert.ok(elapsed >= 250 && elapsed < 1_500, `answered after ${elapsed} ms for a budget of 300 ms`);
      assert.deepEqual(app.errors, [], "answered by the middleware, not the app's error handler");
    });

    it("answers 503 with Retry-After at once for TOO_MANY_WAITERS when retries are off", async () => {
      const { app, cookie } = await busySession({ waitMs: 5_000, waiterLimitRetry: false }, { busyResponse: { retryAfterSeconds: 7 } });
      const started = Date.now();
      const response = await fetch(`${app.url}/inc`, { method: "POST", headers: { cookie } });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get("retry-after"), "7");
      assert.match(await response.text(), /TOO_MANY_WAITERS/);
      assert.ok(Date.now() - started < 1_000);
    });

    it("busyResponse: false passes the error to the app's error handler", async () => {
      const { app, cookie } = await busySession({ waitMs: 100 }, { busyResponse: false });
      const response = await fetch(`${app.url}/inc`, { method: "POST", headers: { cookie } });
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { reason: "LOCK_WAIT_TIMEOUT" });
      assert.equal(response.headers.get("retry-after"), null);
    });
  });
});
