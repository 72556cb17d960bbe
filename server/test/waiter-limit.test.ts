/** Rule 8: at most --max-waiters waiters per session (default 50); the next one gets RESOURCE_EXHAUSTED. */
import * as assert from "node:assert/strict";

import {
  Outcome,
  expectStatus,
  grpc,
  numberPattern,
  describeEachBackend,
  useFakeServer,
  waitForWaiters,
} from "./helpers/test-server";

describeEachBackend("waiter limit (rule 8)", () => {
  describe("--max-waiters 3", () => {
    const t = useFakeServer(["--max-waiters", "3"]);

    it("rule 8: the 4th waiter (reader or writer) gets RESOURCE_EXHAUSTED naming the limit; nothing changes", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const waiters = [
        t().start.lock({ waitMs: 60_000 }),
        t().start.get({ waitMs: 60_000 }),
        t().start.lock({ waitMs: 60_000 }),
      ];
      await waitForWaiters(t(), 3);
      const expected = { reason: "TOO_MANY_WAITERS", message: [numberPattern(3)] };
      await expectStatus(t().call.lock({ waitMs: 60_000 }), grpc.status.RESOURCE_EXHAUSTED, expected);
      await expectStatus(t().call.get({ waitMs: 60_000 }), grpc.status.RESOURCE_EXHAUSTED, expected);
      assert.equal((await t().counts()).waiters, 3, "the refused calls did not join the queue");
      // Calls that do not wait are not waiters: they are answered OUTCOME_LOCKED as usual.
      assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_LOCKED);
      assert.equal((await t().call.lock()).outcome, Outcome.OUTCOME_LOCKED);
      // The limit is per session: another session's queue is unaffected.
      await t().call.set({ sessionId: "other", data: "x" });
      const otherHolder = await t().call.lock({ sessionId: "other" });
      const otherWaiter = t().start.get({ sessionId: "other", waitMs: 60_000 });
      await waitForWaiters(t(), 4);
      await t().call.release({ sessionId: "other", lockId: otherHolder.lockId });
      assert.equal((await otherWaiter.response).outcome, Outcome.OUTCOME_OK);

      // The queue's waiters are intact and served in order when the lock is released.
      await t().call.release({ lockId: holder.lockId });
      const [w0, w1, w2] = waiters;
      assert.ok(w0 && w1 && w2);
      const first = await w0.response;
      assert.equal(first.outcome, Outcome.OUTCOME_OK);
      await waitForWaiters(t(), 2);
      // Room again: a new waiter is accepted.
      const fourth = t().start.get({ waitMs: 60_000 });
      await waitForWaiters(t(), 3);
      await expectStatus(t().call.get({ waitMs: 60_000 }), grpc.status.RESOURCE_EXHAUSTED, expected);
      // Drain: removing the session answers everyone NOT_FOUND.
      assert.equal((await t().call.remove({ lockId: first.lockId })).removed, true);
      for (const w of [w1, w2, fourth]) assert.equal((await w.response).outcome, Outcome.OUTCOME_NOT_FOUND);
    });

    it("rule 8: a cancelled waiter frees its place in the queue", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const waiters = [0, 1, 2].map(() => t().start.get({ waitMs: 60_000 }));
      await waitForWaiters(t(), 3);
      waiters[1]?.cancel();
      await waitForWaiters(t(), 2);
      const replacement = t().start.lock({ waitMs: 60_000 });
      await waitForWaiters(t(), 3);
      await t().call.release({ lockId: holder.lockId });
      assert.equal((await waiters[0]?.response)?.outcome, Outcome.OUTCOME_OK);
      assert.equal((await waiters[2]?.response)?.outcome, Outcome.OUTCOME_OK);
      assert.equal((await replacement.response).outcome, Outcome.OUTCOME_OK);
    });
  });

  describe("default limit", () => {
    const t = useFakeServer();

    it("rule 8: the default limit is 50 waiters per session; the 51st gets RESOURCE_EXHAUSTED", async () => {
      await t().call.set({ data: "v1" });
      const holder = await t().call.lock();
      const waiters = Array.from({ length: 50 }, (_v, i) =>
        i % 2 === 0 ? t().start.get({ waitMs: 60_000 }) : t().start.lock({ waitMs: 60_000 }),
      );
      await waitForWaiters(t(), 50);
      await expectStatus(t().call.lock({ waitMs: 60_000 }), grpc.status.RESOURCE_EXHAUSTED, {
        reason: "TOO_MANY_WAITERS",
        message: [numberPattern(50)],
      });
      await t().call.remove({ lockId: holder.lockId });
      for (const w of waiters) assert.equal((await w.response).outcome, Outcome.OUTCOME_NOT_FOUND);
    });
  });
});
