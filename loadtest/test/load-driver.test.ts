import assert from "node:assert/strict";
import { summarizeIntervals } from "../src/interval-timeline";
import { runLoad, type LoadOptions, type RequestFn } from "../src/load-driver";
import { VirtualClock } from "./helpers/virtual-clock";

const BASE: LoadOptions = { mode: "closed", concurrency: 1, warmupMs: 0, durationMs: 100, intervalMs: 10 };

/** A request that takes `serviceMs(index)` of virtual time. */
function service(clock: VirtualClock, serviceMs: (index: number) => number): RequestFn {
  return async (index) => {
    await clock.sleep(serviceMs(index));
  };
}

describe("runLoad (virtual time)", () => {
  it("closed loop: one sender at a time, latency = service time, throughput over time", async () => {
    const clock = new VirtualClock();
    const result = await clock.run(runLoad(service(clock, () => 1), BASE, clock));
    assert.equal(result.completed, 100);
    assert.equal(result.histogram.valueAt(50), 1_000);
    assert.equal(result.measuredMs, 100);
    assert.deepEqual(result.timeline.slice(0, 10), [9, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
    assert.deepEqual(result.outcomes, { OK: 100 });
  });

  it("records p50, p99 and max per interval, by completion time, failures counted but without latency", async () => {
    // One sender: requests 0 … 49 take 1 ms (done at 1 … 50 ms), the rest 2 ms (done at 52, 54, …);
    // request 60 fails.
    const clock = new VirtualClock();
    const request: RequestFn = async (index) => {
      await clock.sleep(index < 50 ? 1 : 2);
      if (index === 60) throw Object.assign(new Error("unavailable"), { code: 14 });
    };
    const result = await clock.run(runLoad(request, BASE, clock));
    const intervals = summarizeIntervals({ counts: result.timeline, latency: result.intervalLatency }, BASE.intervalMs, 10);
    assert.deepEqual(intervals[0], { startMs: 0, count: 9, p50: 1_000, p99: 1_000, max: 1_000 });
    // 50 ms (a 1 ms request) and 52, 54, 56, 58 ms (2 ms ones).
    assert.deepEqual(intervals[5], { startMs: 50, count: 5, p50: 2_000, p99: 2_000, max: 2_000 });
    // 70 … 78 ms: request 60 ended at 72 ms and failed.
    assert.equal(result.timeline[7], 5);
    assert.deepEqual(intervals[7], { startMs: 70, count: 4, p50: 2_000, p99: 2_000, max: 2_000 });
    assert.equal(
      intervals.reduce((sum, interval) => sum + interval.count, 0),
      result.histogram.count - result.timeline.slice(10).reduce((sum, count) => sum + count, 0),
    );
  });

  it("closed loop with concurrency 4 completes four times as much", async () => {
    const clock = new VirtualClock();
    const result = await clock.run(runLoad(service(clock, () => 1), { ...BASE, concurrency: 4 }, clock));
    assert.equal(result.completed, 400);
  });

  it("open loop: requests leave at their intended times", async () => {
    const clock = new VirtualClock();
    const sent: number[] = [];
    const request: RequestFn = async () => {
      sent.push(clock.now());
      await clock.sleep(0.5);
    };
    const result = await clock.run(runLoad(request, { ...BASE, mode: "open", ratePerSecond: 1_000, concurrency: 4 }, clock));
    assert.equal(result.completed, 100);
    assert.deepEqual(sent.slice(0, 5), [0, 1, 2, 3, 4]);
    assert.equal(result.histogram.summary().max, 500);
  });

  it("open loop charges a stall to every request that should have been sent during it", async () => {
    // 1 request per ms, 0.5 ms each, one sender; request 10 stalls for 100 ms. Requests 11 … 209
    // queue behind it and catch up at 0.5 ms per ms: request k ends at 110 + (k − 10) × 0.5 ms.
    const stall = (index: number): number => (index === 10 ? 100 : 0.5);
    const clock = new VirtualClock();
    const open = await clock.run(runLoad(service(clock, stall), { ...BASE, mode: "open", ratePerSecond: 1_000, durationMs: 300 }, clock));
    assert.equal(open.completed, 300);
    // Requests 10 … 109 waited more than 50 ms: a third of the run.
    const above50 = (percentile: number): boolean => open.histogram.valueAt(percentile) > 50_000;
    assert.ok(above50(67.5), "p67.5 must show the stall");
    assert.ok(!above50(66), "p66 is after the backlog drained below 50 ms");
    assert.ok(open.histogram.summary().max >= 99_900);

    // The same stall in closed loop is one slow sample: coordinated omission hides it.
    const closedClock = new VirtualClock();
    const closed = await closedClock.run(runLoad(service(closedClock, stall), { ...BASE, durationMs: 300 }, closedClock));
    assert.equal(closed.histogram.valueAt(99), 500);
    assert.ok(closed.histogram.summary().max >= 99_900);
  });

  it("does not record the warm-up", async () => {
    const clock = new VirtualClock();
    const result = await clock.run(runLoad(service(clock, () => 1), { ...BASE, warmupMs: 10 }, clock));
    assert.equal(result.warmupRequests, 10);
    assert.equal(result.completed, 100);
  });

  it("stops at maxRequests in count mode", async () => {
    const clock = new VirtualClock();
    const result = await clock.run(runLoad(service(clock, () => 1), { ...BASE, concurrency: 3, maxRequests: 50 }, clock));
    assert.equal(result.completed, 50);
    assert.equal(result.histogram.count, 50);
  });

  it("counts failures by status name and keeps them out of the latency", async () => {
    const clock = new VirtualClock();
    const request: RequestFn = async (index) => {
      await clock.sleep(1);
      if (index % 4 === 0) throw Object.assign(new Error("unavailable"), { code: 14 });
      return { outcome: index % 4 === 1 ? "NOT_FOUND" : "OK" };
    };
    const result = await clock.run(runLoad(request, BASE, clock));
    assert.deepEqual(result.errors, { UNAVAILABLE: 25 });
    assert.deepEqual(result.outcomes, { NOT_FOUND: 25, OK: 50 });
    assert.equal(result.histogram.count, 75);
  });

  it("takes think time off the latency", async () => {
    const clock = new VirtualClock();
    const request: RequestFn = async () => {
      await clock.sleep(3);
      return { excludedMs: 2 };
    };
    const result = await clock.run(runLoad(request, { ...BASE, durationMs: 30 }, clock));
    assert.equal(result.histogram.valueAt(100), 1_000);
  });

  it("refuses an unbounded or empty configuration", async () => {
    const clock = new VirtualClock();
    await assert.rejects(runLoad(service(clock, () => 1), { ...BASE, durationMs: Number.POSITIVE_INFINITY }, clock), RangeError);
    await assert.rejects(runLoad(service(clock, () => 1), { ...BASE, concurrency: 0 }, clock), RangeError);
    await assert.rejects(runLoad(service(clock, () => 1), { ...BASE, mode: "open" }, clock), RangeError);
  });
});
