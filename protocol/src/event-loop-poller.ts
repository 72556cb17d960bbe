/**
 * Spin-then-block polling of the Node event loop, for the Pipeline's two ends.
 *
 * Why: a message between two processes that both sleep in epoll costs each of them a wake-up, and
 * on a virtual machine a wake-up is expensive: measured on the 2-core development VM, a Pipeline Get
 * at one in flight took 140 µs round trip when both sides slept between messages and 40 µs when
 * both kept polling (6.5 k vs 24–27 k Get/s), and Lock+Set at 64 in flight went from 25–26 k to
 * 52 k pairs/s. So after a message goes out or comes in, the event loop keeps polling (an
 * immediate that re-arms itself makes libuv poll with a zero timeout) for a short window in which
 * the answer, or the next message, is likely to arrive; when the window passes with nothing new,
 * the loop blocks again as usual.
 *
 * Cost: CPU during the windows only. An idle process spins for at most one window after its last
 * message; spins that run out shrink the windows and stop them (see {@link EventLoopPoller}); a
 * busy process barely spins at all (its loop rarely has nothing to do). Measured (2026-12-03, 500
 * µs on both ends): a Lock+Set pair at one in flight with 1 ms of think time, where no window
 * pays, cost the server 158–187 µs of CPU per pair instead of 113–137; a client doing Get, 1 ms of
 * think time, Get... against a server that always polls cost 191–193 µs of CPU per Get (490–510
 * before a spin that ran out counted as a miss even when it had caught an answer). The window
 * also bounds how long the process stays alive after its last handle closes.
 *
 * Polling pays only while each process has a core: with one busy loop beside the server and the
 * load tester on the 2-core VM, Get at 64 in flight fell to 81–82 k/s polling from 96–100 k not
 * polling (a second, noisier A/B: 74–90 k against 81–110 k). A check that stopped polling when a
 * spin got under 80 % of its wall time as CPU time caught that, but also fired in Lock+Set at 64
 * in flight on the quiet machine and cost it a third (30 k against 45 k pairs/s), so it is not
 * here; on an oversubscribed host, turn polling off (0).
 */
import { performance } from "node:perf_hooks";
import { MAX_POLL_WINDOW_US } from "./contract";

/** What the poller needs from the runtime; tests pass a fake one. */
export interface PollerHost {
  /** Monotonic time in ms. */
  now(): number;
  /** Runs `callback` on a later turn of the event loop without blocking in between (setImmediate). */
  schedule(callback: () => void): void;
}

const NODE_HOST: PollerHost = {
  now: () => performance.now(),
  schedule: (callback) => {
    setImmediate(callback);
  },
};

/** The fractions of the asked-for window used, from full to a quarter; past the last: off. */
const WINDOW_DIVISORS = [1, 2, 4] as const;
/** The level at which windows are off (only probes). */
const OFF = WINDOW_DIVISORS.length;
/**
 * How many levels a spin that runs out moves down (a caught message moves one up). More than one:
 * a window that runs out wasted all of it, a caught message saved one wake-up (less than a
 * window), so one of each per spin (an answer caught, then a tail through the caller's think
 * time) must end up off rather than keep full windows forever.
 */
const MISS_STEPS = 2;
/**
 * While off, one window asked for in this many still opens (a quarter-size one), to notice when
 * polling pays again: a probe that keeps catching messages (three before it would run out) turns
 * the windows back on; one that catches fewer ends off again.
 */
const PROBE_EVERY = 8;

/**
 * Keeps the event loop polling until the latest window asked for has passed. One per process is
 * enough ({@link eventLoopPoller}): windows of several streams and clients merge into one spin,
 * and while it lasts every other I/O of the process (a caller's database answer, its timers) is
 * picked up without a wake-up too.
 *
 * Adaptive: every spin that runs out wasted its last window, however many messages it caught
 * before, and moves the next windows two steps down the levels full, half, quarter, off (see
 * {@link MISS_STEPS}); while off, only every {@link PROBE_EVERY}th window asked for opens, a
 * quarter-size probe. Each message that the polling caught (one that arrives after the loop has
 * polled at least once in this spin: messages of the wake-up that started it were not caught)
 * moves one step back up, to the full size at most. So where messages keep coming within the
 * window (a busy stream, a fast round trip) the spin never runs out and the process never sleeps;
 * where they come in bursts further apart than the window (a trickle, or request/answer with think
 * time), windows are off after a few spins and then cost about a quarter window per eight asked
 * for.
 */
export class EventLoopPoller {
  /** The latest deadline asked for (ms on the host's clock). */
  private until = 0;
  private spinning = false;
  /** The loop has polled at least once since the spin started (what arrives now was caught). */
  private polled = false;
  private level = 0;
  private skipped = 0;

  constructor(private readonly host: PollerHost = NODE_HOST) {}

  /**
   * A message came in: counts as caught if the loop was polling for it, then keeps polling for up
   * to `windowUs` microseconds from now, for the next (0 or less: no window, and no catch counted:
   * an end that does not poll). Called per message, not per operation: it reads the clock once.
   */
  arrived(windowUs: number): void {
    if (this.polled && windowUs > 0 && this.level > 0) this.level--;
    this.extend(windowUs);
  }

  /** A message went out: keeps polling for up to `windowUs` microseconds, for its answer. */
  sent(windowUs: number): void {
    this.extend(windowUs);
  }

  /** True while the loop is kept polling. */
  get active(): boolean {
    return this.spinning;
  }

  /** The fraction of the asked-for window that a message now opens: 1, 1/2, 1/4, or 0 (off, probing). */
  get scale(): number {
    return this.level >= OFF ? 0 : 1 / (WINDOW_DIVISORS[this.level] as number);
  }

  private extend(windowUs: number): void {
    if (!(windowUs > 0)) return;
    if (this.level >= OFF && !this.spinning) {
      if (++this.skipped < PROBE_EVERY) return;
      this.skipped = 0;
    }
    const divisor = WINDOW_DIVISORS[Math.min(this.level, OFF - 1)] as number;
    const until = this.host.now() + Math.min(windowUs, MAX_POLL_WINDOW_US) / 1000 / divisor;
    if (until > this.until) this.until = until;
    if (!this.spinning) {
      this.spinning = true;
      this.polled = false;
      this.host.schedule(this.tick);
    }
  }

  private readonly tick = (): void => {
    if (this.host.now() < this.until) {
      this.polled = true;
      this.host.schedule(this.tick);
      return;
    }
    this.spinning = false;
    this.polled = false;
    if (this.level < OFF && this.level + MISS_STEPS >= OFF) this.skipped = 0;
    this.level = Math.min(this.level + MISS_STEPS, OFF);
  };
}

/** The process's poller, shared by every Pipeline stream of the server and of the SDK. */
export const eventLoopPoller = new EventLoopPoller();

/**
 * Checks a polling window given by a user (a flag, an SDK option): an integer from 0 to
 * {@link MAX_POLL_WINDOW_US}. Returns an error message naming `name`, or undefined when valid.
 */
export function pollWindowProblem(name: string, value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_POLL_WINDOW_US) {
    return `${name} must be an integer from 0 to ${MAX_POLL_WINDOW_US} (microseconds), got ${String(value)}`;
  }
  return undefined;
}
