import { EventEmitter } from "node:events";
import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import session from "express-session";
import type { StartedServer } from "../../../server/src/index";
import { StatewardError, type SessionClient } from "../src";
import { StatewardStore, statewardSession } from "../src/express";
import { assert, listenOnLoopback, useResources, waitFor } from "./helpers";

declare module "express-session" {
  interface SessionData {
    items?: string[];
    views?: number;
  }
}

const SECRET = "test-secret-not-for-production";

/** Calls a store method with a callback as a promise. */
function promisify<T>(run: (callback: (error?: unknown, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

/** A cookie as express-session would store it. */
function cookieData(maxAgeMs: number | null): session.SessionData["cookie"] {
  const cookie = new session.Cookie();
  // The maxAge setter sets `expires`; a browser-session cookie has neither.
  if (maxAgeMs !== null) cookie.maxAge = maxAgeMs;
  return cookie;
}

/**
 * An Express app on 127.0.0.1:0 with the given session middleware and routes:
 * POST /append?item=x appends to a list (after some async work, as a real handler would),
 * GET /items reads it, POST /touch-readonly changes the session in a read-only request.
 */
async function startApp(
  sessionMiddleware: RequestHandler,
  probe?: (sessionId: string) => Promise<string>,
): Promise<{ url: string; errors: string[]; close(): Promise<void> }> {
  const errors: string[] = [];
  const app = express();
  app.use(sessionMiddleware);
  app.post("/append", async (req, res) => {
    const items = req.session.items ?? [];
    // The handler's own I/O (a database call, say) between reading and writing the session.
    await new Promise((resolve) => setTimeout(resolve, 10));
    req.session.items = [...items, String(req.query.item)];
    res.json({ count: req.session.items.length });
  });
  app.get("/items", async (req, res) => {
    res.json({ items: req.session.items ?? [], probe: probe === undefined ? undefined : await probe(req.sessionID) });
  });
  app.post("/probe", async (req, res) => {
    res.json({ probe: probe === undefined ? undefined : await probe(req.sessionID) });
  });
  app.post("/reload", (req, res, next) => {
    req.session.reload((error: unknown) => (error ? next(error) : res.json({ items: req.session.items ?? [] })));
  });
  app.post("/slow-append", async (req, res) => {
    // A handler that outlives its client: it still appends and "answers" after the client left.
    const items = req.session.items ?? [];
    await new Promise((resolve) => setTimeout(resolve, 400));
    req.session.items = [...items, String(req.query.item)];
    res.json({ count: req.session.items.length });
  });
  app.post("/hang", () => {
    // Never answers: the client gives up.
  });
  app.get("/sneaky-write", (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ ok: true });
  });
  const onError: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
    const reason = StatewardError.is(error) ? error.reason : String(error);
    errors.push(reason);
    // express-session saves while the response ends: by then the status has been sent.
    if (!res.headersSent) res.status(500).json({ reason });
  };
  app.use(onError);
  return { ...(await listenOnLoopback(app)), errors };
}

/** Runs `first` to get the session cookie, then `parallel` requests at once with it. */
async function appendInParallel(url: string, parallel: number): Promise<string[]> {
  const first = await fetch(`${url}/append?item=0`, { method: "POST" });
  assert.equal(first.status, 200);
  const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  assert.match(cookie, /^connect\.sid=/);
  const responses = await Promise.all(
    Array.from({ length: parallel }, (_, i) => fetch(`${url}/append?item=${i + 1}`, { method: "POST", headers: { cookie } })),
  );
  for (const response of responses) assert.equal(response.status, 200, await response.text());
  const items = (await (await fetch(`${url}/items`, { headers: { cookie } })).json()) as { items: string[] };
  return items.items;
}

