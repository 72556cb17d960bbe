/**
 * A cumulative explicit-bucket histogram aggregated by Stateward itself, for the metrics it hands
 * to the metric readers as a MetricProducer (see call-metrics.ts for why not the SDK's instruments,
 * gc-metrics.ts for a histogram fed from outside the call path). Recording is a bucket search and
 * a few additions.
 */
import type { Histogram } from "@opentelemetry/sdk-metrics";

/** One series of a histogram. */
export class CumulativeHistogram {
  private readonly counts: number[];
  private count = 0;
  private sum = 0;
  private min = Infinity;
  private max = -Infinity;

  /** @param bounds - the ascending upper bounds of the buckets (an overflow bucket follows them). */
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Records one value. */
  record(value: number): void {
    const bounds = this.bounds;
    let bucket = 0;
    // Linear: almost every value falls in the first few buckets.
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** The values so far, as the SDK's histogram data point value. */
  snapshot(): Histogram {
    return {
      buckets: { boundaries: [...this.bounds], counts: [...this.counts] },
      count: this.count,
      sum: this.sum,
      ...(this.count > 0 ? { min: this.min, max: this.max } : {}),
    };
  }
}
