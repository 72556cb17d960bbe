/**
 * Redis killed (SIGKILL) and restarted under load, with `appendonly yes` and `appendfsync always`:
 * while it is down every call fails fast with UNAVAILABLE / BACKEND_UNAVAILABLE (never a hang, never
 * another error) and grpc.health.v1 says NOT_SERVING; once it is back, calls succeed again by
 * themselves, and no acknowledged write is lost.
 */
import * as assert from "node:assert/strict";

import { startRedis, type RedisProcess } from "../helpers/redis-server";
import { Outcome, expectStatus, grpc, isServiceError, reasonOf, sleep, waitFor, withTimeout, type Calls } from "../helpers/test-server";
import { counterOf } from "./locked-increments";
import { uniquePrefix, useNodes, type StatewardNode } from "./stateward-nodes";

/** The deadline of each call of the load: a call that hangs shows as DEADLINE_EXCEEDED. */
const DEADLINE_MS = 1000;
/** The pause after a failed call, so that the load does not spin while Redis is down. */
const PAUSE_AFTER_FAILURE_MS = 20;

type Phase = "up" | "down" | "back";

/** A failed call of the load. */
interface Failure {
  readonly phase: Phase;
  readonly code: grpc.status;
  readonly reason: string | undefined;
  readonly ms: number;
  readonly what: string;
}

/** What one worker of the load saw. */
interface WorkerLog {
  /** Acknowledged calls, by the phase they started in. */
  readonly acked: Record<Phase, number>;
  readonly failures: Failure[];
}

function newLog(): WorkerLog {
  return { acked: { up: 0, down: 0, back: 0 }, failures: [] };
}

