import type { Clock, TimerHandle } from "./clock";

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A manual clock for tests: time moves only through {@link FakeClock.advance}, which runs due
 * timers in time order (timers created by callbacks run too if they fall due within the advance).
 */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  /** @param start - the initial time in epoch milliseconds. */
  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: this.nextId++, at: this.current + Math.max(0, ms), callback };
    this.timers.set(timer.id, timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === "number") this.timers.delete(handle);
  }

  /** Number of pending timers (for tests that check nothing leaks). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let due: FakeTimer | undefined;
      for (const timer of this.timers.values()) {
        if (timer.at <= target && (due === undefined || timer.at < due.at || (timer.at === due.at && timer.id < due.id))) {
          due = timer;
        }
      }
      if (due === undefined) break;
      this.timers.delete(due.id);
      this.current = Math.max(this.current, due.at);
      due.callback();
    }
    this.current = target;
  }
}
