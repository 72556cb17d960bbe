/**
 * What the OTEL_* variables switch on (nothing by default), and the head sampling Stateward does
 * before the SDK: roots at the configured ratio, callers' decisions respected.
 */
import * as assert from "node:assert/strict";
import { ROOT_CONTEXT, TraceFlags, trace, type Context } from "@opentelemetry/api";
import { AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { OperationTelemetry, type OperationResult } from "../src/telemetry/operation-telemetry";
import { DEFAULT_SAMPLING_RATIO, telemetryPlan } from "../src/telemetry/telemetry-plan";

const OK: OperationResult = { code: 0, outcome: "ok", reason: "", responseBytes: 0, waited: false };

function callerContext(sampled: boolean): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}

describe("telemetry: the OTEL_* plan", () => {
  it("enables nothing without variables", () => {
    const plan = telemetryPlan({});
    assert.equal(plan.traces, false);
    assert.equal(plan.metricsPush, false);
    assert.equal(plan.rootSampleRatio, DEFAULT_SAMPLING_RATIO);
    assert.equal(DEFAULT_SAMPLING_RATIO, 0.1);
  });

  it("enables traces and metric push for an OTLP endpoint, each unless its exporter is none", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    assert.deepEqual([telemetryPlan(endpoint).traces, telemetryPlan(endpoint).metricsPush], [true, true]);
    assert.equal(telemetryPlan({ ...endpoint, OTEL_TRACES_EXPORTER: "none" }).traces, false);
    assert.equal(telemetryPlan({ ...endpoint, OTEL_METRICS_EXPORTER: "none" }).metricsPush, false);
    assert.equal(telemetryPlan({ OTEL_TRACES_EXPORTER: "otlp" }).traces, true);
    assert.equal(telemetryPlan({ OTEL_TRACES_EXPORTER: "console" }).metricsPush, false);
    assert.equal(telemetryPlan({ OTEL_METRICS_EXPORTER: "otlp" }).metricsPush, true);
    assert.equal(telemetryPlan({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://x:4318/v1/metrics" }).traces, false);
    assert.equal(telemetryPlan({ ...endpoint, OTEL_SDK_DISABLED: "true" }).traces, false);
    assert.equal(telemetryPlan({ ...endpoint, OTEL_SDK_DISABLED: "true" }).metricsPush, false);
    assert.equal(telemetryPlan({ OTEL_METRIC_EXPORT_INTERVAL: "5000" }).metricExportIntervalMs, 5000);
    assert.equal(telemetryPlan({}).metricExportIntervalMs, 60_000);
  });

  it("takes the root ratio from parent-based samplers and leaves the others to the SDK", () => {
    assert.equal(telemetryPlan({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" }).rootSampleRatio, 0.25);
    assert.equal(telemetryPlan({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio" }).rootSampleRatio, 1);
    assert.equal(telemetryPlan({ OTEL_TRACES_SAMPLER: "parentbased_always_on" }).rootSampleRatio, 1);
    assert.equal(telemetryPlan({ OTEL_TRACES_SAMPLER: "always_on" }).rootSampleRatio, undefined);
    assert.equal(telemetryPlan({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" }).rootSampleRatio, undefined);
  });
});

describe("telemetry: head sampling before the SDK", () => {
  function telemetry(rootSampleRatio: number): { telemetry: OperationTelemetry; exporter: InMemorySpanExporter } {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    return { telemetry: new OperationTelemetry({ tracerProvider: provider, rootSampleRatio }), exporter };
  }

  it("traces roots at the ratio", () => {
    const { telemetry: t, exporter } = telemetry(0.1);
    for (let i = 0; i < 2000; i++) t.start("Get", "pipeline", ROOT_CONTEXT, "app", "s", 0).end(OK);
    const traced = exporter.getFinishedSpans().length;
    // Binomial(2000, 0.1): mean 200, sd 13.4; ±6 sd never fails by chance.
    assert.ok(traced > 120 && traced < 280, `${traced} of 2000 root operations traced`);
    const none = telemetry(0);
    for (let i = 0; i < 100; i++) none.telemetry.start("Get", "unary", ROOT_CONTEXT, "app", "s", 0).end(OK);
    assert.equal(none.exporter.getFinishedSpans().length, 0);
  });

  it("follows the caller's decision whatever the ratio", () => {
    const never = telemetry(0);
    never.telemetry.start("Set", "unary", callerContext(true), "app", "s", 3).end(OK);
    assert.equal(never.exporter.getFinishedSpans().length, 1, "a sampled caller is traced");
    assert.equal(never.exporter.getFinishedSpans()[0]?.parentSpanContext?.spanId, "b7ad6b7169203331");
    const always = telemetry(1);
    always.telemetry.start("Set", "unary", callerContext(false), "app", "s", 3).end(OK);
    assert.equal(always.exporter.getFinishedSpans().length, 0, "an unsampled caller is not");
  });
});
