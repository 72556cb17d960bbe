/**
 * One timer for many deadlines. A pipeline client has thousands of operations in flight, each
 * with a deadline that almost never fires: a `setTimeout` each costs a timer object, a closure and
 * two timer-list operations per operation. The wheel files deadlines into buckets of one coarse
 * tick and keeps a single unref'd timer armed for the earliest bucket, only while a deadline is
 * pending. A deadline fires no earlier than asked and at most one tick (plus the event loop's own
 * lateness) after.
 */

/** Something with a deadline: the wheel calls `onDeadline` once when it passes, unless removed. */
export interface DeadlineEntry {
  /** The wheel's bookkeeping: the tick the entry is filed under, -1 when it is in no wheel. */
  deadlineTick: number;
  /** Called once, by the wheel's timer, when the deadline has passed. */
  onDeadline(): void;
}

/** The clock and timer the wheel uses (injected by tests). */
export interface WheelTimers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd: a pending deadline never keeps the process alive on its own. */
const NODE_TIMERS: WheelTimers = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The longest delay `setTimeout` honours, in ms (a longer one fires at once). */
const MAX_TIMER_MS = 2_147_483_647;

/** The default tick, in ms: deadlines of operations are tens of ms and more. */
export const DEFAULT_DEADLINE_TICK_MS = 5;

/** Deadlines bucketed by tick, behind one timer. */
export class DeadlineWheel {
  /** Entries by the tick their deadline falls in (rounded up). */
  private readonly buckets = new Map<number, Set<DeadlineEntry>>();
  /** The ticks of `buckets`, ascending (new ones are nearly always the last). */
  private ticks: number[] = [];
  private count = 0;
  private timer: unknown = undefined;
  /** The tick the timer is armed for (Infinity: none). */
  private armedTick = Infinity;
  private readonly onTimer = (): void => this.expire();

  /**
   * @param tickMs - bucket width in ms; deadlines fire at most this late.
   * @param timers - clock and timers (Node's, unref'd, by default).
   */
  constructor(
    private readonly tickMs: number = DEFAULT_DEADLINE_TICK_MS,
    private readonly timers: WheelTimers = NODE_TIMERS,
  ) {}

  /** Entries pending. */
  get size(): number {
    return this.count;
  }

  /** Files `entry` to fire `delayMs` from now (an entry already filed is moved). */
  add(entry: DeadlineEntry, delayMs: number): void {
    if (entry.deadlineTick >= 0) this.remove(entry);
    // Rounded up: a deadline never fires before its time.
    const tick = Math.ceil((this.timers.now() + Math.max(0, delayMs)) / this.tickMs);
    let bucket = this.buckets.get(tick);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(tick, bucket);
      this.insertTick(tick);
    }
    bucket.add(entry);
    entry.deadlineTick = tick;
    this.count++;
    if (tick < this.armedTick) this.arm(tick);
  }

  /** Takes `entry` out (no-op when it is not filed). */
  remove(entry: DeadlineEntry): void {
    const tick = entry.deadlineTick;
    if (tick < 0) return;
    entry.deadlineTick = -1;
    const bucket = this.buckets.get(tick);
    if (bucket === undefined || !bucket.delete(entry)) return;
    this.count--;
    // An empty bucket's tick stays in `ticks` until it passes (cheaper than a search); with
    // nothing pending at all, the wheel is reset and its timer stopped.
    if (bucket.size === 0) this.buckets.delete(tick);
    if (this.count === 0) this.reset();
  }

  /** Removes every entry without firing any, and stops the timer. */
  clear(): void {
    for (const bucket of this.buckets.values()) for (const entry of bucket) entry.deadlineTick = -1;
    this.reset();
  }

  private reset(): void {
    this.buckets.clear();
    this.ticks = [];
    this.count = 0;
    this.disarm();
  }

  private insertTick(tick: number): void {
    const ticks = this.ticks;
    let at = ticks.length;
    while (at > 0 && (ticks[at - 1] as number) > tick) at--;
    if (at === ticks.length) ticks.push(tick);
    else ticks.splice(at, 0, tick);
  }

  private arm(tick: number): void {
    this.disarm();
    this.armedTick = tick;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, tick * this.tickMs - this.timers.now()));
    this.timer = this.timers.setTimeout(this.onTimer, delay);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedTick = Infinity;
  }

  /** Fires every bucket whose tick has passed, then arms the timer for the next one. */
  private expire(): void {
    this.timer = undefined;
    this.armedTick = Infinity;
    const nowTick = this.timers.now() / this.tickMs;
    let passed = 0;
    const due: DeadlineEntry[] = [];
    for (const tick of this.ticks) {
      if (tick > nowTick) break;
      passed++;
      const bucket = this.buckets.get(tick);
      if (bucket === undefined) continue;
      this.buckets.delete(tick);
      for (const entry of bucket) {
        entry.deadlineTick = -1;
        due.push(entry);
      }
    }
    this.ticks.splice(0, passed);
    this.count -= due.length;
    // Armed before the callbacks run, which may add or remove entries (and re-arm) themselves.
    const next = this.ticks[0];
    if (this.count === 0) this.reset();
    else if (next !== undefined) this.arm(next);
    for (const entry of due) entry.onDeadline();
  }
}
