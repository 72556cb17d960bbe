/**
 * Short deadlines (audit decision): a lock granted too close to the caller's deadline to reach it
 * would be held by nobody for its whole lease. The server grants no lock within its margin of the
 * deadline, so such orphans stay a wire-level rarity (server/tools/measure-deadline-orphans.ts
 * measures the rates; README, "Deadlines").
 */
import * as assert from "node:assert/strict";
import { credentials } from "@grpc/grpc-js";
import { SessionStateClient } from "../../client/ts/src";
import { measureDeadlineOrphans } from "./fault/deadline-orphans";
import { startServerProcess } from "./fault/server-process";
import { NO_DEADLINE, canStillDeliver, deadlineMarginMs, tooLateToLock, waitWithinDeadline } from "../src/store/call-deadline";
import { FakeClock } from "../src/store/fake-clock";
import { MemoryBackend } from "../src/store/memory/memory-backend";
import { SessionStore } from "../src/store/session-store";
import { StoreError } from "../src/store/store-error";
import { FAKE_START_MS, Outcome, expectStatus, grpc, useServer } from "./helpers/test-server";

describe("short deadlines (rule 7)", function () {
  this.timeout(60_000);
  const t = useServer();

  it("rule 7: Lock calls with a 20 ms deadline whose grant lands near it leave (almost) no orphaned lock", async () => {
    // A server process of its own, as deployed: in one process the client's own work would delay
    // the answers it waits for.
    const server = await startServerProcess([]);
    const client = new SessionStateClient(server.address, credentials.createInsecure());
    let counts;
    try {
      counts = await measureDeadlineOrphans(client, 20, 300);
    } finally {
      client.close();
      await server.stop();
    }
    // Without the margin 10-50 % of these were granted too late (29 of 60 in the audit). With it the
    // rate is about 1 in 1,000 on an idle machine (the tool measures it); the bound leaves room for
    // a machine busy with other work, where a process stall can outlast a 20 ms deadline.
    assert.ok(counts.orphans <= 6, `orphans: ${JSON.stringify(counts)}`);
    assert.ok(counts.granted + counts.locked > counts.trials / 2, `most are answered in time: ${JSON.stringify(counts)}`);
  });

  it("rule 7: a Lock whose deadline is already within the margin is refused (DEADLINE_TOO_CLOSE) and changes nothing", async () => {
    // On the store's fake clock: over the wire the client's own deadline (at most 8 ms away) races
    // the refusal.
    const clock = new FakeClock(FAKE_START_MS);
    const store = new SessionStore(new MemoryBackend({}, {}, clock), {}, clock);
    const now = clock.now();
    const errors: unknown[] = [];
    const answers: unknown[] = [];
    const completion = { resolve: (r: unknown) => answers.push(r), reject: (e: unknown) => errors.push(e) };
    store.lock({ app: "a", sessionId: "s", waitMs: 0, leaseMs: 0, create: true, ttlSeconds: 0 }, completion, { arrivedAt: now, at: now + 8 });
    assert.equal(answers.length, 0);
    assert.ok(errors[0] instanceof StoreError);
    assert.equal(errors[0].reason, "DEADLINE_TOO_CLOSE");
    assert.equal(errors[0].kind, "deadline-exceeded");
    assert.deepEqual((await store.counts()).sessions, 0, "nothing was created");
    // With more time than the margin, the same Lock is granted.
    store.lock({ app: "a", sessionId: "s", waitMs: 0, leaseMs: 0, create: true, ttlSeconds: 0 }, completion, { arrivedAt: now, at: now + 40 });
    assert.equal(answers.length, 1);
    await store.close();
  });

  it("rule 7: over the wire, a Lock with a deadline inside the margin is answered DEADLINE_EXCEEDED and changes nothing", async () => {
    await t().call.set({ data: "v" });
    await expectStatus(t().call.lock({}, { deadlineMs: 3 }), grpc.status.DEADLINE_EXCEEDED);
    assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_OK, "the session is not locked");
  });

  it("keeps a margin of a quarter of the deadline, from 8 ms to 50 ms", () => {
    assert.equal(deadlineMarginMs(20), 8);
    assert.equal(deadlineMarginMs(100), 25);
    assert.equal(deadlineMarginMs(1000), 50);
    assert.equal(waitWithinDeadline(60_000, { arrivedAt: 1_000, at: 1_000 + 100 }, 1_000), 75);
    assert.equal(waitWithinDeadline(10, NO_DEADLINE, 1_000), 10);
    assert.equal(waitWithinDeadline(10, { arrivedAt: 0, at: 900 }, 1_000), 0);
  });

  it("refuses a Lock, or a grant, within the margin of the whole deadline", () => {
    // A 20 ms deadline keeps 8 ms: a Lock may still be taken with 9 ms left, not with 8.
    const deadline = { arrivedAt: 1_000, at: 1_020 };
    assert.equal(tooLateToLock(deadline, 1_011), false);
    assert.equal(tooLateToLock(deadline, 1_012), true);
    let now = 1_011;
    const deliverable = canStillDeliver(undefined, deadline, () => now);
    assert.equal(deliverable(), true);
    now = 1_012;
    assert.equal(deliverable(), false);
    let gone = false;
    const unlessGone = canStillDeliver(() => gone, NO_DEADLINE, () => now);
    assert.equal(unlessGone(), true);
    gone = true;
    assert.equal(unlessGone(), false);
  });
});
