/**
 * Time as the load driver sees it. Injected so that open-loop scheduling and coordinated-omission
 * correction can be tested in virtual time, without timing anything.
 */
import { performance } from "node:perf_hooks";

/** A monotonic clock in milliseconds (fractional) and a way to wait on it. */
export interface Clock {
  /** Monotonic time, ms, with sub-millisecond precision. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock (at once for `ms` ≤ 0, still asynchronously). */
  sleep(ms: number): Promise<void>;
}

/** The real clock: `performance.now()` and timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) =>
    new Promise((resolve) => {
      if (ms <= 0) setImmediate(resolve);
      else setTimeout(resolve, ms);
    }),
};
