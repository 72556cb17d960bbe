/**
 * Node.js runtime metrics under prom-client's names (heap, heap spaces, external memory, event-loop
 * lag, version), as observable instruments read at collection time. GC pauses are in gc-metrics.ts.
 * For an in-memory store these say where its memory is: sessions live in slab pages outside the V8
 * heap (external memory), their index and the request garbage inside it.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from "node:v8";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { BatchObservableResult, Meter, Observable } from "@opentelemetry/api";
import {
  ATTR_HEAP_SPACE,
  METRIC_EVENT_LOOP_LAG,
  METRIC_EVENT_LOOP_LAG_PREFIX,
  METRIC_EXTERNAL_MEMORY,
  METRIC_HEAP_SPACE_PREFIX,
  METRIC_HEAP_TOTAL,
  METRIC_HEAP_USED,
  METRIC_NODEJS_VERSION,
} from "./telemetry-names";

/** Sampling interval of the event-loop delay monitor (10 ms resolution is plenty for alerting). */
const EVENT_LOOP_RESOLUTION_MS = 10;

const LAG_STATISTICS = ["min", "max", "mean", "stddev", "p50", "p90", "p99"] as const;
type LagStatistic = (typeof LAG_STATISTICS)[number];

/** The time a setImmediate callback waits, in seconds: the loop's lag right now. */
function measureLag(): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => setImmediate(() => resolve(Number(process.hrtime.bigint() - started) / 1e9)));
}

/** The Node.js runtime metrics; {@link close} stops the event-loop sampler. */
export class NodeRuntimeMetrics {
  private readonly eventLoopDelay: IntervalHistogram;
  /**
   * The statistics of the last interval that had samples: an interval shorter than the sampler's
   * resolution has none (two scrapes in quick succession, or a scrape right after an OTLP push),
   * and its series must not vanish for it. Zero until the first interval with samples.
   */
  private lastLag: Record<LagStatistic, number> = { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };

  constructor(meter: Meter) {
    const gauge = (name: string, description: string, unit: string): Observable => meter.createObservableGauge(name, { description, unit });
    const heapTotal = gauge(METRIC_HEAP_TOTAL, "Size of the V8 heap.", "By");
    const heapUsed = gauge(METRIC_HEAP_USED, "V8 heap in use.", "By");
    const external = gauge(METRIC_EXTERNAL_MEMORY, "Memory of C++ objects bound to JavaScript objects (buffers, typed arrays; the store's slab pages).", "By");
    const spaceTotal = gauge(`${METRIC_HEAP_SPACE_PREFIX}_total`, "Size of a V8 heap space.", "By");
    const spaceUsed = gauge(`${METRIC_HEAP_SPACE_PREFIX}_used`, "Used size of a V8 heap space.", "By");
    const spaceAvailable = gauge(`${METRIC_HEAP_SPACE_PREFIX}_available`, "Available size of a V8 heap space.", "By");
    const version = gauge(METRIC_NODEJS_VERSION, "The Node.js version (value 1), in the labels.", "{version}");
    const [major, minor, patch] = process.versions.node.split(".");
    const versionAttributes = { version: process.version, major: major ?? "", minor: minor ?? "", patch: patch ?? "" };
    meter.addBatchObservableCallback(
      (observer) => {
        const heap = getHeapStatistics();
        observer.observe(heapTotal, heap.total_heap_size);
        observer.observe(heapUsed, heap.used_heap_size);
        observer.observe(external, process.memoryUsage().external);
        for (const space of getHeapSpaceStatistics()) {
          // prom-client's label values: "new", "old", "code", "large_object", ...
          const attributes = { [ATTR_HEAP_SPACE]: space.space_name.replace(/_space$/, "") };
          observer.observe(spaceTotal, space.space_size, attributes);
          observer.observe(spaceUsed, space.space_used_size, attributes);
          observer.observe(spaceAvailable, space.space_available_size, attributes);
        }
        observer.observe(version, 1, versionAttributes);
      },
      [heapTotal, heapUsed, external, spaceTotal, spaceUsed, spaceAvailable, version],
    );

    const lag = gauge(METRIC_EVENT_LOOP_LAG, "Event-loop lag at collection: how long a setImmediate callback waited.", "s");
    meter.addBatchObservableCallback(async (observer) => observer.observe(lag, await measureLag()), [lag]);

    this.eventLoopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.eventLoopDelay.enable();
    const statistics = Object.fromEntries(
      LAG_STATISTICS.map((statistic) => [
        statistic,
        gauge(`${METRIC_EVENT_LOOP_LAG_PREFIX}.${statistic}`, `Event-loop lag, ${statistic} over the last collection interval.`, "s"),
      ]),
    ) as Record<LagStatistic, Observable>;
    meter.addBatchObservableCallback((observer) => this.observeEventLoopDelay(observer, statistics), Object.values(statistics));
  }

  /** Stops the event-loop delay sampler. */
  close(): void {
    this.eventLoopDelay.disable();
  }

  private observeEventLoopDelay(observer: BatchObservableResult, gauges: Record<LagStatistic, Observable>): void {
    const histogram = this.eventLoopDelay;
    if (histogram.count > 0) {
      // The sampler's samples include its own timer interval; the delay is what exceeds it.
      const seconds = (nanoseconds: number): number => Math.max(0, nanoseconds - EVENT_LOOP_RESOLUTION_MS * 1e6) / 1e9;
      this.lastLag = {
        min: seconds(histogram.min),
        max: seconds(histogram.max),
        mean: seconds(histogram.mean),
        // The deviation is not shifted by the interval.
        stddev: histogram.stddev / 1e9,
        p50: seconds(histogram.percentile(50)),
        p90: seconds(histogram.percentile(90)),
        p99: seconds(histogram.percentile(99)),
      };
      // Per interval, so a past stall does not mask (or fake) the current state.
      histogram.reset();
    }
    for (const statistic of LAG_STATISTICS) observer.observe(gauges[statistic], this.lastLag[statistic]);
  }
}
