/**
 * Reads V8's `--trace-gc` lines from a server started by the tool: the pause of each collection, so
 * that GC cost (the resident target's "longest GC pause") is measured, not guessed, and when it
 * happened on the tool's own clock, so that the report can mark it on a run's time axis.
 *
 * V8 stamps each line with the milliseconds since the server's isolate started, printed when the
 * collection ends. The tool's clock differs from that by a constant offset; every line read
 * bounds it from above (a line is read after it was printed), so the smallest difference between
 * a line's arrival and its stamp is the estimate. Node writes these lines to the pipe at once, and
 * those printed while the tool waits (the server's start-up, the warm-up) are read within a
 * fraction of a millisecond: the estimate is good to about a millisecond (the stamps are whole ms).
 */
import { performance } from "node:perf_hooks";

/** One garbage collection. */
export interface GcEvent {
  /** `Scavenge`, `Mark-Compact`, `Minor Mark-Sweep`, … */
  readonly kind: string;
  /** The stop-the-world pause, ms (incremental marking steps before it are not counted in it). */
  readonly pauseMs: number;
  /** V8's stamp: ms since the isolate started, when the collection ended (whole ms). */
  readonly isolateMs: number;
}

// "[pid:0x…]   1234 ms: Mark-Compact 7.6 (9.9) -> 6.5 (15.4) MB, 8.57 / 0.00 ms  (…"
const GC_LINE = /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: ([A-Za-z][A-Za-z -]*?)(?: \([a-z ]+\))? [\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB,(?: pooled: [\d.]+ MB,)? ([\d.]+) \/ [\d.]+ ms/;

/** Parses one `--trace-gc` line; undefined for any other line. */
export function parseGcLine(line: string): GcEvent | undefined {
  const match = GC_LINE.exec(line);
  if (match === null) return undefined;
  return { kind: match[2] ?? "", pauseMs: Number(match[3]), isolateMs: Number(match[1]) };
}

/** Totals of the collections seen in a window. */
export interface GcSummary {
  readonly count: number;
  readonly totalPauseMs: number;
  readonly maxPauseMs: number;
  /** Kind of the longest pause. */
  readonly maxPauseKind: string;
}

/** One collection on the tracker's clock. */
export interface GcPauseAt {
  /** When the pause ended, ms on the tracker's clock. */
  readonly endMs: number;
  readonly pauseMs: number;
  readonly kind: string;
}

/** Collects GC events between {@link GcTracker.reset} calls, and where they fall on the tracker's clock. */
export class GcTracker {
  private count = 0;
  private totalPauseMs = 0;
  private maxPauseMs = 0;
  private maxPauseKind = "";
  private events: GcEvent[] = [];
  private offsetMs = Number.POSITIVE_INFINITY;

  /** @param now the clock the pauses are placed on (ms; default `performance.now()` of this thread). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Feeds one output line of the traced process, as soon as it is read. */
  line(line: string): void {
    const event = parseGcLine(line);
    if (event === undefined) return;
    this.offsetMs = Math.min(this.offsetMs, this.now() - event.isolateMs);
    this.events.push(event);
    this.count++;
    this.totalPauseMs += event.pauseMs;
    if (event.pauseMs > this.maxPauseMs) {
      this.maxPauseMs = event.pauseMs;
      this.maxPauseKind = event.kind;
    }
  }

  /** Starts a new window (the clock offset is kept: it only gets better). */
  reset(): void {
    this.events = [];
    this.count = 0;
    this.totalPauseMs = 0;
    this.maxPauseMs = 0;
    this.maxPauseKind = "";
  }

  /** The window so far. */
  summary(): GcSummary {
    return { count: this.count, totalPauseMs: this.totalPauseMs, maxPauseMs: this.maxPauseMs, maxPauseKind: this.maxPauseKind };
  }

  /** Tracker clock − isolate clock, ms (the smallest arrival − stamp seen); undefined before the first line. */
  clockOffsetMs(): number | undefined {
    return Number.isFinite(this.offsetMs) ? this.offsetMs : undefined;
  }

  /** The collections of the window, on the tracker's clock (with the best offset known now). */
  pauses(): GcPauseAt[] {
    return this.events.map((event) => ({ endMs: event.isolateMs + this.offsetMs, pauseMs: event.pauseMs, kind: event.kind }));
  }
}
