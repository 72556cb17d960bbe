/**
 * The load loop of one thread: closed loop (a fixed number of senders, each sending its next request
 * when the previous one is answered) or open loop (a fixed arrival rate, latency measured from each
 * request's intended send time). Bounded in time always, and in count when asked.
 */
import type { Clock } from "./clock";
import { IntervalRecorder, type IntervalHistogram } from "./interval-timeline";
import { LatencyHistogram } from "./latency-histogram";
import { OpenLoopSchedule } from "./open-loop-schedule";
import { statusName } from "./status-codes";

/** What a request reports besides success; both fields optional. */
export interface RequestOutcome {
  /**
   * Time inside the request that is not the system's (think time between Lock and Set), ms: taken
   * off the recorded latency.
   */
  readonly excludedMs?: number;
  /** Outcome label counted in the report (e.g. `NOT_FOUND`, `LOCKED`); default `OK`. */
  readonly outcome?: string;
}

/** One request of a scenario; `index` numbers the requests of this driver from 0. Throws on failure. */
export type RequestFn = (index: number) => Promise<RequestOutcome | void>;

/** How to drive the load. */
export interface LoadOptions {
  /** `closed`: fixed concurrency; `open`: fixed arrival rate. */
  readonly mode: "closed" | "open";
  /** Requests in flight: exactly this many in closed loop, at most this many in open loop. */
  readonly concurrency: number;
  /** Open loop: arrivals per second of this driver. */
  readonly ratePerSecond?: number;
  /** Warm-up before measuring, ms: requests started in it are sent but not recorded. */
  readonly warmupMs: number;
  /** Length of the measured phase, ms: no request starts after it (always finite). */
  readonly durationMs: number;
  /** Stop after this many measured requests (count mode); default unbounded (time only). */
  readonly maxRequests?: number;
  /** Width of an interval of the time line (throughput and latency over time), ms. */
  readonly intervalMs: number;
}

/** Live counters, read by the progress line while the driver runs. */
export interface LiveCounters {
  completed: number;
  errors: number;
}

/** What one driver measured. */
export interface LoadResult {
  /** Latency of the successful measured requests, µs. */
  readonly histogram: LatencyHistogram;
  /** Successful measured requests by outcome label. */
  readonly outcomes: Record<string, number>;
  /** Failed measured requests by status name. */
  readonly errors: Record<string, number>;
  /** Measured requests completed (successes and failures). */
  readonly completed: number;
  /** From the end of warm-up to the last measured completion, ms. */
  readonly measuredMs: number;
  /** Measured completions per {@link LoadOptions.intervalMs} bucket since the end of warm-up. */
  readonly timeline: readonly number[];
  /** Latencies of the successful ones per bucket (same indexes), µs. */
  readonly intervalLatency: readonly IntervalHistogram[];
  /** Requests sent during warm-up (not recorded). */
  readonly warmupRequests: number;
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/**
 * Runs `request` under `options` on `clock` and resolves when every sender has stopped and every
 * request it started has finished (requests must bound their own time, e.g. with a deadline).
 */
export async function runLoad(
  request: RequestFn,
  options: LoadOptions,
  clock: Clock,
  live: LiveCounters = { completed: 0, errors: 0 },
): Promise<LoadResult> {
  if (!(options.concurrency >= 1)) throw new RangeError("concurrency must be at least 1");
  if (!(options.durationMs > 0) || !Number.isFinite(options.durationMs)) throw new RangeError("duration must be finite and > 0");
  const start = clock.now();
  const warmupEnd = start + options.warmupMs;
  const measureEnd = warmupEnd + options.durationMs;
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  let schedule: OpenLoopSchedule | undefined;
  if (options.mode === "open") {
    const rate = options.ratePerSecond ?? 0;
    if (!(rate > 0)) throw new RangeError("open loop needs a rate > 0");
    const warmupCount = Math.ceil((options.warmupMs * rate) / 1000);
    schedule = new OpenLoopSchedule(start, rate, warmupCount + maxRequests);
  }
  const histogram = new LatencyHistogram();
  const outcomes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const intervals = new IntervalRecorder(options.intervalMs);
  let measuredStarted = 0;
  let completed = 0;
  let warmupRequests = 0;
  let lastCompletion = warmupEnd;
  let nextIndex = 0;

  const sender = async (): Promise<void> => {
    for (;;) {
      let intended: number;
      if (schedule !== undefined) {
        const claim = schedule.claim();
        if (claim === undefined || claim.intendedMs >= measureEnd) return;
        intended = claim.intendedMs;
        const wait = intended - clock.now();
        if (wait > 0) await clock.sleep(wait);
      } else {
        intended = clock.now();
        if (intended >= measureEnd) return;
      }
      const measured = intended >= warmupEnd;
      if (measured) {
        if (measuredStarted >= maxRequests) return;
        measuredStarted++;
      } else {
        warmupRequests++;
      }
      const index = nextIndex++;
      let failure: string | undefined;
      let outcome: RequestOutcome | void = undefined;
      try {
        outcome = await request(index);
      } catch (error) {
        failure = statusName(error);
      }
      const done = clock.now();
      if (!measured) continue;
      completed++;
      live.completed++;
      lastCompletion = Math.max(lastCompletion, done);
      intervals.complete(done - warmupEnd);
      if (failure !== undefined) {
        live.errors++;
        increment(errors, failure);
      } else {
        const latencyUs = (done - intended - (outcome?.excludedMs ?? 0)) * 1000;
        histogram.record(latencyUs);
        intervals.latency(done - warmupEnd, latencyUs);
        increment(outcomes, outcome?.outcome ?? "OK");
      }
    }
  };

  await Promise.all(Array.from({ length: options.concurrency }, () => sender()));
  const recording = intervals.finish();
  return {
    histogram,
    outcomes,
    errors,
    completed,
    measuredMs: Math.max(0, lastCompletion - warmupEnd),
    timeline: recording.counts,
    intervalLatency: recording.latency,
    warmupRequests,
  };
}
