/** Opaque handle of a timer created by a {@link Clock}. */
export type TimerHandle = unknown;

/**
 * The store's only source of time. Injected so that TTL, lease and wait tests move fake time
 * instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (may be fractional). */
  now(): number;
  /** Runs `callback` once after `ms` milliseconds. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer from {@link Clock.setTimeout}; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `Date.now()` and Node timers (unref'd, so they never keep a process alive). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
