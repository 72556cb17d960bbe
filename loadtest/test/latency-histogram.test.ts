import assert from "node:assert/strict";
import { LatencyHistogram, PLOT_PERCENTILES } from "../src/latency-histogram";

/** Three significant digits: every value is within 0.1 % of the truth. */
function assertClose(actual: number, expected: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= expected * 0.001 + 1, `${label}: ${actual} is not within 0.1 % of ${expected}`);
}

describe("LatencyHistogram", () => {
  function uniform(from: number, to: number): LatencyHistogram {
    const histogram = new LatencyHistogram();
    for (let value = from; value <= to; value++) histogram.record(value);
    return histogram;
  }

  it("gives the percentiles of a known distribution within its precision", () => {
    const summary = uniform(1, 10_000).summary();
    assert.equal(summary.count, 10_000);
    assertClose(summary.p50, 5_000, "p50");
    assertClose(summary.p90, 9_000, "p90");
    assertClose(summary.p99, 9_900, "p99");
    assertClose(summary.p999, 9_990, "p99.9");
    assertClose(summary.max, 10_000, "max");
    assertClose(summary.mean, 5_000.5, "mean");
  });

  it("reports zeros when empty", () => {
    assert.deepEqual(new LatencyHistogram().summary(), { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });

  it("rounds fractions and clamps values below 1 µs to 1 µs", () => {
    const histogram = new LatencyHistogram();
    histogram.record(0.2);
    histogram.record(-5);
    histogram.record(2.6);
    assert.equal(histogram.count, 3);
    assert.equal(histogram.valueAt(50), 1);
    assert.equal(histogram.summary().max, 3);
  });

  it("merges: two halves added equal the whole", () => {
    const whole = uniform(1, 2_000).summary();
    const merged = uniform(1, 1_000);
    merged.add(uniform(1_001, 2_000));
    assert.deepEqual(merged.summary(), whole);
  });

  it("survives encoding and decoding (how worker threads send it)", () => {
    const original = uniform(100, 5_000);
    original.record(1_234_567);
    const decoded = LatencyHistogram.decode(original.encode()).summary();
    const expected = original.summary();
    // The encoding keeps buckets, not values: max comes back as its bucket's top, within precision.
    assert.deepEqual({ ...decoded, max: 0 }, { ...expected, max: 0 });
    assertClose(decoded.max, expected.max, "max");
    assert.equal(LatencyHistogram.decode("").count, 0);
  });

  it("corrects a closed-loop stall for coordinated omission by adding the missed samples", () => {
    const histogram = new LatencyHistogram();
    // One 100 ms stall where a sample was expected every 1 ms: 99 more samples of 99 … 1 ms.
    histogram.recordCorrected(100_000, 1_000);
    assert.equal(histogram.count, 100);
    assertClose(histogram.valueAt(50), 50_000, "median of the corrected samples");
  });

  it("gives a non-decreasing percentile distribution at the plot's percentiles", () => {
    const histogram = uniform(1, 50_000);
    const points = histogram.distribution();
    assert.equal(points.length, PLOT_PERCENTILES.length);
    for (let index = 1; index < points.length; index++) {
      const previous = points[index - 1];
      const point = points[index];
      assert.ok(previous !== undefined && point !== undefined);
      assert.ok(point.valueUs >= previous.valueUs, `p${point.percentile} < p${previous.percentile}`);
    }
  });
});
