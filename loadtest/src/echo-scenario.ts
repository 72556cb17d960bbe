/** The echo baseline run: a bare grpc-js unary Echo(bytes) server, by the Node generator or h2load. */
import { durationFlag, payloadFlag, reproduceCommand } from "./command-line";
import { encodeEcho, ECHO_METHOD_PATH } from "./echo-protocol";
import { frameGrpcMessage } from "./grpc-framing";
import { intervalMsOf } from "./interval-timeline";
import { runH2load } from "./native-h2load";
import { loadShapeOf, runNodeLoad } from "./node-run";
import { formatPayloadSpec, PayloadSource } from "./payloads";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import { SCENARIO_DEFAULTS } from "./scenario-defaults";

/** Runs the echo baseline on an already started echo server. */
export async function runEchoScenario(context: RunContext, target: LoadTarget, generator: "node" | "h2load" = context.options.generator): Promise<RunResult> {
  const options = context.options;
  const payload = options.payload ?? SCENARIO_DEFAULTS.echo.payload;
  const unit = SCENARIO_DEFAULTS.echo.unit;
  if (generator === "h2load") {
    const connections = options.channels * options.workers;
    return runH2load({
      id: "echo-echo-h2load",
      title: "echo · echo baseline · h2load",
      scenario: "echo",
      targetLabel: "echo",
      unit,
      command: reproduceCommand("echo", {
        generator: "h2load",
        duration: durationFlag(options.durationMs),
        warmup: durationFlag(options.warmupMs),
        "in-flight": options.inFlight,
        channels: connections,
      }),
      address: target.addresses[0] ?? "",
      path: ECHO_METHOD_PATH,
      body: frameGrpcMessage(encodeEcho(new PayloadSource(payload).next())),
      connections,
      inFlight: options.inFlight,
      threads: 1,
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      intervalMs: intervalMsOf(options),
      payload: formatPayloadSpec(payload),
      ...(target.observed === undefined ? {} : { server: target.observed }),
      gcSource: target.gcSource,
    });
  }
  return runNodeLoad({
    id: `echo-echo-node${options.mode === "open" ? "-open" : ""}`,
    title: `echo · echo baseline · Node${options.mode === "open" ? ` · open loop ${options.rate ?? 0}/s` : ""}`,
    scenario: "echo",
    targetLabel: "echo",
    unit,
    command: reproduceCommand("echo", {
      duration: durationFlag(options.durationMs),
      warmup: durationFlag(options.warmupMs),
      "in-flight": options.inFlight,
      channels: options.channels,
      workers: options.workers,
      ...(options.mode === "open" ? { mode: "open", rate: options.rate } : {}),
      payload: payloadFlag(payload),
    }),
    workload: "echo",
    target: { kind: "echo", addresses: target.addresses },
    ...loadShapeOf(options),
    payload,
    pool: { prefix: "", size: 0 },
    writeRatio: 0,
    thinkMs: 0,
    leaseMs: 0,
    ...(target.observed === undefined ? {} : { server: target.observed }),
    gcSource: target.gcSource,
    progress: context.progress,
  });
}
