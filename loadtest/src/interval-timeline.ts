/**
 * Latency over time: for each interval of the measured phase, the operations completed and the
 * p50, p99 and max latency of the successful ones, so that a tail can be placed in time (and next
 * to the server's GC pauses). Each thread records its own intervals; the pool merges them.
 *
 * An interval keeps a sparse histogram (bucket value → count) bucketed exactly like the run's HDR
 * histogram (3 significant digits), so its percentiles are what HdrHistogram would report for the
 * same values: exact below 2,048 µs, within 0.1 % above. Only the interval being filled is a Map;
 * closed intervals are sorted arrays of a few hundred entries, so a long run stays small and no
 * interval costs the load loop more than a sort of its distinct values.
 */
import { MAX_TRACKABLE_US } from "./latency-histogram";

/** Interval lengths the automatic choice picks from, ms. */
export const INTERVAL_STEPS_MS: readonly number[] = [100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000];

/** Intervals a run gets at least with the automatic choice (unless it is shorter than 4 s). */
export const MIN_INTERVALS = 40;

/**
 * The interval for a measured phase of `durationMs`: the longest step of {@link INTERVAL_STEPS_MS}
 * that still gives {@link MIN_INTERVALS} intervals (10 s: 250 ms, 60 s: 1 s, 10 min: 15 s), and
 * never below 100 ms (a 3 s run: 30 intervals of 100 ms).
 */
export function chooseIntervalMs(durationMs: number): number {
  let chosen = INTERVAL_STEPS_MS[0] ?? 100;
  for (const step of INTERVAL_STEPS_MS) if (durationMs / step >= MIN_INTERVALS) chosen = step;
  return chosen;
}

/** The interval of a run: `--interval-ms` when given, else {@link chooseIntervalMs} of its duration. */
export function intervalMsOf(options: { readonly intervalMs?: number | undefined; readonly durationMs: number }): number {
  return options.intervalMs ?? chooseIntervalMs(options.durationMs);
}

/**
 * The value an HDR histogram of 3 significant digits reports for the integer `valueUs` (its
 * bucket's highest equivalent value): the value itself below 2,048, else the top of its bucket.
 */
export function bucketValueUs(valueUs: number): number {
  if (valueUs < 2048) return valueUs;
  // floor(log2(value)) − 10 bits below the 11 significant ones (values ≤ 1 h in µs fit 32 bits).
  const size = 2 ** (31 - Math.clz32(valueUs) - 10);
  return Math.floor(valueUs / size) * size + size - 1;
}

/** The latencies of one interval: ascending bucket values (µs) and how many fell in each. */
export interface IntervalHistogram {
  readonly values: readonly number[];
  readonly counts: readonly number[];
}

/** What a thread (or the merge of threads) recorded, by interval index from the measured start. */
export interface IntervalRecording {
  /** Completions (successes and failures) per interval. */
  readonly counts: readonly number[];
  /** Latencies of the successes per interval (same indexes; empty histograms where there were none). */
  readonly latency: readonly IntervalHistogram[];
}

/** Latency of one interval of a run, as the report keeps it (µs; null when nothing succeeded in it). */
export interface IntervalLatency {
  /** Start of the interval, ms after the start of the measured phase. */
  readonly startMs: number;
  /** Successful operations completed in the interval (their latencies are the figures). */
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

const EMPTY: IntervalHistogram = { values: [], counts: [] };

function toSorted(map: ReadonlyMap<number, number>): IntervalHistogram {
  const values = [...map.keys()].sort((a, b) => a - b);
  return { values, counts: values.map((value) => map.get(value) ?? 0) };
}

function addInto(map: Map<number, number>, histogram: IntervalHistogram): void {
  histogram.values.forEach((value, index) => map.set(value, (map.get(value) ?? 0) + (histogram.counts[index] ?? 0)));
}

/** Records completions and latencies into intervals of `intervalMs` from the measured start. */
export class IntervalRecorder {
  private readonly counts: number[] = [];
  private readonly closed: IntervalHistogram[] = [];
  private open = new Map<number, number>();
  private openIndex = 0;

