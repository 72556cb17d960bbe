/** End-to-end on the real clock: expiry (rule 2), lease end (rule 6) and wait timeouts (rule 7). */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, expectStatus, grpc, sleep, useServer, waitFor } from "./helpers/test-server";

describeEachBackend("real-time end to end", () => {
  const t = useServer(["--expiry-interval-ms", "50"]);

  it("rule 2 (real time): a 1 s session is expired by the active cycle while a touched one survives", async () => {
    const started = Date.now();
    await t().call.set({ sessionId: "idle", data: "x", ttlSeconds: 1 });
    await t().call.set({ sessionId: "busy", data: "y", ttlSeconds: 1 });
    assert.equal((await t().counts()).sessions, 2);
    // Touch "busy" every 250 ms; never touch "idle" (a Get would slide it). Bounded by the helper.
    let touching = true;
    const toucher = (async () => {
      while (touching) {
        assert.equal((await t().call.expire({ sessionId: "busy" })).found, true);
        await sleep(250);
      }
    })();
    try {
      await waitFor(async () => (await t().counts()).sessions === 1, "the idle session to be swept", 4000);
    } finally {
      touching = false;
      await toucher;
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 950, `not expired early (${elapsed} ms)`);
    assert.equal((await t().call.get({ sessionId: "idle" })).outcome, Outcome.OUTCOME_NOT_FOUND);
    const busy = await t().call.get({ sessionId: "busy" });
    assert.equal(busy.outcome, Outcome.OUTCOME_OK);
    assert.equal(busy.data.toString(), "y");
  });

  it("rule 6 (real time): a 200 ms lease ends by itself and the waiting writer gets the lock", async () => {
    await t().call.set({ data: "v1" });
    const started = Date.now();
    const holder = await t().call.lock({ leaseMs: 200 });
    assert.equal(holder.leaseMs, 200);
    const next = await t().call.lock({ waitMs: 5000, leaseMs: 200 });
    const waited = Date.now() - started;
    assert.equal(next.outcome, Outcome.OUTCOME_OK);
    assert.ok(next.lockId > holder.lockId);
    assert.ok(waited >= 190, `got the lock only after the lease ended (${waited} ms)`);
    assert.ok(waited < 2000, `promptly after the lease ended (${waited} ms)`);
    await expectStatus(t().call.set({ data: "late", lockId: holder.lockId }), grpc.status.ABORTED, {
      reason: ["LEASE_EXPIRED", "STALE_LOCK_ID", "LOCKED_BY_OTHER"],
    });
    // The second lease ends too, with nobody touching the session.
    await waitFor(async () => (await t().counts()).lockedSessions === 0, "the second lease to end", 2000);
    await expectStatus(t().call.set({ data: "late", lockId: next.lockId }), grpc.status.ABORTED, {
      reason: "LEASE_EXPIRED",
      message: [/lease/i],
    });
    const got = await t().call.get();
    assert.equal(got.outcome, Outcome.OUTCOME_OK);
    assert.equal(got.data.toString(), "v1");
    assert.equal(got.version, 1n);
  });

  it("rule 7 (real time): a wait that runs out answers OUTCOME_LOCKED after wait_ms", async () => {
    await t().call.set({ data: "v1" });
    const holder = await t().call.lock();
    const started = Date.now();
    const got = await t().call.get({ waitMs: 300 });
    const elapsed = Date.now() - started;
    assert.equal(got.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(got.lockId, holder.lockId);
    assert.ok(elapsed >= 290 && elapsed < 2000, `waited about 300 ms (${elapsed} ms)`);
    assert.ok(got.lockAgeMs >= 290n, `lock age ${got.lockAgeMs}`);
  });
});
