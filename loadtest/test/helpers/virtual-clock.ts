/**
 * A discrete-event clock for tests: `sleep` registers a timer, and `run` advances virtual time to
 * the earliest timer whenever nothing else can make progress. Nothing is timed for real.
 */
import type { Clock } from "../../src/clock";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly resolve: () => void;
}

/** Lets every pending microtask chain settle (no real time involved). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Virtual time in ms, starting at 0. */
export class VirtualClock implements Clock {
  private time = 0;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timers.push({ at: this.time + Math.max(0, ms), seq: this.seq++, resolve });
    });
  }

  /** Drives virtual time until `work` settles; fails on a deadlock or a runaway loop. */
  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const finished = work.finally(() => {
      done = true;
    });
    for (let steps = 0; !done; steps++) {
      await settle();
      if (done) break;
      if (steps > 5_000_000) throw new Error("virtual clock: too many steps");
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (next === undefined) throw new Error("virtual clock: nothing scheduled and the work is not done");
      this.time = Math.max(this.time, next.at);
      next.resolve();
    }
    return finished;
  }
}