describe("Express: StatewardStore", function () {
  const r = useResources();
  let server: StartedServer;
  let client: SessionClient;
  let store: StatewardStore;

  beforeEach(async () => {
    server = await r().server();
    client = r().client({ address: server.address });
    store = new StatewardStore({ client, app: "web", ttlSeconds: 3600 });
  });

  it("is an express-session Store and an EventEmitter", () => {
    assert.ok(store instanceof session.Store);
    assert.ok(store instanceof EventEmitter);
  });

  it("get of a missing session calls back (null, null)", async () => {
    const value = await new Promise<unknown>((resolve, reject) => store.get("nope", (error, data) => (error ? reject(error) : resolve(data))));
    assert.equal(value, null);
  });

  it("set then get round-trips; the ttl comes from the cookie's expiry", async () => {
    await promisify((cb) => store.set("sid-1", { cookie: cookieData(120_000), views: 3 }, cb));
    const back = await new Promise<session.SessionData | null | undefined>((resolve, reject) =>
      store.get("sid-1", (error, data) => (error ? reject(error) : resolve(data))),
    );
    assert.equal(back?.views, 3);
    const raw = await client.get("web", "sid-1");
    assert.ok(raw.outcome === "ok");
    assert.ok(raw.ttlSeconds >= 119 && raw.ttlSeconds <= 120, `ttl ${raw.ttlSeconds}`);
  });

  it("a browser-session cookie (no expiry) gets the store's ttlSeconds", async () => {
    await promisify((cb) => store.set("sid-2", { cookie: cookieData(null) }, cb));
    const raw = await client.get("web", "sid-2");
    assert.ok(raw.outcome === "ok");
    assert.equal(raw.ttlSeconds, 3600);
  });

  it("touch uses Expire: the ttl moves, the data and version do not", async () => {
    await promisify((cb) => store.set("sid-3", { cookie: cookieData(60_000), views: 1 }, cb));
    await promisify((cb) => store.touch("sid-3", { cookie: cookieData(600_000), views: 999 }, cb));
    const raw = await client.get("web", "sid-3");
    assert.ok(raw.outcome === "ok");
    assert.equal(raw.version, 1n, "nothing was written");
    assert.ok(raw.ttlSeconds >= 599, `ttl ${raw.ttlSeconds}`);
    assert.equal((JSON.parse(raw.data.toString()) as { views: number }).views, 1);
  });

  it("destroy removes the session", async () => {
    await promisify((cb) => store.set("sid-4", { cookie: cookieData(60_000) }, cb));
    await promisify((cb) => store.destroy("sid-4", cb));
    assert.deepEqual(await client.get("web", "sid-4"), { outcome: "not-found" });
  });
});

describe("Express: concurrent requests of one user", function () {
  this.timeout(20_000);
  const r = useResources();
  const PARALLEL = 20;

  it("express-session's MemoryStore loses appends made by parallel requests", async () => {
    const app = await startApp(session({ secret: SECRET, resave: false, saveUninitialized: false }));
    r().defer(() => app.close());
    const items = await appendInParallel(app.url, PARALLEL);
    assert.ok(items.length < PARALLEL + 1, `expected lost writes, got all ${items.length}`);
  });

  for (const transport of ["pipeline", "unary"] as const) {
    it(`statewardSession loses none [${transport}]`, async () => {
      const server = await r().server();
      const client = r().client({ address: server.address, transport });
      const store = new StatewardStore({ client, app: "web" });
      const app = await startApp(statewardSession({ store, secret: SECRET, resave: false, saveUninitialized: false, readOnly: { methods: ["GET"] } }));
      r().defer(() => app.close());
      const items = await appendInParallel(app.url, PARALLEL);
      assert.equal(items.length, PARALLEL + 1);
      assert.deepEqual(
        [...items].sort((a, b) => Number(a) - Number(b)),
        Array.from({ length: PARALLEL + 1 }, (_, i) => String(i)),
      );
      assert.equal((await server.store.counts()).waiters, 0);
    });
  }
});

