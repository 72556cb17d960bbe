/**
 * In-process cost of Stateward's per-operation telemetry, in nanoseconds of CPU per operation,
 * without gRPC around it: a steadier figure than end-to-end throughput on a busy machine, and the
 * one to compare with the server's CPU time per operation (about 5 µs pipelined, 50-100 µs unary).
 *
 *   npx tsx server/tools/measure-telemetry-cost.ts
 *
 * Modes: nothing configured (the bare handlers run: this is only the wrapper's floor, shown for
 * scale), metrics only, tracing at 10 % and at 100 % (parent-based, Stateward's own head sampling,
 * batch span processor; the exporter discards the batches, so OTLP encoding and sending are not
 * included: see measure-tracing-overhead.ts for the end-to-end figure).
 */
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TracerProvider } from "@opentelemetry/sdk-trace";
import { CallMetrics } from "../src/telemetry/call-metrics";
import { GcMetrics } from "../src/telemetry/gc-metrics";
import { OperationTelemetry, type OperationResult } from "../src/telemetry/operation-telemetry";
import { ServerMetrics } from "../src/telemetry/server-metrics";

class DiscardingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const RESULT: OperationResult = { code: 0, outcome: "ok", reason: "", responseBytes: 1024, waited: false };
const OPERATIONS = 200_000;

function nanosecondsPerOperation(telemetry: OperationTelemetry): number {
  const once = (): void => telemetry.start("Get", "pipeline", ROOT_CONTEXT, "bench", "bench-session", 0).end(RESULT);
  for (let i = 0; i < 50_000; i++) once();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < OPERATIONS; i++) once();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / OPERATIONS);
  }
  return best;
}

function tracerProvider(): TracerProvider {
  return new TracerProvider({
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [new BatchSpanProcessor({ exporter: { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} } })],
  });
}

async function main(): Promise<void> {
  const calls = new CallMetrics();
  const meterProvider = new MeterProvider({ readers: [new DiscardingReader({ metricProducers: [calls] })] });
  const metrics = new ServerMetrics(meterProvider, { storeStats: () => ({}) as never, watchers: () => 0 }, calls, new GcMetrics());
  const providers: TracerProvider[] = [];
  const traced = (ratio: number): OperationTelemetry => {
    const provider = tracerProvider();
    providers.push(provider);
    return new OperationTelemetry({ tracerProvider: provider, rootSampleRatio: ratio });
  };
  const rows = [
    { mode: "wrapper only (nothing configured)", ns: nanosecondsPerOperation(new OperationTelemetry({})) },
    { mode: "metrics", ns: nanosecondsPerOperation(new OperationTelemetry({ metrics })) },
    { mode: "tracing, 10 % sampled", ns: nanosecondsPerOperation(traced(0.1)) },
    { mode: "tracing, 100 % sampled", ns: nanosecondsPerOperation(traced(1)) },
  ];
  console.table(rows.map((row) => ({ mode: row.mode, "ns/op": Math.round(row.ns) })));
  metrics.close();
  await Promise.all([meterProvider.shutdown(), ...providers.map((provider) => provider.shutdown())]);
}

void main();
