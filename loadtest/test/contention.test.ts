import assert from "node:assert/strict";
import { runContention, type ContentionOptions } from "../src/contention";
import { summarizeIntervals } from "../src/interval-timeline";
import type { LockOptions, LockResult, LockToken, SessionOps, SessionOutcome } from "../src/session-ops";
import { VirtualClock } from "./helpers/virtual-clock";

/** One session's lock in virtual time: every call takes `tripMs`, waiters are granted in FIFO order. */
class FakeLockServer {
  private holder: bigint | undefined;
  private nextId = 1n;
  private readonly queue: ((id: bigint) => void)[] = [];

  constructor(
    private readonly clock: VirtualClock,
    private readonly tripMs: number,
  ) {}

  async lock(options: LockOptions): Promise<LockResult> {
    await this.clock.sleep(this.tripMs / 2);
    if (this.holder === undefined) {
      this.holder = this.nextId++;
      await this.clock.sleep(this.tripMs / 2);
      return { outcome: "OK", token: this.holder };
    }
    if (options.waitMs === 0) {
      await this.clock.sleep(this.tripMs / 2);
      return { outcome: "LOCKED", token: this.holder };
    }
    const granted = await new Promise<bigint>((resolve) => this.queue.push(resolve));
    await this.clock.sleep(this.tripMs / 2);
    return { outcome: "OK", token: granted };
  }

  async set(token: LockToken | undefined): Promise<void> {
    await this.clock.sleep(this.tripMs / 2);
    if (token !== this.holder) throw Object.assign(new Error("stale"), { code: 10 });
    const next = this.queue.shift();
    this.holder = next === undefined ? undefined : this.nextId++;
    if (next !== undefined && this.holder !== undefined) next(this.holder);
    await this.clock.sleep(this.tripMs / 2);
  }

  client(): SessionOps {
    return {
      get: async (): Promise<SessionOutcome> => "OK",
      lock: (_id, options) => this.lock(options),
      set: (_id, _data, token) => this.set(token),
      close: () => undefined,
    };
  }
}

function options(mode: "wait" | "poll", clients: SessionOps[]): ContentionOptions {
  return { mode, clients, sessionId: "s", durationMs: 2_000, pollMs: 500, waitMs: 10_000, workMs: 0, leaseMs: 0, graceMs: 5_000, intervalMs: 1_000 };
}

describe("runContention (virtual time)", () => {
  it("wait: each handoff costs one trip of the release and one of the grant", async () => {
    const clock = new VirtualClock();
    const server = new FakeLockServer(clock, 0.2);
    const clients = Array.from({ length: 4 }, () => server.client());
    const result = await clock.run(runContention(options("wait", clients), clock));
    assert.deepEqual(result.errors, {});
    assert.equal(result.criticalSections, result.rounds * 4);
    // Release sent → server (0.1 ms) → grant back (0.1 ms).
    assert.equal(result.handoff.valueAt(99), 200);
    assert.equal(result.handoff.count, result.rounds * 3);
    // Per second of the run: the critical sections, and the handoffs granted in it (200 µs each).
    assert.equal(result.startMs, 0);
    const intervals = summarizeIntervals({ counts: result.timeline, latency: result.intervalLatency }, 1_000, result.timeline.length);
    assert.equal(intervals.reduce((sum, interval) => sum + interval.count, 0), result.handoff.count);
    assert.equal(result.timeline.reduce((sum, count) => sum + count, 0), result.criticalSections);
    for (const interval of intervals.slice(0, 2)) assert.deepEqual([interval.p50, interval.p99, interval.max], [200, 200, 200]);
  });

  it("poll: handoffs wait for the next poll, so far fewer critical sections fit", async () => {
    const clock = new VirtualClock();
    const server = new FakeLockServer(clock, 0.2);
    const polling = await clock.run(runContention(options("poll", Array.from({ length: 4 }, () => server.client())), clock));
    const waitClock = new VirtualClock();
    const waitServer = new FakeLockServer(waitClock, 0.2);
    const waiting = await waitClock.run(runContention(options("wait", Array.from({ length: 4 }, () => waitServer.client())), waitClock));
    assert.ok(polling.lockedAnswers > 0);
    assert.ok(polling.handoff.valueAt(50) >= 400_000, "a polled handoff waits most of a poll period");
    assert.ok(waiting.criticalSections / polling.criticalSections >= 20);
  });

  it("stops starting rounds at the duration", async () => {
    const clock = new VirtualClock();
    const server = new FakeLockServer(clock, 1);
    const result = await clock.run(runContention(options("wait", [server.client(), server.client()]), clock));
    assert.ok(result.measuredMs >= 2_000 && result.measuredMs < 2_010);
  });
});
