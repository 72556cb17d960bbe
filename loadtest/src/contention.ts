/**
 * The contention scenario: N clients take turns on one session. In rounds, every client asks for the
 * lock at once and runs one critical section (Lock → optional work → Set with release); a round
 * ends when all N are done. Two ways to wait for the lock:
 * - `wait`: Stateward's queue (Lock with wait_ms), answered the moment the lock is released;
 * - `poll`: the ASP.NET way, Lock without waiting and a retry every 500 ms while it is LOCKED.
 * Handoff latency is measured from the moment the holder sends its releasing Set to the moment the
 * next holder receives its grant (an upper bound of the server-side handoff: it includes the Set's
 * and the grant's trips over loopback).
 */
import type { Clock } from "./clock";
import { IntervalRecorder, type IntervalHistogram } from "./interval-timeline";
import { LatencyHistogram } from "./latency-histogram";
import type { SessionOps } from "./session-ops";
import { statusName } from "./status-codes";

/** Parameters of {@link runContention}. */
export interface ContentionOptions {
  /** `wait` (queue in the server) or `poll` (retry every `pollMs`). */
  readonly mode: "wait" | "poll";
  /** One channel per client. */
  readonly clients: readonly SessionOps[];
  /** The contended session. */
  readonly sessionId: string;
  /** No round starts after this long, ms. */
  readonly durationMs: number;
  /** Poll period of the `poll` mode, ms (ASP.NET: 500). */
  readonly pollMs: number;
  /** Longest wait of one Lock in `wait` mode, ms (re-asked if it runs out). */
  readonly waitMs: number;
  /** Work inside the critical section, ms. */
  readonly workMs: number;
  /** Lock lease, ms. */
  readonly leaseMs: number;
  /** Hard bound: a client gives up a round this long after the run's end, ms. */
  readonly graceMs: number;
  /** Interval of the time line, ms. */
  readonly intervalMs: number;
}

/**
 * The options of a suite contention run (the contention group and the Redis handoff): each Lock
 * waits up to 10 s, and a round is given up 20 s after the run's end.
 */
export function suiteContentionOptions(
  mode: ContentionOptions["mode"],
  clients: readonly SessionOps[],
  sessionId: string,
  durationMs: number,
  options: Pick<ContentionOptions, "pollMs" | "workMs" | "leaseMs">,
  intervalMs: number,
): ContentionOptions {
  return { mode, clients, sessionId, durationMs, pollMs: options.pollMs, waitMs: 10_000, workMs: options.workMs, leaseMs: options.leaseMs, graceMs: 20_000, intervalMs };
}

/** What a contention run measured. */
export interface ContentionResult {
  /** Release-to-next-grant latency, µs. */
  readonly handoff: LatencyHistogram;
  /** Critical sections completed. */
  readonly criticalSections: number;
  readonly rounds: number;
  /** Lock attempts answered LOCKED (polls that found it taken, or waits that ran out). */
  readonly lockedAnswers: number;
  readonly errors: Record<string, number>;
  readonly measuredMs: number;
  /** When the run started, on its clock (ms): the origin of the time line. */
  readonly startMs: number;
  /** Critical sections per interval, by the end of their releasing Set. */
  readonly timeline: readonly number[];
  /** Handoff latencies per interval (same indexes), by the time of the grant. */
  readonly intervalLatency: readonly IntervalHistogram[];
}

/** Runs the contention scenario; every loop is bounded by `durationMs + graceMs`. */
export async function runContention(options: ContentionOptions, clock: Clock): Promise<ContentionResult> {
  const handoff = new LatencyHistogram();
  const errors: Record<string, number> = {};
  const start = clock.now();
  const intervals = new IntervalRecorder(options.intervalMs);
  const end = start + options.durationMs;
  const hardEnd = end + options.graceMs;
  let criticalSections = 0;
  let rounds = 0;
  let lockedAnswers = 0;
  let lastReleaseSent: number | undefined;

  const criticalSection = async (client: SessionOps): Promise<void> => {
    while (clock.now() < hardEnd) {
      let lock;
      try {
        lock = await client.lock(options.sessionId, {
          waitMs: options.mode === "wait" ? options.waitMs : 0,
          leaseMs: options.leaseMs,
          create: true,
        });
      } catch (error) {
        const name = statusName(error);
        errors[name] = (errors[name] ?? 0) + 1;
        await clock.sleep(options.pollMs);
        continue;
      }
      if (lock.outcome !== "OK") {
        lockedAnswers++;
        if (options.mode === "poll") await clock.sleep(options.pollMs);
        continue;
      }
      const granted = clock.now();
      if (lastReleaseSent !== undefined) {
        handoff.record((granted - lastReleaseSent) * 1000);
        intervals.latency(granted - start, (granted - lastReleaseSent) * 1000);
      }
      if (options.workMs > 0) await clock.sleep(options.workMs);
      // Before the Set goes out: over several nodes the next holder's grant may arrive before
      // this Set's own answer does, and its handoff counts from here.
      lastReleaseSent = clock.now();
      try {
        await client.set(options.sessionId, Buffer.alloc(0), lock.token);
        criticalSections++;
        intervals.complete(clock.now() - start);
      } catch (error) {
        const name = statusName(error);
        errors[name] = (errors[name] ?? 0) + 1;
      }
      return;
    }
  };

  while (clock.now() < end) {
    // A round starts with no holder: its first grant is not a handoff.
    lastReleaseSent = undefined;
    await Promise.all(options.clients.map((client) => criticalSection(client)));
    rounds++;
  }
  const recording = intervals.finish();
  return {
    handoff,
    criticalSections,
    rounds,
    lockedAnswers,
    errors,
    measuredMs: clock.now() - start,
    startMs: start,
    timeline: recording.counts,
    intervalLatency: recording.latency,
  };
}
