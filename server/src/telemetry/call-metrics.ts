/**
 * The per-operation metrics, aggregated by Stateward itself and handed to the metric readers as a
 * MetricProducer: `rpc.server.call.duration` (whose count is the operation count: there is no
 * separate counter) and `stateward.lock.wait.duration`.
 *
 * Why not the SDK's instruments: a synchronous OpenTelemetry instrument hashes the attribute set on
 * every record (about 1.8 µs here for the six attributes of a call), which would double the server's
 * CPU time per pipelined operation. Here a record is a map lookup on a short key, a bucket search
 * and a few additions; the readers see ordinary cumulative histograms at collection.
 *
 * The series of every successful outcome of every method and transport, and of the lock waits
 * that end in a grant or a timeout, exist from the start at zero: a series that appears with its
 * first operation hides that operation from `rate()` and `increase()`, and an alert on it would
 * see "absent" rather than 0.
 */
import { ValueType, type Attributes, type HrTime } from "@opentelemetry/api";
import { hrTime } from "@opentelemetry/core";
import { emptyResource } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";
import { CumulativeHistogram } from "./cumulative-histogram";
import {
  ATTR_ERROR_TYPE,
  ATTR_OUTCOME,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_TRANSPORT,
  METRIC_CALL_DURATION,
  METRIC_LOCK_WAIT,
  OK_OUTCOMES,
  OPERATION_METHODS,
  RPC_SYSTEM_GRPC,
  TRANSPORTS,
  isServerError,
  rpcMethodOf,
  statusNameOf,
  type Transport,
} from "./telemetry-names";

/**
 * Bucket bounds in seconds for call durations and lock waits: most operations take tens of
 * microseconds, waits can last up to --max-wait-ms (2 minutes by default).
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
]);

/** The methods that can queue for a lock, and the wait outcomes whose series exist from the start. */
const WAITING_METHODS = ["Get", "Lock"] as const;
const INITIAL_WAIT_OUTCOMES = ["ok", "locked"] as const;

/** One attribute set and its histogram. */
interface Series {
  readonly attributes: Attributes;
  readonly values: CumulativeHistogram;
}

/** Series by a short key of their attributes. */
class SeriesMap {
  private readonly series = new Map<string, Series>();

  /** The series of `key`, created with `attributes()` the first time. */
  get(key: string, attributes: () => Attributes): CumulativeHistogram {
    let series = this.series.get(key);
    if (series === undefined) {
      series = { attributes: Object.freeze(attributes()), values: new CumulativeHistogram(DURATION_BUCKETS_SECONDS) };
      this.series.set(key, series);
    }
    return series.values;
  }

  all(): IterableIterator<Series> {
    return this.series.values();
  }
}

/** Aggregates the per-operation metrics and produces them for the metric readers. */
export class CallMetrics implements MetricProducer {
  private readonly calls = new SeriesMap();
  private readonly waits = new SeriesMap();
  private readonly startTime: HrTime = hrTime();

  constructor() {
    for (const method of OPERATION_METHODS) {
      for (const transport of TRANSPORTS) for (const outcome of OK_OUTCOMES[method]) this.callSeries(method, transport, 0, outcome);
    }
    for (const method of WAITING_METHODS) {
      for (const transport of TRANSPORTS) for (const outcome of INITIAL_WAIT_OUTCOMES) this.waitSeries(method, transport, outcome);
    }
  }

  /**
   * Records one operation.
   * @param method - the operation (one of OPERATION_METHODS).
   * @param code - the gRPC status it ended with.
   * @param outcome - its `stateward.outcome`.
   * @param seconds - its duration.
   * @param waited - it was queued for a lock (its duration is then also a lock wait).
   */
  record(method: string, transport: Transport, code: number, outcome: string, seconds: number, waited: boolean): void {
    this.callSeries(method, transport, code, outcome).record(seconds);
    if (waited) this.waitSeries(method, transport, outcome).record(seconds);
  }

  private callSeries(method: string, transport: Transport, code: number, outcome: string): CumulativeHistogram {
    return this.calls.get(`${method}|${transport}|${code}|${outcome}`, () => ({
      [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_GRPC,
      [ATTR_RPC_METHOD]: rpcMethodOf(method),
      [ATTR_RPC_STATUS_CODE]: statusNameOf(code),
      ...(isServerError(code) ? { [ATTR_ERROR_TYPE]: statusNameOf(code) } : {}),
      [ATTR_OUTCOME]: outcome,
      [ATTR_TRANSPORT]: transport,
    }));
  }

  private waitSeries(method: string, transport: Transport, outcome: string): CumulativeHistogram {
    return this.waits.get(`${method}|${transport}|${outcome}`, () => ({
      [ATTR_RPC_METHOD]: rpcMethodOf(method),
      [ATTR_OUTCOME]: outcome,
      [ATTR_TRANSPORT]: transport,
    }));
  }

  /** MetricProducer: the current cumulative values (called by every reader at collection). */
  collect(): Promise<CollectionResult> {
    const endTime = hrTime();
    const points = (map: SeriesMap): DataPoint<Histogram>[] =>
      [...map.all()].map((series) => ({ startTime: this.startTime, endTime, attributes: series.attributes, value: series.values.snapshot() }));
    const metrics: MetricData[] = [
      {
        descriptor: {
          name: METRIC_CALL_DURATION,
          description: "Duration of session operations (unary calls and pipelined operations), measured by the server.",
          unit: "s",
          valueType: ValueType.DOUBLE,
        },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: points(this.calls),
      },
      {
        descriptor: {
          name: METRIC_LOCK_WAIT,
          description: "Time Get and Lock operations spent queued for a session's lock (only those that queued), by how the wait ended.",
          unit: "s",
          valueType: ValueType.DOUBLE,
        },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: points(this.waits),
      },
    ];
    return Promise.resolve({
      resourceMetrics: {
        resource: emptyResource(),
        scopeMetrics: [{ scope: { name: "@stateward/server" }, metrics }],
      },
      errors: [],
    });
  }
}
