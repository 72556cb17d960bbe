/** Rule 7: server-side waiting in a per-session FIFO queue. */
import * as assert from "node:assert/strict";

import {
  Outcome,
  expectStatus,
  grpc,
  roundTrip,
  useFakeServer,
  describeEachBackend,
  useServer,
  waitFor,
  waitForWaiters,
} from "./helpers/test-server";

describeEachBackend("waiting (rule 7)", () => {
  describe("on a fake clock", () => {
    const t = useFakeServer();

    it("rule 7: waiters are answered the moment the lock is released by Set (reader gets the new data, writer the lock)", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const reader = t().start.get({ waitMs: 60_000 });
      await waitForWaiters(t(), 1);
      const writer = t().start.lock({ waitMs: 60_000 });
      await waitForWaiters(t(), 2);
      await roundTrip(t());
      assert.equal(reader.settled() || writer.settled(), false, "nobody answered while the lock is held");
      await t().call.set({ data: "v2", lockId: holder.lockId });
      const read = await reader.response;
      assert.equal(read.outcome, Outcome.OUTCOME_OK);
      assert.equal(read.data.toString(), "v2");
      assert.equal(read.version, 2n);
      const locked = await writer.response;
      assert.equal(locked.outcome, Outcome.OUTCOME_OK);
      assert.equal(locked.data.toString(), "v2");
      assert.ok(locked.lockId > holder.lockId);
      assert.equal((await t().counts()).waiters, 0);
    });

    it("rule 7: waiters are answered the moment the lock is released by Release", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const writer = t().start.lock({ waitMs: 60_000 });
      await waitForWaiters(t(), 1);
      assert.equal((await t().call.release({ lockId: holder.lockId })).released, true);
      const locked = await writer.response;
      assert.equal(locked.outcome, Outcome.OUTCOME_OK);
      assert.equal(locked.version, 1n);
      assert.equal(locked.lockAgeMs, 0n);
    });

    it("rule 7: waiters are answered the moment the lease ends", async () => {
      await t().call.set({ data: "v1" });
      await t().call.lock({ leaseMs: 1500 });
      const reader = t().start.get({ waitMs: 60_000 });
      await waitForWaiters(t(), 1);
      t().clock.advance(1500);
      const read = await reader.response;
      assert.equal(read.outcome, Outcome.OUTCOME_OK);
      assert.equal(read.data.toString(), "v1");
    });

    it("rule 7: waiters on a removed session are answered OUTCOME_NOT_FOUND", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const reader = t().start.get({ waitMs: 60_000 });
      const writer = t().start.lock({ waitMs: 60_000 });
      const creator = t().start.lock({ waitMs: 60_000, create: false });
      await waitForWaiters(t(), 3);
      assert.equal((await t().call.remove({ lockId: holder.lockId })).removed, true);
      assert.equal((await reader.response).outcome, Outcome.OUTCOME_NOT_FOUND);
      assert.equal((await writer.response).outcome, Outcome.OUTCOME_NOT_FOUND);
      assert.equal((await creator.response).outcome, Outcome.OUTCOME_NOT_FOUND);
      const counts = await t().counts();
      assert.equal(counts.sessions, 0, "nothing re-created");
      assert.equal(counts.waiters, 0);
    });

    it("rule 7: waiters on a session that expires meanwhile are answered OUTCOME_NOT_FOUND", async () => {
      // ttl 1 s, lease 3 s: the session may not expire while locked, and it is past its deadline
      // when the lease ends.
      await t().call.set({ data: "v1", ttlSeconds: 1 });
      await t().call.lock({ leaseMs: 3000 });
      const reader = t().start.get({ waitMs: 60_000 });
      const writer = t().start.lock({ waitMs: 60_000 });
      await waitForWaiters(t(), 2);
      t().clock.advance(3000);
      assert.equal((await reader.response).outcome, Outcome.OUTCOME_NOT_FOUND);
      assert.equal((await writer.response).outcome, Outcome.OUTCOME_NOT_FOUND);
      assert.equal((await t().counts()).lockedSessions, 0);
    });

    it("rule 7: when wait_ms runs out the caller is answered OUTCOME_LOCKED with the holder's id and age", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const reader = t().start.get({ waitMs: 3000 });
      const writer = t().start.lock({ waitMs: 3000 });
      await waitForWaiters(t(), 2);
      t().clock.advance(2999);
      await roundTrip(t());
      assert.equal(reader.settled() || writer.settled(), false, "still waiting at 2,999 ms");
      t().clock.advance(1);
      const read = await reader.response;
      assert.equal(read.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(read.lockId, holder.lockId);
      assert.equal(read.lockAgeMs, 3000n);
      assert.equal(read.data.length, 0);
      const lock = await writer.response;
      assert.equal(lock.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(lock.lockId, holder.lockId);
      assert.equal((await t().counts()).waiters, 0, "timed-out waiters leave the queue");
      assert.equal((await t().call.release({ lockId: holder.lockId })).released, true, "holder unchanged");
    });

    it("rule 7: wait_ms is capped by the default --max-wait-ms of 120,000 (even wait_ms 2^32-1)", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock({ leaseMs: 3_600_000 });
      const reader = t().start.get({ waitMs: 0xffffffff });
      await waitForWaiters(t(), 1);
      t().clock.advance(119_999);
      await roundTrip(t());
      assert.equal(reader.settled(), false);
      t().clock.advance(1);
      const read = await reader.response;
      assert.equal(read.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(read.lockId, holder.lockId);
    });

    it("rule 7: FIFO: on release the readers ahead of the first writer are answered, the first writer gets the lock, the rest keep waiting", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const r1 = t().start.get({ waitMs: 60_000 });
      await waitForWaiters(t(), 1);
      const r2 = t().start.get({ waitMs: 60_000 });
      await waitForWaiters(t(), 2);
      const w1 = t().start.lock({ waitMs: 60_000 });
      await waitForWaiters(t(), 3);
      const r3 = t().start.get({ waitMs: 60_000 });
      await waitForWaiters(t(), 4);
      const w2 = t().start.lock({ waitMs: 60_000 });
      await waitForWaiters(t(), 5);

      await t().call.release({ lockId: holder.lockId });
      const [a1, a2, b1] = await Promise.all([r1.response, r2.response, w1.response]);
      assert.equal(a1.outcome, Outcome.OUTCOME_OK);
      assert.equal(a1.data.toString(), "v1");
      assert.equal(a2.outcome, Outcome.OUTCOME_OK);
      assert.equal(b1.outcome, Outcome.OUTCOME_OK, "the first writer gets the lock");
      await waitForWaiters(t(), 2);
      await roundTrip(t());
      assert.equal(r3.settled(), false, "the reader behind the first writer keeps waiting");
      assert.equal(w2.settled(), false, "the second writer keeps waiting");
      const locked = await t().call.get();
      assert.equal(locked.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(locked.lockId, b1.lockId);

      await t().call.set({ data: "by w1", lockId: b1.lockId });
      const a3 = await r3.response;
      assert.equal(a3.outcome, Outcome.OUTCOME_OK);
      assert.equal(a3.data.toString(), "by w1");
      const b2 = await w2.response;
      assert.equal(b2.outcome, Outcome.OUTCOME_OK);
      assert.ok(b2.lockId > b1.lockId);
      assert.equal(b2.version, 2n);
      assert.equal((await t().counts()).waiters, 0);
    });

    it("rule 7: writers are served one at a time in arrival order", async () => {
      await t().call.set({ data: "0" });
      const holder = await t().call.lock();
      const writers = [];
      for (let i = 0; i < 5; i++) {
        writers.push({ i, pending: t().start.lock({ waitMs: 60_000 }) });
        await waitForWaiters(t(), i + 1);
      }
      await t().call.release({ lockId: holder.lockId });
      for (const { i, pending } of writers) {
        const got = await pending.response;
        assert.equal(got.outcome, Outcome.OUTCOME_OK);
        assert.equal(got.data.toString(), String(i), `writer ${i} sees the write of writer ${i - 1}`);
        for (const later of writers.filter((w) => w.i > i)) assert.equal(later.pending.settled(), false);
        await t().call.set({ data: String(i + 1), lockId: got.lockId });
      }
      assert.equal((await t().call.get()).data.toString(), "5");
    });

    it("rule 7: a cancelled waiting call leaves the queue at once and never ends up holding the lock", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const reader = t().start.get({ waitMs: 60_000 });
      const writer = t().start.lock({ waitMs: 60_000 });
      const stays = t().start.get({ waitMs: 60_000 });
      await waitForWaiters(t(), 3);
      writer.cancel();
      reader.cancel();
      await expectStatus(writer.response, grpc.status.CANCELLED);
      await expectStatus(reader.response, grpc.status.CANCELLED);
      await waitForWaiters(t(), 1);
      await t().call.release({ lockId: holder.lockId });
      assert.equal((await stays.response).outcome, Outcome.OUTCOME_OK);
      // The cancelled writer did not get the lock: the session is free.
      assert.equal((await t().counts()).lockedSessions, 0);
      const next = await t().call.lock();
      assert.equal(next.outcome, Outcome.OUTCOME_OK);
    });

    it("rule 7: a lock granted to a call cancelled at the same moment is released immediately", async () => {
      await t().call.set({ data: "v1" });
      const other = t().connect();
      const otherCalls = other.call;
      const otherStart = other.start;
      for (let round = 0; round < 10; round++) {
        const holder = await t().call.lock();
        const writer = otherStart.lock({ waitMs: 60_000 });
        await waitForWaiters(t(), 1);
        // Cancel and release race: the release (on another connection) may reach the server
        // before the cancellation does.
        writer.cancel();
        const released = await t().call.release({ lockId: holder.lockId });
        assert.equal(released.released, true);
        const outcome = await writer.response.then(
          (r) => `answered ${Outcome[r.outcome]}`,
          (e: unknown) => `failed ${String(e)}`,
        );
        assert.match(outcome, /CANCELLED|answered/);
        await waitFor(async () => (await t().counts()).lockedSessions === 0, "the lock to be free again");
        assert.equal((await t().counts()).waiters, 0);
        const get = await otherCalls.get();
        assert.equal(get.outcome, Outcome.OUTCOME_OK, `round ${round}: the session must not stay locked`);
      }
    });
  });

  describe("--max-wait-ms 1000", () => {
    const t = useFakeServer(["--max-wait-ms", "1000"]);

    it("rule 7: wait_ms is capped by --max-wait-ms", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const reader = t().start.get({ waitMs: 60_000 });
      await waitForWaiters(t(), 1);
      t().clock.advance(999);
      await roundTrip(t());
      assert.equal(reader.settled(), false);
      t().clock.advance(1);
      const read = await reader.response;
      assert.equal(read.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(read.lockId, holder.lockId);
    });
  });

  describe("on the real clock", () => {
    const t = useServer();

    for (const kind of ["Get", "Lock"] as const) {
      it(`rule 7: a ${kind} whose call deadline is shorter than wait_ms is answered OUTCOME_LOCKED before the deadline`, async () => {
        await t().call.set({ data: "v1" });
        const holder = await t().call.lock();
        const started = Date.now();
        const request = { waitMs: 10_000 };
        const answer =
          kind === "Get"
            ? await t().call.get(request, { deadlineMs: 1000 })
            : await t().call.lock(request, { deadlineMs: 1000 });
        const elapsed = Date.now() - started;
        assert.equal(answer.outcome, Outcome.OUTCOME_LOCKED, "answered, not DEADLINE_EXCEEDED");
        assert.equal(answer.lockId, holder.lockId);
        assert.ok(elapsed >= 500, `it waited (${elapsed} ms) instead of answering at once`);
        assert.ok(elapsed < 1000, `answered before the deadline (${elapsed} ms)`);
        assert.equal((await t().counts()).waiters, 0);
      });
    }
  });
});
