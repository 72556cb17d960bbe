/**
 * The metric reader behind `GET /metrics`: collects like any OpenTelemetry reader (cumulative) and
 * writes the Prometheus text format (0.0.4) the way Prometheus users expect it:
 * - names per prometheus-naming.ts (`rpc_server_call_duration_seconds`, `..._bytes`, `..._total`),
 *   so no `# UNIT` comment is needed (or written);
 * - no `otel_scope_name` / `otel_scope_version` label on every series and no `target_info`
 *   family: one process serves one scope, and Prometheus labels the target itself (`job`,
 *   `instance`); the OTLP push keeps scope and resource.
 *
 * The serialisation itself (escaping, histogram buckets, HELP and TYPE) is the OpenTelemetry
 * exporter's PrometheusSerializer; only its input is renamed.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { diag } from "@opentelemetry/api";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { AggregationTemporality, MetricReader, type MetricProducer, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { prometheusName } from "./prometheus-naming";

/** The media type of the Prometheus text format. */
export const PROMETHEUS_TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** `resourceMetrics` with every metric under its Prometheus name and without a unit. */
export function withPrometheusNames(resourceMetrics: ResourceMetrics): ResourceMetrics {
  return {
    resource: resourceMetrics.resource,
    scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
      scope: scope.scope,
      metrics: scope.metrics.map((metric) => ({ ...metric, descriptor: { ...metric.descriptor, name: prometheusName(metric), unit: "" } })),
    })),
  };
}

/** A pull reader that serves the Prometheus text format. */
export class PrometheusTextReader extends MetricReader {
  // No prefix, no timestamps, no resource labels, no target_info, no scope labels.
  private readonly serializer = new PrometheusSerializer("", false, undefined, true, true);

  /** @param producers - metrics aggregated outside the SDK's instruments (CallMetrics, GcMetrics). */
  constructor(producers: MetricProducer[]) {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE, metricProducers: producers });
  }

  /** Collects now and returns the exposition text. */
  async scrape(): Promise<string> {
    const { resourceMetrics, errors } = await this.collect();
    if (errors.length > 0) diag.error("Prometheus endpoint: metric collection errors", ...errors);
    return this.serializer.serialize(withPrometheusNames(resourceMetrics));
  }

  /** Answers a scrape request (the same method as the OpenTelemetry PrometheusExporter's). */
  getMetricsRequestHandler(_request: IncomingMessage, response: ServerResponse): void {
    this.scrape().then(
      (text) => {
        response.statusCode = 200;
        response.setHeader("content-type", PROMETHEUS_TEXT_CONTENT_TYPE);
        response.end(text);
      },
      (error: unknown) => {
        response.statusCode = 500;
        response.setHeader("content-type", "text/plain; charset=utf-8");
        response.end(`# failed to collect metrics: ${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  }

  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}
