/**
 * The arrival schedule of an open-loop run: request i is due at start + i / rate, whatever happened
 * to the requests before it. Latency is measured from that intended send time, so a stall is charged
 * to every request that should have been sent during it (no coordinated omission).
 */

/** Fixed-rate schedule of intended send times. */
export class OpenLoopSchedule {
  private nextIndex = 0;
  private readonly intervalMs: number;

  /**
   * @param startMs - intended send time of request 0, on the driver's clock.
   * @param ratePerSecond - arrivals per second (> 0).
   * @param limit - number of requests in the schedule (Infinity: until the caller stops).
   */
  constructor(
    readonly startMs: number,
    readonly ratePerSecond: number,
    readonly limit: number = Number.POSITIVE_INFINITY,
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new RangeError("rate must be a positive number");
    this.intervalMs = 1000 / ratePerSecond;
  }

  /** Interval between two intended sends, ms. */
  get interval(): number {
    return this.intervalMs;
  }

  /** Intended send time of request `index`, ms. */
  intendedTime(index: number): number {
    // Multiplication, not accumulation: no drift over millions of requests.
    return this.startMs + index * this.intervalMs;
  }

  /** How many requests are due at `nowMs` in total (sent or not). */
  dueCount(nowMs: number): number {
    if (nowMs < this.startMs) return 0;
    return Math.min(this.limit, Math.floor((nowMs - this.startMs) / this.intervalMs) + 1);
  }

  /** How many requests have been claimed. */
  get claimed(): number {
    return this.nextIndex;
  }

  /**
   * Claims the next request: its index and intended time, or undefined when the schedule is
   * exhausted. Several senders share one schedule; each claim goes to exactly one of them.
   */
  claim(): { index: number; intendedMs: number } | undefined {
    if (this.nextIndex >= this.limit) return undefined;
    const index = this.nextIndex++;
    return { index, intendedMs: this.intendedTime(index) };
  }

  /** Requests due at `nowMs` but not yet claimed: the backlog while every sender is busy. */
  backlog(nowMs: number): number {
    return Math.max(0, this.dueCount(nowMs) - this.nextIndex);
  }
}
