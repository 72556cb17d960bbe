/**
 * OpenTelemetry for the `stateward serve` process, configured by the standard OTEL_* variables.
 *
 * - Traces go through `@opentelemetry/sdk-node`, which reads OTEL_TRACES_EXPORTER,
 *   OTEL_EXPORTER_OTLP_* (endpoint, headers, protocol: http/protobuf by default),
 *   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_PROPAGATORS and OTEL_TRACES_SAMPLER(_ARG).
 * - Metrics are pushed over OTLP/HTTP by a periodic reader (OTEL_METRIC_EXPORT_INTERVAL); the
 *   server owns its MeterProvider (see stateward-server.ts) so the Prometheus endpoint and the push
 *   share one set of instruments.
 *
 * Unlike the SDK's own defaults, nothing is exported unless asked for: tracing is on only when
 * OTEL_TRACES_EXPORTER names an exporter or an OTLP endpoint is set, metrics are pushed only when
 * OTEL_METRICS_EXPORTER includes `otlp` or an OTLP endpoint is set, and OTEL_SDK_DISABLED=true turns
 * everything off. The default sampler is parent-based with a 10 % ratio for root spans (the SDK's
 * default is 100 %), so that tracing can stay on in production; OTEL_TRACES_SAMPLER overrides it.
 * For the parent-based ratio samplers the root decision is Stateward's own (see
 * TelemetryPlan.rootSampleRatio): the SDK then gets a parent-based sampler with an always-on root.
 *
 * The resource (on every span and metric) comes from detectors chosen here, not the SDK's defaults:
 * service instance id, process (with the values of secret flags such as --session-hash-key
 * removed from `process.command_args`), host, OS and the environment (OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES), every value cleared of the configured secrets (secret-redaction.ts).
 * OTEL_NODE_RESOURCE_DETECTORS is therefore not consulted.
 *
 * This module loads the SDK packages; the CLI imports it only when telemetry is configured, and
 * before the modules that load @grpc/grpc-js, so instrumentations registered here see grpc-js
 * being loaded. (Stateward's own spans do not depend on that order: they are created in its
 * handlers, not by patching grpc-js.)
 */
import { propagation, trace, type ContextManager } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
  type Resource,
} from "@opentelemetry/resources";
import { PeriodicExportingMetricReader, type IMetricReader, type MetricProducer } from "@opentelemetry/sdk-metrics";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { AlwaysOnSampler, ParentBasedSampler } from "@opentelemetry/sdk-trace";
import { SECRET_OPTIONS } from "../config";
import type { ServerTelemetry } from "../stateward-server";
import { redactedProcessDetector, redactingDetector } from "./secret-redaction";
import { telemetryPlan, type TelemetryPlan } from "./telemetry-plan";

/** Telemetry started for the process. */
export interface ProcessTelemetry {
  /** What to hand to `startServer`. */
  readonly server: ServerTelemetry;
  /** What was enabled, for the startup log. */
  readonly plan: TelemetryPlan;
  /** Flushes and stops the tracing SDK (the server stops its own metric readers). */
  shutdown(): Promise<void>;
}

/**
 * The resource of the process's spans and metrics (see the module comment): `service.name`
 * `stateward` unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
 * @param secrets - the configured secret values (config.ts `secretValues`), removed from every attribute.
 */
export function processResource(secrets: readonly string[]): Resource {
  const detectors = [serviceInstanceIdDetector, redactedProcessDetector(SECRET_OPTIONS.map((option) => option.flag)), hostDetector, osDetector, envDetector];
  return defaultResource()
    .merge(resourceFromAttributes({ "service.name": "stateward" }))
    .merge(detectResources({ detectors: detectors.map((detector) => redactingDetector(detector, secrets)) }));
}

/**
 * Starts tracing (and prepares the OTLP metric reader) as the environment asks.
 * @param env - the process environment (the CLI passes `process.env`). The OpenTelemetry SDK reads
 * the exporter variables (endpoint, headers, ...) from `process.env` itself.
 * @param secrets - the configured secret values, kept out of the resource.
 */
export function startProcessTelemetry(env: Readonly<Record<string, string | undefined>>, secrets: readonly string[]): ProcessTelemetry {
  const plan = telemetryPlan(env);
  const resource = processResource(secrets);
  let sdk: NodeSDK | undefined;
  let server: ServerTelemetry = { resource };
  if (plan.traces) {
    sdk = new NodeSDK({
      // The resource above, not the SDK's detectors (whose process detector exports the command
      // line as it is, secret flags included).
      resource,
      autoDetectResources: false,
      // With a root ratio the root decision is made before the SDK sees the operation.
      ...(plan.rootSampleRatio === undefined ? {} : { sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }) }),
      // No context manager: Stateward passes each span's parent explicitly, and the SDK's default
      // (AsyncLocalStorage) would tax every asynchronous step of every call, traced or not.
      contextManager: null as unknown as ContextManager,
      // Metrics are the server's own (one MeterProvider for Prometheus and OTLP); no log export.
      metricReaders: [],
      logRecordProcessors: [],
      instrumentations: [],
    });
    sdk.start();
    server = {
      ...server,
      tracerProvider: trace.getTracerProvider(),
      propagator: propagation,
      ...(plan.rootSampleRatio === undefined ? {} : { rootSampleRatio: plan.rootSampleRatio }),
    };
  }
  if (plan.metricsPush) {
    const metricReaders = (producers: MetricProducer[]): IMetricReader[] => [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(),
        exportIntervalMillis: plan.metricExportIntervalMs,
        exportTimeoutMillis: Math.min(30_000, plan.metricExportIntervalMs),
        metricProducers: producers,
      }),
    ];
    server = { ...server, metricReaders };
  }
  return {
    server,
    plan,
    shutdown: async () => {
      await sdk?.shutdown();
    },
  };
}
