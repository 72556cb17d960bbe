/**
 * Reads h2load's `--log-file`: one line per request, tab-separated: start time (µs since the epoch),
 * HTTP status, µs until the end of the response.
 */
import { LatencyHistogram } from "./latency-histogram";

/** What an h2load log holds. */
export interface H2loadLogSummary {
  readonly histogram: LatencyHistogram;
  /** Requests answered with HTTP 200. */
  readonly ok: number;
  /** Other answers, by `HTTP_<status>` (h2load cannot see gRPC trailers). */
  readonly errors: Record<string, number>;
  /** From the first start to the last end, ms. */
  readonly spanMs: number;
  /** Completions per interval, by end time. */
  readonly timeline: number[];
}

/** Parses a whole log. */
export function parseH2loadLog(text: string, intervalMs: number): H2loadLogSummary {
  const histogram = new LatencyHistogram();
  const errors: Record<string, number> = {};
  const ends: number[] = [];
  let ok = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const line of text.split("\n")) {
    const [startText, statusText, durationText] = line.split("\t");
    if (startText === undefined || statusText === undefined || durationText === undefined) continue;
    const startUs = Number(startText);
    const durationUs = Number(durationText);
    if (!Number.isFinite(startUs) || !Number.isFinite(durationUs)) continue;
    first = Math.min(first, startUs);
    last = Math.max(last, startUs + durationUs);
    ends.push(startUs + durationUs);
    if (statusText === "200") {
      ok++;
      histogram.record(durationUs);
    } else {
      const key = `HTTP_${statusText}`;
      errors[key] = (errors[key] ?? 0) + 1;
    }
  }
  const timeline: number[] = [];
  for (const end of ends) {
    const bucket = Math.floor((end - first) / 1000 / intervalMs);
    while (timeline.length <= bucket) timeline.push(0);
    timeline[bucket] = (timeline[bucket] ?? 0) + 1;
  }
  return { histogram, ok, errors, spanMs: ends.length === 0 ? 0 : (last - first) / 1000, timeline };
}
