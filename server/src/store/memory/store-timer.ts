import type { Clock, TimerHandle } from "../clock";

/** Node timers cannot wait longer than 2^31-1 ms; longer waits re-arm on wake-up. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * The backend's single timer, for every lease end, wait deadline, expiry slice and compaction
 * slice (one structure per shard orders them; never one timer per lock or waiter). It also keeps
 * the pace of the slices: at most one per `expiryIntervalMs`.
 */
export class StoreTimer {
  private handle: TimerHandle | undefined;
  private wakeAt = Infinity;
  private inWake = false;
  private stopped = false;
  private lastSliceAt = -Infinity;

  /**
   * @param clock - the time source.
   * @param expiryIntervalMs - the shortest time between two slices.
   * @param work - runs what is due at `now` and returns when the timer must fire next (Infinity:
   *   nothing pending). Arming from inside it is ignored: its answer decides.
   */
  constructor(
    private readonly clock: Clock,
    private readonly expiryIntervalMs: number,
    private readonly work: (now: number) => number,
  ) {}

  /** Makes sure the timer fires no later than `at`. */
  arm(at: number): void {
    if (this.inWake || this.stopped || at >= this.wakeAt) return;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.wakeAt = at;
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(at - this.clock.now())));
    this.handle = this.clock.setTimeout(this.onTimer, delay);
  }

  /** When the next slice may run. */
  get nextSliceAt(): number {
    return this.lastSliceAt + this.expiryIntervalMs;
  }

  /** Records that a slice ran at `now` (the next one waits an interval). */
  sliceRan(now: number): void {
    this.lastSliceAt = now;
  }

  /** Makes sure a slice comes (after frees that left slabs to compact), at its pace. */
  armSlice(now: number): void {
    this.arm(Math.max(now, this.nextSliceAt));
  }

  /** Runs the due work now instead of waiting for the timer, then re-arms. */
  runNow(): void {
    this.cancel();
    this.fire();
  }

  /** Stops for good: the timer is cleared and never armed again. */
  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private cancel(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.wakeAt = Infinity;
  }

  private readonly onTimer = (): void => {
    this.handle = undefined;
    this.wakeAt = Infinity;
    this.fire();
  };

  private fire(): void {
    if (this.stopped) return;
    this.inWake = true;
    let next: number;
    try {
      next = this.work(this.clock.now());
    } finally {
      this.inWake = false;
    }
    if (next !== Infinity) this.arm(next);
  }
}