describe("Redis backend: Redis killed and restarted under load", function () {
  this.timeout(60_000);
  let redis: RedisProcess | undefined;
  const nodeSet = useNodes();

  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
  });

  it("fails fast with UNAVAILABLE / BACKEND_UNAVAILABLE while it is down, reports NOT_SERVING, recovers by itself, and loses no acknowledged write", async () => {
    redis = await startRedis({ appendonly: true, appendfsync: "always" });
    const nodes = await nodeSet().start(2, { url: redis.url, prefix: uniquePrefix() });
    const [a, b] = nodes;
    assert.ok(a && b);
    await a.call.set({ sessionId: "counter", data: "0" });

    let phase: Phase = "up";
    let stopped = false;

    let broken: unknown;

    /** Runs `attempt` until stopped, logging each outcome under the phase the call started in. */
    async function runWorker(log: WorkerLog, what: string, attempt: () => Promise<boolean>): Promise<void> {
      try {
        while (!stopped) {
          const started = phase;
          const at = performance.now();
          try {
            if (await attempt()) log.acked[started] += 1;
          } catch (error) {
            assert.ok(isServiceError(error), `${what}: ${String(error)}`);
            log.failures.push({ phase: started, code: error.code, reason: reasonOf(error), ms: performance.now() - at, what: `${what}: ${error.details}` });
            await sleep(PAUSE_AFTER_FAILURE_MS);
          }
        }
      } catch (error) {
        // Something else than a gRPC error: stop the load and let the test report this, not a timeout.
        broken ??= error;
        stopped = true;
        throw error;
      }
    }

    /** `condition` of the load, failing at once when a worker broke. */
    const unlessBroken = (condition: () => boolean) => (): boolean => {
      if (broken !== undefined) throw broken;
      return condition();
    };

    // Unlocked writers, one session each: the highest acknowledged version and value of each.
    const writers = Array.from({ length: 6 }, (_, i) => {
      const node = nodes[i % nodes.length] as StatewardNode;
      const calls: Calls = i % 2 === 0 ? node.newCalls() : node.newPipelineCalls();
      const sessionId = `w${i}`;
      const log = newLog();
      let next = 0;
      const acked = { version: 0n, value: -1 };
      const done = runWorker(log, `Set ${sessionId}`, async () => {
        const value = next++;
        const written = await calls.set({ sessionId, data: String(value) }, { deadlineMs: DEADLINE_MS });
        assert.ok(written.version > acked.version, "versions increase");
        acked.version = written.version;
        acked.value = value;
        return true;
      });
      return { sessionId, log, acked, done };
    });

    // Locked increments of one counter from both nodes (a short lease, so that a lock whose holder
    // lost its Set while Redis was down does not stall the others long).
    let incrementsAcked = 0;
    let incrementsTried = 0;
    const incrementers = Array.from({ length: 2 }, (_, i) => {
      const node = nodes[i % nodes.length] as StatewardNode;
      const calls = node.newCalls();
      const log = newLog();
      const done = runWorker(log, "locked increment", async () => {
        const locked = await calls.lock({ sessionId: "counter", waitMs: 500, leaseMs: 1000 }, { deadlineMs: DEADLINE_MS });
        if (locked.outcome !== Outcome.OUTCOME_OK) return false;
        incrementsTried += 1;
        await calls.set({ sessionId: "counter", data: String(counterOf(locked.data) + 1), lockId: locked.lockId }, { deadlineMs: DEADLINE_MS });
        incrementsAcked += 1;
        return true;
      });
      return { log, done };
    });
    const workers = [...writers, ...incrementers];

    try {
      await waitFor(unlessBroken(() => workers.every((w) => w.log.acked.up >= 10)), "10 acknowledged calls per worker before the kill", 15_000);
      for (const node of nodes) assert.equal(await node.health(), "SERVING");

      await redis.kill();
      phase = "down";
      await waitFor(unlessBroken(() => workers.every((w) => w.log.failures.filter((f) => f.phase === "down").length >= 3)), "3 failed calls per worker while Redis is down", 15_000);
      for (const node of nodes) {
        let status = "";
        await waitFor(async () => (status = await node.health()) === "NOT_SERVING", `${node.name}'s health NOT_SERVING while Redis is down (is ${status})`, 10_000);
        assert.equal(await node.health("stateward.v1.SessionState"), "NOT_SERVING");
      }
      // A call without any deadline does not hang either.
      await expectStatus(withTimeout(b.call.get({ sessionId: "w0" }), 5000, "a call without deadline"), grpc.status.UNAVAILABLE, { reason: "BACKEND_UNAVAILABLE" });
      await expectStatus(withTimeout(a.pipeline.call.lock({ sessionId: "w1" }), 5000, "a pipelined call without timeout"), grpc.status.UNAVAILABLE, {
        reason: "BACKEND_UNAVAILABLE",
      });

      await redis.restart();
      phase = "back";
      await waitFor(unlessBroken(() => workers.every((w) => w.log.acked.back >= 10)), "10 acknowledged calls per worker after the restart", 20_000);
      for (const node of nodes) {
        let status = "";
        await waitFor(async () => (status = await node.health()) === "SERVING", `${node.name}'s health SERVING again (is ${status})`, 10_000);
      }
    } finally {
      stopped = true;
      await Promise.all(workers.map((w) => w.done));
    }

    // Every failure, whenever it happened, was the backend's UNAVAILABLE, well within its deadline.
    for (const w of workers) {
      for (const failure of w.log.failures) {
        assert.equal(failure.code, grpc.status.UNAVAILABLE, `${failure.what} failed (${failure.phase}) with ${grpc.status[failure.code]}, not UNAVAILABLE`);
        assert.equal(failure.reason, "BACKEND_UNAVAILABLE", `${failure.what}: reason ${String(failure.reason)}`);
        assert.ok(failure.ms < DEADLINE_MS, `${failure.what} took ${failure.ms.toFixed(0)} ms to fail`);
      }
    }

    // No acknowledged write is lost: every session has at least its last acknowledged version.
    for (const w of writers) {
      const read = await a.call.get({ sessionId: w.sessionId });
      assert.equal(read.outcome, Outcome.OUTCOME_OK, `${w.sessionId} exists`);
      assert.ok(read.version >= w.acked.version, `${w.sessionId}: version ${read.version} >= acknowledged ${w.acked.version}`);
      assert.ok(counterOf(read.data) >= w.acked.value, `${w.sessionId}: value ${counterOf(read.data)} >= acknowledged ${w.acked.value}`);
    }
    const counter = counterOf((await b.call.get({ sessionId: "counter", waitMs: 5000 })).data);
    assert.ok(counter >= incrementsAcked, `the counter ${counter} has every acknowledged increment (${incrementsAcked})`);
    assert.ok(counter <= incrementsTried, `and none that was not tried (${incrementsTried})`);
  });
});