  constructor(readonly intervalMs: number) {
    if (!(intervalMs > 0)) throw new RangeError("the interval must be > 0 ms");
  }

  private indexOf(elapsedMs: number): number {
    return Math.max(0, Math.floor(elapsedMs / this.intervalMs));
  }

  private close(): void {
    if (this.open.size === 0) return;
    while (this.closed.length <= this.openIndex) this.closed.push(EMPTY);
    this.closed[this.openIndex] = toSorted(this.open);
    this.open = new Map();
  }

  /** One completion (success or failure) `elapsedMs` after the start of the measured phase. */
  complete(elapsedMs: number): void {
    const index = this.indexOf(elapsedMs);
    while (this.counts.length <= index) this.counts.push(0);
    this.counts[index] = (this.counts[index] ?? 0) + 1;
  }

  /** One successful operation's latency (µs, rounded and clamped like the run's histogram) in the interval of `elapsedMs`. */
  latency(elapsedMs: number, valueUs: number): void {
    const index = this.indexOf(elapsedMs);
    if (index !== this.openIndex) {
      this.close();
      this.openIndex = index;
      // Times only move forward on one thread's clock, so this is for safety, not for speed.
      const earlier = this.closed[index];
      if (earlier !== undefined && earlier.values.length > 0) addInto(this.open, earlier);
    }
    const value = bucketValueUs(Math.min(MAX_TRACKABLE_US, Math.max(1, Math.round(valueUs))));
    this.open.set(value, (this.open.get(value) ?? 0) + 1);
  }

  /** Everything recorded so far (the interval being filled included). */
  finish(): IntervalRecording {
    this.close();
    const length = Math.max(this.counts.length, this.closed.length);
    return {
      counts: Array.from({ length }, (_, index) => this.counts[index] ?? 0),
      latency: Array.from({ length }, (_, index) => this.closed[index] ?? EMPTY),
    };
  }
}

/** Adds the recordings of several threads, interval by interval. */
export function mergeRecordings(recordings: readonly IntervalRecording[]): IntervalRecording {
  if (recordings.length === 1 && recordings[0] !== undefined) return recordings[0];
  const length = recordings.reduce((max, recording) => Math.max(max, recording.counts.length, recording.latency.length), 0);
  const counts: number[] = [];
  const latency: IntervalHistogram[] = [];
  for (let index = 0; index < length; index++) {
    counts.push(recordings.reduce((sum, recording) => sum + (recording.counts[index] ?? 0), 0));
    const map = new Map<number, number>();
    for (const recording of recordings) addInto(map, recording.latency[index] ?? EMPTY);
    latency.push(toSorted(map));
  }
  return { counts, latency };
}

/**
 * The value at `percentile` (0–100] of `histogram` by nearest rank, as HdrHistogram computes it:
 * the smallest value with at least ceil(percentile × count / 100) values at or below it.
 */
export function percentileOf(histogram: IntervalHistogram, percentile: number): number | null {
  const total = histogram.counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil((percentile * total) / 100));
  let seen = 0;
  for (let index = 0; index < histogram.values.length; index++) {
    seen += histogram.counts[index] ?? 0;
    if (seen >= rank) return histogram.values[index] ?? null;
  }
  return histogram.values[histogram.values.length - 1] ?? null;
}

/** The report's figures for the first `intervals` intervals of `recording` (missing ones are empty). */
export function summarizeIntervals(recording: IntervalRecording, intervalMs: number, intervals: number): IntervalLatency[] {
  return Array.from({ length: intervals }, (_, index) => {
    const histogram = recording.latency[index] ?? EMPTY;
    return {
      startMs: index * intervalMs,
      count: histogram.counts.reduce((sum, count) => sum + count, 0),
      p50: percentileOf(histogram, 50),
      p99: percentileOf(histogram, 99),
      max: histogram.values[histogram.values.length - 1] ?? null,
    };
  });
}
