/**
 * Latency recording in an HDR histogram: microsecond values, three significant digits, mergeable
 * across worker threads through its compressed encoding.
 */
import * as hdr from "hdr-histogram-js";

/** Highest latency the histogram tracks, in µs (one hour); larger values are clamped to it. */
export const MAX_TRACKABLE_US = 3_600_000_000;

/** The percentiles every report shows. */
export interface LatencySummary {
  /** Number of recorded values. */
  readonly count: number;
  /** Mean, µs. */
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  /** Largest recorded value, µs (exact up to the histogram's precision). */
  readonly max: number;
}

/** One point of a latency-percentile distribution plot. */
export interface PercentilePoint {
  /** Percentile, 0–100. */
  readonly percentile: number;
  /** Latency at that percentile, µs. */
  readonly valueUs: number;
}

/** The percentiles of the distribution plot: denser towards the tail, as HdrHistogram plots are. */
export const PLOT_PERCENTILES: readonly number[] = [
  0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 97.5, 98, 98.5, 99, 99.25, 99.5, 99.75,
  99.9, 99.95, 99.99, 99.999, 100,
];

/** A latency histogram in µs. */
export class LatencyHistogram {
  private readonly histogram: hdr.Histogram;

  constructor() {
    // The pure JS implementation: the WebAssembly one needs an async init per thread, and the
    // recording cost of either is far below one gRPC call.
    this.histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: MAX_TRACKABLE_US,
      numberOfSignificantValueDigits: 3,
      bitBucketSize: 64,
      useWebAssembly: false,
    });
  }

  /** Decodes what {@link LatencyHistogram.encode} produced (e.g. in another thread). */
  static decode(encoded: string): LatencyHistogram {
    const result = new LatencyHistogram();
    if (encoded !== "") result.histogram.add(hdr.decodeFromCompressedBase64(encoded, 64, false));
    return result;
  }

  /** Number of recorded values. */
  get count(): number {
    return this.histogram.totalCount;
  }

  /** Records one latency in µs; fractions are rounded, values below 1 µs count as 1 µs. */
  record(valueUs: number): void {
    const rounded = Math.round(valueUs);
    this.histogram.recordValue(Math.min(MAX_TRACKABLE_US, Math.max(1, rounded)));
  }

  /** Records `count` latencies of `valueUs` (a bucket of another histogram, e.g. the Go driver's). */
  recordCount(valueUs: number, count: number): void {
    if (count <= 0) return;
    this.histogram.recordValueWithCount(Math.min(MAX_TRACKABLE_US, Math.max(1, Math.round(valueUs))), count);
  }

  /**
   * Records a latency measured by a closed-loop sender and adds the samples it would have taken
   * every `expectedIntervalUs` during a stall (HdrHistogram's coordinated-omission correction).
   * Open-loop runs need no correction: they measure from the intended send time.
   */
  recordCorrected(valueUs: number, expectedIntervalUs: number): void {
    const rounded = Math.min(MAX_TRACKABLE_US, Math.max(1, Math.round(valueUs)));
    this.histogram.recordValueWithExpectedInterval(rounded, Math.max(0, Math.round(expectedIntervalUs)));
  }

  /** Adds every value of `other` to this histogram. */
  add(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  /** The latency at `percentile` (0–100), µs; 0 when empty. */
  valueAt(percentile: number): number {
    return this.count === 0 ? 0 : this.histogram.getValueAtPercentile(percentile);
  }

  /** Count, mean and the reported percentiles. */
  summary(): LatencySummary {
    if (this.count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    return {
      count: this.count,
      mean: this.histogram.mean,
      p50: this.valueAt(50),
      p90: this.valueAt(90),
      p99: this.valueAt(99),
      p999: this.valueAt(99.9),
      max: this.histogram.maxValue,
    };
  }

  /** The distribution at {@link PLOT_PERCENTILES}, for the percentile plot. */
  distribution(percentiles: readonly number[] = PLOT_PERCENTILES): PercentilePoint[] {
    return percentiles.map((percentile) => ({ percentile, valueUs: this.valueAt(percentile) }));
  }

  /** Compressed base64 form, for sending between threads and keeping in the JSON report. */
  encode(): string {
    return this.count === 0 ? "" : hdr.encodeIntoCompressedBase64(this.histogram);
  }
}
