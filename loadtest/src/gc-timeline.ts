/**
 * The server's GC pauses on a run's time axis (ms after the start of its measured phase), as the
 * report keeps them, or why a run has none (redis-server is no V8 process; a server given by
 * --address writes its trace where the tool cannot read it).
 */
import type { GcTracker } from "./gc-trace";

/** Where a run's server GC pauses come from: the trace of a server the tool started, or why there is none. */
export type GcSource = { readonly tracker: GcTracker } | { readonly unavailable: string };

/** One server GC pause on a run's time axis. */
export interface GcPause {
  /** Start of the pause, ms after the start of the measured phase (end − pause, from V8's stamp). */
  readonly startMs: number;
  readonly pauseMs: number;
  /** `Scavenge`, `Mark-Compact`, … */
  readonly kind: string;
}

/** The server's GC pauses during a run, or why they are not known. */
export type ServerGcTimeline =
  | {
      readonly available: true;
      /** How the times were obtained. */
      readonly source: string;
      /** Pauses that overlap the plotted span, in order. */
      readonly pauses: readonly GcPause[];
    }
  | { readonly available: false; readonly reason: string };

/** How the pauses of a tracked server were placed in time (kept in the report beside them). */
export const TRACE_GC_SOURCE = "the server's --trace-gc lines, V8's stamps moved to the tool's clock by the smallest arrival − stamp difference seen";

/**
 * The pauses of `source` that overlap [0, `spanMs`] after `originMs` (both on the tracker's
 * clock), relative to `originMs`.
 */
export function gcTimeline(source: GcSource, originMs: number, spanMs: number): ServerGcTimeline {
  if (!("tracker" in source)) return { available: false, reason: source.unavailable };
  const pauses = source.tracker
    .pauses()
    // Rounded to the µs: the stamps are whole ms anyway.
    .map((pause) => ({ startMs: Math.round((pause.endMs - pause.pauseMs - originMs) * 1000) / 1000, pauseMs: pause.pauseMs, kind: pause.kind }))
    .filter((pause) => pause.startMs < spanMs && pause.startMs + pause.pauseMs > 0)
    .sort((a, b) => a.startMs - b.startMs);
  return { available: true, source: TRACE_GC_SOURCE, pauses };
}

/** Joins the time lines of slices measured one after the other: each slice's pauses move by the spans before it. */
export function joinGcTimelines(slices: readonly { readonly gc: ServerGcTimeline; readonly spanMs: number }[]): ServerGcTimeline {
  const missing = slices.find((slice) => !slice.gc.available);
  if (missing !== undefined && !missing.gc.available) return missing.gc;
  const pauses: GcPause[] = [];
  let offsetMs = 0;
  let source = TRACE_GC_SOURCE;
  for (const slice of slices) {
    if (slice.gc.available) {
      source = slice.gc.source;
      for (const pause of slice.gc.pauses) pauses.push({ ...pause, startMs: pause.startMs + offsetMs });
    }
    offsetMs += slice.spanMs;
  }
  return { available: true, source, pauses };
}
