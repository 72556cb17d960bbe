/**
 * Which telemetry the OTEL_* variables ask for. Pure (no SDK loaded), so the CLI can decide whether
 * to load the OpenTelemetry SDK at all: with nothing configured it is never loaded.
 */

/** What the environment enables. */
export interface TelemetryPlan {
  /** Export spans (OTEL_TRACES_EXPORTER names an exporter, or an OTLP endpoint is set). */
  readonly traces: boolean;
  /** Push metrics over OTLP/HTTP (OTEL_METRICS_EXPORTER has `otlp`, or an OTLP endpoint is set). */
  readonly metricsPush: boolean;
  /**
   * Ratio of root operations (no sampled or unsampled caller context) to trace, when the sampler is
   * parent-based with a ratio for roots: Stateward's default (10 %, OTEL_TRACES_SAMPLER unset),
   * `parentbased_traceidratio` (OTEL_TRACES_SAMPLER_ARG, default 1) or `parentbased_always_on` (1).
   * Stateward then makes that decision itself, before the SDK is involved, so that an operation
   * left out costs next to nothing (the SDK's sampler needs new trace and span ids first). Undefined
   * for other samplers, which the SDK applies as configured.
   */
  readonly rootSampleRatio: number | undefined;
  /** Interval of the metric push (OTEL_METRIC_EXPORT_INTERVAL, default 60 s). */
  readonly metricExportIntervalMs: number;
}

/** Ratio of root operations traced when OTEL_TRACES_SAMPLER is not set (parent-based sampling). */
export const DEFAULT_SAMPLING_RATIO = 0.1;

type Env = Readonly<Record<string, string | undefined>>;

function list(env: Env, name: string): string[] {
  return (env[name] ?? "")
    .split(",")
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== "");
}

function isSet(env: Env, name: string): boolean {
  return (env[name] ?? "").trim() !== "";
}

/**
 * Reads the plan from the standard variables.
 * @param env - the environment (the CLI passes `process.env`).
 */
export function telemetryPlan(env: Env): TelemetryPlan {
  const disabled = (env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true";
  const anyEndpoint = isSet(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  const traceExporters = list(env, "OTEL_TRACES_EXPORTER");
  const metricExporters = list(env, "OTEL_METRICS_EXPORTER");
  const traces =
    traceExporters.length > 0
      ? !traceExporters.includes("none")
      : anyEndpoint || isSet(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const metricsPush =
    metricExporters.length > 0
      ? metricExporters.includes("otlp")
      : anyEndpoint || isSet(env, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
  const interval = Number((env.OTEL_METRIC_EXPORT_INTERVAL ?? "").trim());
  const sampler = (env.OTEL_TRACES_SAMPLER ?? "").trim().toLowerCase();
  let rootSampleRatio: number | undefined;
  if (sampler === "") rootSampleRatio = DEFAULT_SAMPLING_RATIO;
  else if (sampler === "parentbased_always_on") rootSampleRatio = 1;
  else if (sampler === "parentbased_traceidratio") {
    const ratio = Number((env.OTEL_TRACES_SAMPLER_ARG ?? "").trim() || "1");
    // The SDK's own rule for a bad argument: fall back to 1.
    rootSampleRatio = Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1;
  }
  return {
    traces: !disabled && traces,
    metricsPush: !disabled && metricsPush,
    rootSampleRatio,
    metricExportIntervalMs: Number.isSafeInteger(interval) && interval > 0 ? interval : 60_000,
  };
}
