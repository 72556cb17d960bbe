/**
 * Test kit for the observability suites: a real server on 127.0.0.1:0 with in-memory span
 * exporters and a pull metric reader, plus client-side tracing with its own in-memory exporter.
 */
import * as assert from "node:assert/strict";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { context, type Attributes } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { MetricReader, type DataPoint, type MetricData, type MetricProducer, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { SessionStateClient } from "../../../client/ts/src";
import { createBackend, resolveConfig, startServer, systemClock, type BackendContext, type StartedServer } from "../../src/index";
import type { Clock } from "../../src/store/clock";
import { DeferredBackend } from "./deferred-backend";
import { withTimeout, type BackendKind } from "./test-server";

/** A metric reader the test collects from on demand. */
export class PullMetricReader extends MetricReader {
  constructor(producers: MetricProducer[] = []) {
    super({ metricProducers: producers });
  }

  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}

  /** Collects every metric now. */
  async metrics(): Promise<ResourceMetrics> {
    const { resourceMetrics, errors } = await this.collect();
    assert.deepEqual(errors, [], "metric collection errors");
    return resourceMetrics;
  }
}

/** Every metric of a collection, by name. */
export function metricsByName(collected: ResourceMetrics): Map<string, MetricData> {
  const byName = new Map<string, MetricData>();
  for (const scope of collected.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
  return byName;
}

/** The data points of `name` whose attributes include `match`. */
export function pointsOf(collected: ResourceMetrics, name: string, match: Attributes = {}): DataPoint<unknown>[] {
  const metric = metricsByName(collected).get(name);
  assert.ok(metric !== undefined, `metric ${name} collected`);
  return (metric.dataPoints as DataPoint<unknown>[]).filter((point) =>
    Object.entries(match).every(([key, value]) => point.attributes[key] === value),
  );
}

/** Sum of the values (counters, gauges) or counts (histograms) of the matching points. */
export function total(collected: ResourceMetrics, name: string, match: Attributes = {}): number {
  let sum = 0;
  for (const point of pointsOf(collected, name, match)) {
    const value = point.value;
    sum += typeof value === "number" ? value : (value as { count: number }).count;
  }
  return sum;
}

/** In-memory tracing for one side (server or client). */
export interface MemoryTracing {
  readonly provider: TracerProvider;
  readonly exporter: InMemorySpanExporter;
  spans(): ReadableSpan[];
}

export function memoryTracing(): MemoryTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  return { provider, exporter, spans: () => exporter.getFinishedSpans() };
}

/** W3C Trace Context, the propagator both sides use in the tests (no global SDK is registered). */
export const propagator = new W3CTraceContextPropagator();

/**
 * Registers an AsyncLocalStorage context manager for the suite (client spans parent on the active
 * context), and removes it afterwards.
 */
export function useContextManager(): void {
  before(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  after(() => {
    context.disable();
  });
}

/** A server started with telemetry, and what to close. */
export interface ObservedServer {
  readonly server: StartedServer;
  readonly tracing: MemoryTracing;
  /** The test's metric reader (throws if the server was started with `metrics: false`). */
  readonly reader: PullMetricReader;
  /** Clients and other closables, closed before the server. */
  readonly closables: { close(): void }[];
  client(options?: grpc.ClientOptions): SessionStateClient;
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1:0 (log silent) with an in-memory tracer and a pull metric reader.
 * @param flags - extra flags.
 * @param opts - clock; `tracing: false` to start without a tracer; `metrics: false` without reader;
 *   `backend: "deferred"` for the memory backend behind {@link DeferredBackend} (default memory).
 */
export async function startObservedServer(
  flags: string[] = [],
  opts: { clock?: Clock; tracing?: boolean; metrics?: boolean; backend?: BackendKind } = {},
): Promise<ObservedServer> {
  const tracing = memoryTracing();
  let created: PullMetricReader | undefined;
  const config = resolveConfig(["--host", "127.0.0.1", "--port", "0", "--log-level", "silent", ...flags], {});
  const server = await startServer(config, {
    clock: opts.clock ?? systemClock,
    ...(opts.backend === "deferred" ? { backend: (context: BackendContext) => new DeferredBackend(createBackend(context)) } : {}),
    telemetry: {
      ...(opts.tracing === false ? {} : { tracerProvider: tracing.provider }),
      ...(opts.metrics === false ? {} : { metricReaders: (producers: MetricProducer[]) => [(created = new PullMetricReader(producers))] }),
      propagator,
    },
  });
  const closables: { close(): void }[] = [];
  let closed: Promise<void> | undefined;
  const reader = created ?? new PullMetricReader();
  return {
    server,
    tracing,
    reader,
    closables,
    client(options = {}) {
      const client = new SessionStateClient(server.address, grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
        ...options,
      });
      closables.push(client);
      return client;
    },
    close() {
      closed ??= (async () => {
        for (const closable of closables) closable.close();
        await withTimeout(server.shutdown(), 5000, "server.shutdown()").catch((error: unknown) => {
          server.forceShutdown();
          throw error;
        });
        await tracing.provider.shutdown();
      })();
      return closed;
    },
  };
}

/** Promisifies a unary method of the generated client. */
export function unary<Req, Res>(
  client: SessionStateClient,
  method: (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: (error: grpc.ServiceError | null, response: Res) => void) => grpc.ClientUnaryCall,
  request: Req,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    method.call(client, request, new grpc.Metadata(), {}, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** A TCP port that was free a moment ago (the metrics port cannot be 0: 0 means "off"). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every string in a span (attribute values, event attributes, status message, name), for leak checks. */
export function spanStrings(span: ReadableSpan): string {
  return JSON.stringify({
    name: span.name,
    attributes: span.attributes,
    events: span.events.map((event) => ({ name: event.name, attributes: event.attributes })),
    status: span.status,
    links: span.links.map((link) => link.attributes),
    resource: span.resource.attributes,
  });
}
