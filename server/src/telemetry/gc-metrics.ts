/**
 * Garbage-collection pauses, `nodejs.gc.duration` by `kind` (Prometheus:
 * `nodejs_gc_duration_seconds{kind}`, as prom-client names it), from perf_hooks' `gc` entries.
 *
 * Produced like the per-call metrics (a MetricProducer over {@link CumulativeHistogram}) rather
 * than through an SDK histogram, so that the series of all four kinds exist from the start: a
 * server may run for hours before its first major collection, and a pause alert must see 0, not
 * "absent", until then.
 */
import { ValueType, type Attributes, type HrTime } from "@opentelemetry/api";
import { hrTime } from "@opentelemetry/core";
import { emptyResource } from "@opentelemetry/resources";
import { AggregationTemporality, DataPointType, type CollectionResult, type MetricProducer } from "@opentelemetry/sdk-metrics";
import { PerformanceObserver, constants, type PerformanceEntry } from "node:perf_hooks";
import { CumulativeHistogram } from "./cumulative-histogram";
import { ATTR_GC_KIND, GC_KINDS, METRIC_GC_DURATION } from "./telemetry-names";

/** Bucket bounds in seconds: scavenges take a fraction of a millisecond, full collections more. */
export const GC_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
]);

/** perf_hooks' GC kind flags by the `kind` label of each (the label values of prom-client). */
const KIND_BY_FLAG: ReadonlyMap<number, string> = new Map([
  [constants.NODE_PERFORMANCE_GC_MINOR, "minor"],
  [constants.NODE_PERFORMANCE_GC_MAJOR, "major"],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, "incremental"],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, "weakcb"],
]);

/** GC pauses by kind; observes the process's collections between {@link start} and {@link stop}. */
export class GcMetrics implements MetricProducer {
  private readonly kinds = new Map<string, { readonly attributes: Attributes; readonly values: CumulativeHistogram }>();
  private readonly startTime: HrTime = hrTime();
  private observer: PerformanceObserver | undefined;

  constructor() {
    for (const kind of GC_KINDS) this.kinds.set(kind, { attributes: Object.freeze({ [ATTR_GC_KIND]: kind }), values: new CumulativeHistogram(GC_BUCKETS_SECONDS) });
  }

  /** Starts observing collections (only when metrics are read: the observer costs a little per GC). */
  start(): void {
    if (this.observer !== undefined) return;
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.record(entry);
    });
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /** Stops observing. */
  stop(): void {
    this.observer?.disconnect();
    this.observer = undefined;
  }

  private record(entry: PerformanceEntry): void {
    // `detail` holds the kind since Node 16 (the types of some Node versions do not declare it).
    const flag = (entry as PerformanceEntry & { readonly detail?: { readonly kind?: number } | null }).detail?.kind;
    const kind = flag === undefined ? undefined : KIND_BY_FLAG.get(flag);
    if (kind === undefined) return;
    this.kinds.get(kind)?.values.record(entry.duration / 1000);
  }

  /** MetricProducer: the pauses so far. */
  collect(): Promise<CollectionResult> {
    const endTime = hrTime();
    return Promise.resolve({
      resourceMetrics: {
        resource: emptyResource(),
        scopeMetrics: [
          {
            scope: { name: "@stateward/server" },
            metrics: [
              {
                descriptor: {
                  name: METRIC_GC_DURATION,
                  description: "Garbage-collection pauses of the V8 heap, by kind (minor: scavenge, major: mark-sweep-compact, incremental marking steps, weak callbacks).",
                  unit: "s",
                  valueType: ValueType.DOUBLE,
                },
                aggregationTemporality: AggregationTemporality.CUMULATIVE,
                dataPointType: DataPointType.HISTOGRAM,
                dataPoints: [...this.kinds.values()].map((series) => ({
                  startTime: this.startTime,
                  endTime,
                  attributes: series.attributes,
                  value: series.values.snapshot(),
                })),
              },
            ],
          },
        ],
      },
      errors: [],
    });
  }
}
