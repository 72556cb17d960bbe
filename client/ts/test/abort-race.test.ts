/**
 * Abort races: a lock wait that is abandoned (its AbortSignal fires) in the same tick as the holder
 * releases. The server may grant the lock to the abandoned operation before the cancel reaches it;
 * that grant must be given back at once, not left to the lease (110 s by default).
 */
import express from "express";
import type { StartedServer } from "../../../server/src/index";
import { StatewardError, type SessionClient } from "../src";
import { StatewardStore, statewardSession } from "../src/express";
import { assert, listenOnLoopback, useResources, withTimeout } from "./helpers";

declare module "express-session" {
  interface SessionData {
    touched?: number;
  }
}

/** A lease far longer than the test: a lock left behind stays visible instead of ending by itself. */
const LONG_LEASE_MS = 600_000;

/**
 * Polls until no session on `server` is locked, or `timeoutMs` passes, and returns how many are
 * still locked (0 on success). The stale-grant release is asynchronous (one more round trip), so
 * the count is read until it settles rather than once.
 */
async function lockedAfterSettling(server: StartedServer, timeoutMs = 3000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    const locked = (await server.store.counts()).lockedSessions;
    if (locked === 0 || Date.now() > deadline) return locked;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** Resolves once `condition` holds, polling with a short backoff; rejects after `timeoutMs`. */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 20);
  }
}

/** Runs `fn` after `turns` turns of the event loop (0: now). */
function afterTurns(turns: number, fn: () => void): void {
  if (turns <= 0) fn();
  else setImmediate(() => afterTurns(turns - 1, fn));
}

/** Every session of `ids` answers a Get without a lock (the check the brief asks for, per session). */
async function assertAllUnlocked(client: SessionClient, app: string, ids: readonly string[]): Promise<void> {
  const outcomes = await Promise.all(ids.map((id) => client.get(app, id)));
  const locked = outcomes.filter((outcome) => outcome.outcome === "locked").length;
  assert.equal(locked, 0, `${locked} of ${ids.length} sessions are still locked`);
}

describe("abort races: a grant to an abandoned lock wait is released at once", function () {
  this.timeout(20_000);
  const r = useResources();

  it("SessionClient.withLock: 0 orphaned locks in 1,000 abort-versus-release races", async () => {
    const RACES = 1000;
    const server = await r().server();
    // The holder has its own client (own stream, own connection): its release and the waiter's
    // cancel then reach the server in either order, which is the race.
    const holder = r().client({ address: server.address });
    const waiter = r().client({ address: server.address });
    const ids = Array.from({ length: RACES }, (_, i) => `race-${i}`);
    const held = await Promise.all(ids.map((id) => holder.lock("app", id, { create: true, leaseMs: LONG_LEASE_MS })));
    const lockIds = held.map((lock) => {
      assert.ok(lock.outcome === "ok");
      return lock.lockId;
    });

    const controllers = ids.map(() => new AbortController());
    const waits = ids.map((id, i) =>
      waiter.withLock("app", id, () => "never written", { waitMs: 10_000, leaseMs: LONG_LEASE_MS, signal: controllers[i]?.signal }),
    );
    // Every wait is queued on the server before the race starts (so it is a sent operation).
    await until(async () => (await server.store.counts()).waiters === RACES, "every withLock to wait on the server");

    // The race: abort, then release, in the same tick.
    const releases = ids.map((id, i) => {
      controllers[i]?.abort();
      return holder.release("app", id, lockIds[i] as bigint);
    });
    const settled = await withTimeout(Promise.allSettled(waits), 10_000);
    await Promise.all(releases);
    for (const outcome of settled) {
      if (outcome.status === "rejected") {
        assert.ok(StatewardError.is(outcome.reason), String(outcome.reason));
        assert.equal(outcome.reason.reason, "CANCELLED");
      }
    }

    const orphans = await lockedAfterSettling(server);
    assert.equal(orphans, 0, `${orphans} of ${RACES} sessions left locked after the abort race`);
    await assertAllUnlocked(holder, "app", ids);
    assert.equal((await server.store.counts()).waiters, 0);
  });

  it("Express: 0 sessions left locked when waiting requests are dropped as their holders end", async () => {
    const SESSIONS = 1000;
    const ROUND = 100;
    const server = await r().server();
    const client = r().client({ address: server.address });
    const store = new StatewardStore({ client, app: "web", leaseMs: LONG_LEASE_MS });
    const app = express();
    app.use(statewardSession({ store, secret: "test-secret-not-for-production", resave: false, saveUninitialized: false }));
    /** Handlers of /hold parked until the test lets them answer, by session number. */
    const parked = new Map<number, () => void>();
    app.post("/start", (req, res) => {
      req.session.touched = 1;
      res.json({ ok: true });
    });
    app.post("/hold", (req, res) => {
      // Runs with the session's lock held; answers (and so releases) when the test says so.
      parked.set(Number(req.query.n), () => res.json({ ok: true }));
    });
    app.post("/wait", (_req, res) => {
      res.json({ ok: true });
    });
    app.use(((_error, _req, res, _next) => {
      // The dropped requests fail with CANCELLED; their sockets are gone already.
      if (!res.headersSent) res.status(500).end();
    }) as express.ErrorRequestHandler);
    const http = await listenOnLoopback(app);
    r().defer(() => http.close());
    const url = http.url;

    for (let base = 0; base < SESSIONS; base += ROUND) {
      const numbers = Array.from({ length: ROUND }, (_, i) => base + i);
      const cookies = await Promise.all(
        numbers.map(async () => {
          const response = await fetch(`${url}/start`, { method: "POST" });
          await response.text();
          return (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
        }),
      );
      parked.clear();
      const holders = numbers.map((n, i) => fetch(`${url}/hold?n=${n}`, { method: "POST", headers: { cookie: cookies[i] ?? "" } }).then((response) => response.text()));
      await until(() => parked.size === ROUND, "every holder request to hold its session's lock");
      const controllers = numbers.map(() => new AbortController());
      const dropped = numbers.map((_n, i) =>
        fetch(`${url}/wait`, { method: "POST", headers: { cookie: cookies[i] ?? "" }, signal: controllers[i]?.signal }).then(
          () => "answered",
          () => "dropped",
        ),
      );
      await until(async () => (await server.store.counts()).waiters === ROUND, "every second request to wait for its session's lock");

      // The race: the browser drops the waiting request as the holder request ends.
      // The race: the browser drops the waiting request as the holder request ends. "As" is spread
      // over 0 to 7 event-loop turns after the end, so that some drops land in the window between
      // the holder's release reaching the server and the grant coming back, whatever the machine.
      for (const [i, n] of numbers.entries()) {
        parked.get(n)?.();
        afterTurns(i % 8, () => controllers[i]?.abort());
      }
      await withTimeout(Promise.all([Promise.all(holders), Promise.all(dropped)]), 10_000);

    }
    // Every round used its own sessions, so what is still locked now is the total left behind.
    const orphans = await lockedAfterSettling(server);
    assert.equal(orphans, 0, `${orphans} of ${SESSIONS} sessions left locked after their waiting requests were dropped`);
    assert.equal((await server.store.counts()).waiters, 0);
  });
});
