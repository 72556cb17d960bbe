/**
 * Concurrency (issue "Tests"): 32 clients on 32 channels increment one counter under the lock;
 * then the same with clients that abandon their lock (short leases) — no acknowledged write is lost.
 */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, grpc, isServiceError, reasonOf, sleep, useServer } from "./helpers/test-server";
import type { Calls } from "./helpers/test-server";

const CLIENTS = 32;
const SESSION = "counter";

function counterOf(data: Buffer): number {
  const text = data.toString();
  if (text === "") return 0;
  const n = Number(text);
  assert.ok(Number.isSafeInteger(n), `counter data is an integer: ${JSON.stringify(text)}`);
  return n;
}

/** Lock with wait until OUTCOME_OK (a wait that runs out answers OUTCOME_LOCKED: try again). */
async function lockCounter(calls: Calls, leaseMs: number): Promise<{ lockId: bigint; value: number }> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const lock = await calls.lock({ sessionId: SESSION, waitMs: 20_000, leaseMs, create: true });
    if (lock.outcome === Outcome.OUTCOME_OK) return { lockId: lock.lockId, value: counterOf(lock.data) };
    assert.equal(lock.outcome, Outcome.OUTCOME_LOCKED, `unexpected outcome ${Outcome[lock.outcome]}`);
  }
  assert.fail("could not get the lock in 100 attempts");
}

describeEachBackend("concurrency", function () {
  this.timeout(30_000);
  const t = useServer();

  it("32 clients × 100 × (Lock with wait → read counter → Set with lock_id) end with the counter at exactly 3,200", async () => {
    const clients = Array.from({ length: CLIENTS }, () => t().connect().call);
    const lockIds: bigint[] = [];
    await Promise.all(
      clients.map(async (calls) => {
        for (let i = 0; i < 100; i++) {
          const { lockId, value } = await lockCounter(calls, 0);
          lockIds.push(lockId);
          const set = await calls.set({ sessionId: SESSION, data: String(value + 1), lockId });
          assert.equal(set.written, true);
        }
      }),
    );
    const final = await t().call.get({ sessionId: SESSION });
    assert.equal(final.outcome, Outcome.OUTCOME_OK);
    assert.equal(counterOf(final.data), 3200);
    assert.equal(final.version, 3201n, "created at version 1 by Lock with create, then 3,200 writes");
    assert.equal(new Set(lockIds).size, 3200, "every lock id is new");
    const counts = await t().counts();
    assert.equal(counts.waiters, 0);
    assert.equal(counts.lockedSessions, 0);
  });

  it("with clients abandoning their lock (short leases) no acknowledged write is lost and stale writes fail ABORTED", async () => {
    const LEASE_MS = 200;
    const ABANDONERS = 8;
    const TARGET = 25; // acknowledged increments wanted per client
    const clients = Array.from({ length: CLIENTS }, () => t().connect().call);
    let acknowledged = 0;
    let abortedInFlight = 0;
    let abandoned = 0;
    let staleRefused = 0;
    let staleAccepted = 0;

    async function setCounter(calls: Calls, lockId: bigint, value: number): Promise<boolean> {
      try {
        const set = await calls.set({ sessionId: SESSION, data: String(value + 1), lockId });
        assert.equal(set.written, true);
        return true;
      } catch (error) {
        assert.ok(isServiceError(error) && error.code === grpc.status.ABORTED, `only ABORTED is acceptable: ${String(error)}`);
        return false;
      }
    }

    await Promise.all(
      clients.map(async (calls, index) => {
        const abandoner = index < ABANDONERS;
        let done = 0;
        for (let attempt = 0; done < TARGET; attempt++) {
          assert.ok(attempt < TARGET * 4, "too many failed attempts");
          const { lockId, value } = await lockCounter(calls, LEASE_MS);
          if (abandoner && attempt % 10 === 3) {
            // Walk away holding the lock; come back after the server ended the lease.
            abandoned++;
            for (let polls = 0; ; polls++) {
              assert.ok(polls < 500, "the abandoned lease never ended");
              const seen = await calls.get({ sessionId: SESSION });
              if (seen.outcome === Outcome.OUTCOME_OK || seen.lockId !== lockId) break;
              await sleep(20);
            }
            try {
              await calls.set({ sessionId: SESSION, data: String(value + 1), lockId });
              staleAccepted++;
            } catch (error) {
              assert.ok(isServiceError(error), String(error));
              assert.equal(error.code, grpc.status.ABORTED, `stale write: ${error.details}`);
              assert.ok(
                ["LEASE_EXPIRED", "STALE_LOCK_ID", "LOCKED_BY_OTHER"].includes(reasonOf(error) ?? ""),
                `reason ${String(reasonOf(error))}`,
              );
              staleRefused++;
            }
            continue;
          }
          if (await setCounter(calls, lockId, value)) {
            acknowledged++;
            done++;
          } else {
            abortedInFlight++;
          }
        }
      }),
    );

    const final = await t().call.get({ sessionId: SESSION });
    assert.equal(final.outcome, Outcome.OUTCOME_OK);
    assert.equal(staleAccepted, 0, "a write with a stale lock id was accepted");
    assert.equal(staleRefused, abandoned);
    assert.ok(abandoned >= ABANDONERS * 2, `locks were abandoned (${abandoned})`);
    assert.equal(acknowledged, CLIENTS * TARGET);
    assert.equal(
      counterOf(final.data),
      acknowledged,
      `final counter = acknowledged increments (aborted in flight: ${abortedInFlight})`,
    );
  });
});
