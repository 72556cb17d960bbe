/**
 * Reads h2load's `--log-file`: one line per request, tab-separated: start time (µs since the epoch),
 * HTTP status, µs until the end of the response.
 */
import { IntervalRecorder, type IntervalHistogram } from "./interval-timeline";
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
  /** Start of the first request, µs since the epoch (the origin of the time line); 0 for an empty log. */
  readonly startUs: number;
  /** Completions per interval, by end time. */
  readonly timeline: readonly number[];
  /** Latencies of the HTTP 200 answers per interval (same indexes), by end time. */
  readonly intervalLatency: readonly IntervalHistogram[];
}

/** Parses a whole log. */
export function parseH2loadLog(text: string, intervalMs: number): H2loadLogSummary {
  const histogram = new LatencyHistogram();
  const errors: Record<string, number> = {};
  const requests: { readonly endUs: number; readonly durationUs: number; readonly ok: boolean }[] = [];
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
    requests.push({ endUs: startUs + durationUs, durationUs, ok: statusText === "200" });
    if (statusText === "200") {
      ok++;
      histogram.record(durationUs);
    } else {
      const key = `HTTP_${statusText}`;
      errors[key] = (errors[key] ?? 0) + 1;
    }
  }
  // Each h2load thread writes its own requests: in order of end time, the recorder fills one interval at a time.
  requests.sort((a, b) => a.endUs - b.endUs);
  const intervals = new IntervalRecorder(intervalMs);
  for (const request of requests) {
    const elapsedMs = (request.endUs - first) / 1000;
    intervals.complete(elapsedMs);
    if (request.ok) intervals.latency(elapsedMs, request.durationUs);
  }
  const recording = intervals.finish();
  return {
    histogram,
    ok,
    errors,
    spanMs: requests.length === 0 ? 0 : (last - first) / 1000,
    startUs: requests.length === 0 ? 0 : first,
    timeline: recording.counts,
    intervalLatency: recording.latency,
  };
}