describe("Express: statewardSession locking", function () {
  const r = useResources();
  let server: StartedServer;
  let client: SessionClient;

  beforeEach(async () => {
    server = await r().server();
    client = r().client({ address: server.address });
  });

  async function startWith(options: { waitMs?: number } = {}): Promise<{ url: string; cookie: string; errors: string[]; sid: () => string }> {
    const store = new StatewardStore({ client, app: "web", waitMs: options.waitMs });
    let lastSid = "";
    // What a third party sees of the session while the request runs.
    const probe = async (sessionId: string): Promise<string> => {
      lastSid = sessionId;
      return (await client.get("web", sessionId)).outcome;
    };
    const app = await startApp(statewardSession({ store, secret: SECRET, resave: false, saveUninitialized: false, readOnly: { methods: ["GET"] } }), probe);
    r().defer(() => app.close());
    const first = await fetch(`${app.url}/append?item=0`, { method: "POST" });
    const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    await (await fetch(`${app.url}/items`, { headers: { cookie } })).json();
    return { url: app.url, cookie, errors: app.errors, sid: () => lastSid };
  }

  it("a writer request holds the lock while it runs and releases it before the response", async () => {
    const app = await startWith();
    const during = (await (await fetch(`${app.url}/probe`, { method: "POST", headers: { cookie: app.cookie } })).json()) as { probe: string };
    assert.equal(during.probe, "locked");
    const lock = await client.lock("web", app.sid());
    assert.equal(lock.outcome, "ok", "released by the time the response arrived");
  });

  it("a read-only request takes no lock", async () => {
    const app = await startWith();
    const read = (await (await fetch(`${app.url}/items`, { headers: { cookie: app.cookie } })).json()) as { items: string[]; probe: string };
    assert.equal(read.probe, "ok");
    assert.deepEqual(read.items, ["0"]);
  });

  it("a read-only request that changes its session fails loudly and changes nothing", async () => {
    const app = await startWith();
    const response = await fetch(`${app.url}/sneaky-write`, { headers: { cookie: app.cookie } });
    await response.text();
    // The save runs as the response ends (express-session's design): the error goes to the app's
    // error handler, never silently away.
    await waitFor(() => app.errors.length > 0, "the error to reach the error handler");
    assert.deepEqual(app.errors, ["READ_ONLY_REQUEST"]);
    const raw = await client.get("web", app.sid());
    assert.ok(raw.outcome === "ok");
    assert.equal((JSON.parse(raw.data.toString()) as { views?: number }).views, undefined);
  });

  it("req.session.reload() in a writer request does not wait for its own lock", async () => {
    const app = await startWith({ waitMs: 5_000 });
    const started = Date.now();
    const response = await fetch(`${app.url}/reload`, { method: "POST", headers: { cookie: app.cookie } });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { items: ["0"] });
    assert.ok(Date.now() - started < 2_000);
  });

  it("a request whose client goes away releases its lock", async () => {
    const app = await startWith();
    const controller = new AbortController();
    const hanging = fetch(`${app.url}/hang`, { method: "POST", headers: { cookie: app.cookie }, signal: controller.signal }).catch(() => undefined);
    await waitFor(async () => (await client.get("web", app.sid())).outcome === "locked", "the request to hold the lock");
    controller.abort();
    await hanging;
    await waitFor(async () => (await client.get("web", app.sid())).outcome === "ok", "the lock to be released");
  });

  it("a request whose client left refuses its late save instead of overwriting a newer write", async () => {
    const app = await startWith();
    const controller = new AbortController();
    const slow = fetch(`${app.url}/slow-append?item=slow`, { method: "POST", headers: { cookie: app.cookie }, signal: controller.signal }).catch(() => undefined);
    await waitFor(async () => (await client.get("web", app.sid())).outcome === "locked", "the slow request to hold the lock");
    controller.abort();
    await slow;
    // Its lock is released when its client leaves; another request of the user then writes.
    const fast = await fetch(`${app.url}/append?item=fast`, { method: "POST", headers: { cookie: app.cookie } });
    assert.equal(fast.status, 200, await fast.text());
    // The slow handler finishes afterwards: its save must fail loudly, not overwrite "fast".
    await waitFor(() => app.errors.length > 0, "the slow request's save to be refused");
    assert.deepEqual(app.errors, ["LOCK_RELEASED"]);
    const items = (await (await fetch(`${app.url}/items`, { headers: { cookie: app.cookie } })).json()) as { items: string[] };
    assert.deepEqual(items.items, ["0", "fast"]);
  });

  it("a writer that cannot get the lock within waitMs is answered 503 with Retry-After (LOCK_WAIT_TIMEOUT)", async () => {
    const app = await startWith({ waitMs: 100 });
    const holder = await client.lock("web", app.sid());
    assert.ok(holder.outcome === "ok");
    const response = await fetch(`${app.url}/append?item=late`, { method: "POST", headers: { cookie: app.cookie } });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.match(await response.text(), /LOCK_WAIT_TIMEOUT/);
    assert.deepEqual(app.errors, [], "answered by the middleware; the route did not run");
    await client.release("web", app.sid(), holder.lockId);
    const raw = await client.get("web", app.sid());
    assert.ok(raw.outcome === "ok");
    assert.deepEqual((JSON.parse(raw.data.toString()) as { items: string[] }).items, ["0"], "nothing was written");
  });
});
