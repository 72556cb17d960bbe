/**
 * Reads V8's `--trace-gc` lines from a server started by the tool: the pause of each collection, so
 * that GC cost (the resident target's "longest GC pause") is measured, not guessed.
 */

/** One garbage collection. */
export interface GcEvent {
  /** `Scavenge`, `Mark-Compact`, `Minor Mark-Sweep`, … */
  readonly kind: string;
  /** The stop-the-world pause, ms (incremental marking steps before it are not counted in it). */
  readonly pauseMs: number;
}

// "[pid:0x…]   1234 ms: Mark-Compact 7.6 (9.9) -> 6.5 (15.4) MB, 8.57 / 0.00 ms  (…"
const GC_LINE = /^\[\d+:0x[0-9a-f]+\]\s+\d+ ms: ([A-Za-z][A-Za-z -]*?)(?: \([a-z ]+\))? [\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB,(?: pooled: [\d.]+ MB,)? ([\d.]+) \/ [\d.]+ ms/;

/** Parses one `--trace-gc` line; undefined for any other line. */
export function parseGcLine(line: string): GcEvent | undefined {
  const match = GC_LINE.exec(line);
  if (match === null) return undefined;
  return { kind: match[1] ?? "", pauseMs: Number(match[2]) };
}

/** Totals of the collections seen in a window. */
export interface GcSummary {
  readonly count: number;
  readonly totalPauseMs: number;
  readonly maxPauseMs: number;
  /** Kind of the longest pause. */
  readonly maxPauseKind: string;
}

/** Collects GC events between {@link GcTracker.reset} calls. */
export class GcTracker {
  private count = 0;
  private totalPauseMs = 0;
  private maxPauseMs = 0;
  private maxPauseKind = "";

  /** Feeds one output line of the traced process. */
  line(line: string): void {
    const event = parseGcLine(line);
    if (event === undefined) return;
    this.count++;
    this.totalPauseMs += event.pauseMs;
    if (event.pauseMs > this.maxPauseMs) {
      this.maxPauseMs = event.pauseMs;
      this.maxPauseKind = event.kind;
    }
  }

  /** Starts a new window. */
  reset(): void {
    this.count = 0;
    this.totalPauseMs = 0;
    this.maxPauseMs = 0;
    this.maxPauseKind = "";
  }

  /** The window so far. */
  summary(): GcSummary {
    return { count: this.count, totalPauseMs: this.totalPauseMs, maxPauseMs: this.maxPauseMs, maxPauseKind: this.maxPauseKind };
  }
}
