/**
 * Merges runs of the same workload on the same server measured in slices (the resident scenario
 * alternates its two servers so that machine noise falls on both alike) into one run.
 */
import { joinGcTimelines } from "./gc-timeline";
import { LatencyHistogram } from "./latency-histogram";
import type { PeerFigures, RunResult, RunTimeline, ServerFigures } from "./report-model";
import { plural } from "./plural";

function mergeServer(slices: readonly RunResult[], completed: number): ServerFigures | undefined {
  const servers = slices.map((slice) => slice.server);
  if (servers.some((server) => server === undefined)) return undefined;
  const defined = servers.filter((server): server is ServerFigures => server !== undefined);
  const last = defined[defined.length - 1];
  if (last === undefined) return undefined;
  const cpuUs = slices.reduce((sum, slice) => sum + (slice.server?.cpuUsPerOp ?? 0) * slice.completed, 0);
  const cpuMs = slices.reduce((sum, slice) => sum + (slice.server?.cpuCores ?? 0) * slice.measuredMs, 0);
  const wallMs = slices.reduce((sum, slice) => sum + slice.measuredMs, 0);
  const gcs = defined.map((server) => server.gc);
  let gc: ServerFigures["gc"];
  if (gcs.every((item) => item !== undefined)) {
    const longest = gcs.reduce((best, item) => (item !== undefined && (best === undefined || item.maxPauseMs > best.maxPauseMs) ? item : best), gcs[0]);
    gc = {
      count: gcs.reduce((sum, item) => sum + (item?.count ?? 0), 0),
      totalPauseMs: gcs.reduce((sum, item) => sum + (item?.totalPauseMs ?? 0), 0),
      maxPauseMs: longest?.maxPauseMs ?? 0,
      maxPauseKind: longest?.maxPauseKind ?? "",
    };
  }
  return {
    cpuUsPerOp: cpuUs / Math.max(1, completed),
    cpuCores: cpuMs / Math.max(1, wallMs),
    rssBytes: last.rssBytes,
    peakRssBytes: Math.max(...defined.map((server) => server.peakRssBytes)),
    ...(gc === undefined ? {} : { gc }),
  };
}

function mergePeer(slices: readonly RunResult[], completed: number): PeerFigures | undefined {
  const first = slices[0]?.peer;
  if (first === undefined || slices.some((slice) => slice.peer === undefined)) return undefined;
  const cpuUs = slices.reduce((sum, slice) => sum + (slice.peer?.cpuUsPerOp ?? 0) * slice.completed, 0);
  const cpuMs = slices.reduce((sum, slice) => sum + (slice.peer?.cpuCores ?? 0) * slice.measuredMs, 0);
  const wallMs = slices.reduce((sum, slice) => sum + slice.measuredMs, 0);
  return { name: first.name, cpuUsPerOp: cpuUs / Math.max(1, completed), cpuCores: cpuMs / Math.max(1, wallMs) };
}

function sumCounts(records: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const record of records) for (const [key, count] of Object.entries(record)) total[key] = (total[key] ?? 0) + count;
  return total;
}

/** The slices' time lines one after the other: each slice's times move by the spans before it. */
function joinTimelines(slices: readonly RunResult[]): RunTimeline {
  const intervalMs = slices[0]?.timeline.intervalMs ?? 1000;
  let offsetMs = 0;
  const latency: RunTimeline["latency"][number][] = [];
  for (const slice of slices) {
    for (const interval of slice.timeline.latency) latency.push({ ...interval, startMs: interval.startMs + offsetMs });
    offsetMs += slice.timeline.counts.length * slice.timeline.intervalMs;
  }
  return {
    intervalMs,
    counts: slices.flatMap((slice) => slice.timeline.counts),
    latency,
    serverGc: joinGcTimelines(slices.map((slice) => ({ gc: slice.timeline.serverGc, spanMs: slice.timeline.counts.length * slice.timeline.intervalMs }))),
  };
}

/**
 * One run from slices of the same workload: histograms added, counts summed, time lines joined.
 * @param alternatedWith - what the slices alternated with, for the run's note.
 */
export function mergeRunSlices(slices: readonly RunResult[], alternatedWith = "the other resident run"): RunResult {
  const first = slices[0];
  if (first === undefined) throw new Error("no slices to merge");
  const histogram = new LatencyHistogram();
  for (const slice of slices) histogram.add(LatencyHistogram.decode(slice.histogram));
  const completed = slices.reduce((sum, slice) => sum + slice.completed, 0);
  const measuredMs = slices.reduce((sum, slice) => sum + slice.measuredMs, 0);
  const server = mergeServer(slices, completed);
  const peer = mergePeer(slices, completed);
  const clientUs = slices.reduce((sum, slice) => sum + (slice.client?.cpuUsPerOp ?? 0) * slice.completed, 0);
  const loads = slices.map((slice) => slice.loadAverage).filter((value): value is number => value !== undefined);
  const summary = histogram.summary();
  return {
    ...first,
    settings: { ...first.settings, durationMs: slices.reduce((sum, slice) => sum + slice.settings.durationMs, 0) },
    throughput: measuredMs > 0 ? (completed * 1000) / measuredMs : 0,
    completed,
    measuredMs,
    // Exact maxima survive the merge (the encoded histograms round them to their bucket).
    latency: { ...summary, max: Math.max(...slices.map((slice) => slice.latency.max)) },
    distribution: histogram.distribution(),
    histogram: histogram.encode(),
    outcomes: sumCounts(slices.map((slice) => slice.outcomes)),
    errors: sumCounts(slices.map((slice) => slice.errors)),
    timeline: joinTimelines(slices),
    ...(server === undefined ? {} : { server }),
    ...(peer === undefined ? {} : { peer }),
    ...(first.client === undefined ? {} : { client: { cpuUsPerOp: clientUs / Math.max(1, completed) } }),
    ...(loads.length === 0 ? {} : { loadAverage: loads.reduce((sum, value) => sum + value, 0) / loads.length }),
    notes: [...first.notes, `measured in ${plural(slices.length, "slice")} alternating with ${alternatedWith}`],
  };
}
