import assert from "node:assert/strict";
import {
  bucketValueUs,
  chooseIntervalMs,
  IntervalRecorder,
  intervalMsOf,
  mergeRecordings,
  percentileOf,
  summarizeIntervals,
} from "../src/interval-timeline";
import { LatencyHistogram } from "../src/latency-histogram";

describe("interval time line", () => {
  it("chooses the longest interval that still gives at least 40, from 100 ms to 60 s", () => {
    assert.equal(chooseIntervalMs(3_000), 100);
    assert.equal(chooseIntervalMs(8_000), 200);
    assert.equal(chooseIntervalMs(10_000), 250);
    assert.equal(chooseIntervalMs(60_000), 1_000);
    assert.equal(chooseIntervalMs(10 * 60_000), 15_000);
    assert.equal(chooseIntervalMs(24 * 3_600_000), 60_000);
    assert.equal(chooseIntervalMs(500), 100);
    assert.equal(intervalMsOf({ durationMs: 10_000 }), 250);
    assert.equal(intervalMsOf({ durationMs: 10_000, intervalMs: 1_000 }), 1_000);
  });

  it("buckets values exactly as the run's HDR histogram reports them", () => {
    const values = [1, 2, 999, 2_047, 2_048, 2_049, 4_095, 4_096, 10_001, 123_457, 1_000_003, 3_600_000_000];
    for (let value = 1; value < 5_000_000_000; value = Math.ceil(value * 1.37) + 1) values.push(Math.min(value, 3_600_000_000));
    for (const value of values) {
      const histogram = new LatencyHistogram();
      histogram.record(value);
      assert.equal(bucketValueUs(value), histogram.valueAt(50), `value ${value}`);
    }
  });

  it("gives exact percentiles per interval on known inputs (nearest rank)", () => {
    const recorder = new IntervalRecorder(100);
    // Interval 0: 1 … 100 µs in shuffled order; interval 1: nothing; interval 2: 90 × 10 µs and 10 × 1,000 µs.
    const first = Array.from({ length: 100 }, (_, index) => ((index * 37) % 100) + 1);
    first.forEach((value, index) => {
      recorder.complete(index * 0.99);
      recorder.latency(index * 0.99, value);
    });
    for (let index = 0; index < 100; index++) {
      recorder.complete(200 + index * 0.5);
      recorder.latency(200 + index * 0.5, index < 90 ? 10 : 1_000);
    }
    // A failure counts as a completion without a latency.
    recorder.complete(250);
    const recording = recorder.finish();
    assert.deepEqual(recording.counts, [100, 0, 101]);
    assert.deepEqual(summarizeIntervals(recording, 100, 4), [
      { startMs: 0, count: 100, p50: 50, p99: 99, max: 100 },
      { startMs: 100, count: 0, p50: null, p99: null, max: null },
      { startMs: 200, count: 100, p50: 10, p99: 1_000, max: 1_000 },
      { startMs: 300, count: 0, p50: null, p99: null, max: null },
    ]);
  });

  it("agrees with HdrHistogram's percentiles on the same values", () => {
    const recorder = new IntervalRecorder(1_000);
    const histogram = new LatencyHistogram();
    let seed = 7;
    for (let index = 0; index < 4_999; index++) {
      seed = (seed * 48_271) % 2_147_483_647;
      const value = 50 + (seed % 200_000);
      recorder.latency(10, value);
      histogram.record(value);
    }
    const [interval] = recorder.finish().latency;
    assert.ok(interval !== undefined);
    for (const percentile of [1, 50, 90, 99, 99.9, 100]) assert.equal(percentileOf(interval, percentile), histogram.valueAt(percentile), `p${percentile}`);
  });

  it("takes the next rank up when the percentile falls between two values", () => {
    const recorder = new IntervalRecorder(100);
    for (const value of [7, 1, 6, 2, 5, 3, 4]) recorder.latency(0, value);
    const [interval] = recorder.finish().latency;
    assert.ok(interval !== undefined);
    // 7 values: p50 is the 4th (3.5 rounded up), p99 the 7th, p10 the 1st.
    assert.equal(percentileOf(interval, 50), 4);
    assert.equal(percentileOf(interval, 99), 7);
    assert.equal(percentileOf(interval, 10), 1);
    assert.equal(percentileOf({ values: [], counts: [] }, 50), null);
  });

  it("rounds and clamps latencies like the run's histogram", () => {
    const recorder = new IntervalRecorder(10);
    for (const value of [0.2, -3, 2.6]) recorder.latency(0, value);
    const [interval] = recorder.finish().latency;
    assert.deepEqual(interval, { values: [1, 3], counts: [2, 1] });
  });

  it("merges threads interval by interval", () => {
    const a = new IntervalRecorder(100);
    const b = new IntervalRecorder(100);
    for (let value = 1; value <= 50; value++) {
      a.complete(5);
      a.latency(5, value);
    }
    for (let value = 51; value <= 100; value++) {
      b.complete(50);
      b.latency(50, value);
    }
    b.complete(150);
    b.latency(150, 7);
    const merged = mergeRecordings([a.finish(), b.finish()]);
    assert.deepEqual(merged.counts, [100, 1]);
    assert.deepEqual(summarizeIntervals(merged, 100, 2), [
      { startMs: 0, count: 100, p50: 50, p99: 99, max: 100 },
      { startMs: 100, count: 1, p50: 7, p99: 7, max: 7 },
    ]);
  });

  it("reopens an interval that is recorded into again (a clock that went back)", () => {
    const recorder = new IntervalRecorder(100);
    recorder.latency(10, 5);
    recorder.latency(110, 6);
    recorder.latency(20, 7);
    const recording = recorder.finish();
    assert.deepEqual(recording.latency[0], { values: [5, 7], counts: [1, 1] });
    assert.deepEqual(recording.latency[1], { values: [6], counts: [1] });
  });
});
