/**
 * Measures what tracing costs: the same workload against `stateward serve` with tracing off, on
 * with 100 % sampling, and on with the default parent-based 10 % sampling, in one run on one
 * machine, rounds interleaved so that drift hits every mode alike. Spans are really exported (OTLP
 * over HTTP to a sink in this process that reads and discards them), so export costs count.
 *
 * Reports throughput and the server's CPU time per operation, for unary calls and for the
 * pipeline, with each mode's ratio to "off".
 *
 *   npx tsx server/tools/measure-tracing-overhead.ts [--seconds 10] [--warmup 3] [--rounds 2] [--json]
 *     [--markdown FILE]   (appends a "Tracing overhead" section to FILE: `make bench` adds it to BENCHMARKS.md)
 *
 * The warm-up matters: the exporter's code is loaded and optimized by the JIT on its first exports,
 * which at unary rates (a few thousand spans a second) takes seconds; a short run would charge that
 * one-time cost to every operation.
 *
 * The server runs from server/dist (run `npm run build` first) when it exists, else from the
 * sources under tsx.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { PipelineClient } from "@stateward/client";
import { GetRequest, SessionStateClient, SetRequest } from "@stateward/protocol";

const ROOT = path.resolve(__dirname, "../..");
const SESSIONS = 1000;
const PAYLOAD = Buffer.alloc(1024, 7);
const UNARY_CONCURRENCY = 64;
const PIPELINE_IN_FLIGHT = 512;

type Mode = "off" | "on-100%" | "on-10%";
const MODES: readonly Mode[] = ["off", "on-100%", "on-10%"];
type Transport = "unary" | "pipeline";

interface Sample {
  readonly mode: Mode;
  readonly transport: Transport;
  readonly ops: number;
  readonly seconds: number;
  readonly serverCpuSeconds: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** An OTLP/HTTP sink: reads every export request and answers 200 with an empty body. */
async function startSink(): Promise<{ port: number; requests: () => number; close(): void }> {
  let requests = 0;
  const server = http.createServer((request, response) => {
    request.on("data", () => undefined);
    request.on("end", () => {
      requests++;
      response.writeHead(200, { "content-type": request.headers["content-type"] ?? "application/x-protobuf" });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, requests: () => requests, close: () => server.close() };
}

function environmentOf(mode: Mode, sinkPort: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  if (mode === "off") return env;
  env.OTEL_TRACES_EXPORTER = "otlp";
  env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `http://127.0.0.1:${sinkPort}/v1/traces`;
  // Only traces: the metric push is another feature, measured apart.
  env.OTEL_METRICS_EXPORTER = "none";
  if (mode === "on-100%") env.OTEL_TRACES_SAMPLER = "always_on";
  return env;
}

/** CPU seconds (user + system) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

async function startServerProcess(mode: Mode, sinkPort: number): Promise<{ child: ChildProcess; address: string }> {
  const port = await freePort();
  const dist = path.join(ROOT, "server/dist/cli.js");
  const args = existsSync(dist)
    ? [dist, "serve", "--port", String(port), "--log-level", "warn"]
    : ["--require", "tsx/cjs", path.join(ROOT, "server/src/cli.ts"), "serve", "--port", String(port), "--log-level", "warn"];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: environmentOf(mode, sinkPort), stdio: ["ignore", "ignore", "inherit"] });
  const address = `127.0.0.1:${port}`;
  const client = new SessionStateClient(address, grpc.credentials.createInsecure());
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(new Date(Date.now() + 20_000), (error) => (error ? reject(error) : resolve())),
  );
  client.close();
  return { child, address };
}

async function stopServerProcess(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  await exited;
}

function sessionId(i: number): string {
  return `bench-${i}`;
}

async function populate(address: string): Promise<void> {
  const pipeline = new PipelineClient(address, grpc.credentials.createInsecure());
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < SESSIONS; i++) writes.push(pipeline.set(SetRequest.fromPartial({ app: "bench", sessionId: sessionId(i), data: PAYLOAD })));
  await Promise.all(writes);
  pipeline.close();
}

/** Closed-loop unary Gets from UNARY_CONCURRENCY loops on one channel, for `seconds`. */
async function runUnary(address: string, seconds: number): Promise<number> {
  const client = new SessionStateClient(address, grpc.credentials.createInsecure());
  const end = Date.now() + seconds * 1000;
  let ops = 0;
  const loop = async (offset: number): Promise<void> => {
    for (let i = offset; Date.now() < end; i += UNARY_CONCURRENCY) {
      await new Promise<void>((resolve, reject) =>
        client.get(GetRequest.fromPartial({ app: "bench", sessionId: sessionId(i % SESSIONS) }), (error) => (error ? reject(error) : resolve())),
      );
      ops++;
    }
  };
  await Promise.all(Array.from({ length: UNARY_CONCURRENCY }, (_, i) => loop(i)));
  client.close();
  return ops;
}

/** Closed-loop pipelined Gets, PIPELINE_IN_FLIGHT outstanding, for `seconds`. */
async function runPipeline(address: string, seconds: number): Promise<number> {
  const pipeline = new PipelineClient(address, grpc.credentials.createInsecure());
  const end = Date.now() + seconds * 1000;
  let ops = 0;
  const loop = async (offset: number): Promise<void> => {
    for (let i = offset; Date.now() < end; i += PIPELINE_IN_FLIGHT) {
      await pipeline.get(GetRequest.fromPartial({ app: "bench", sessionId: sessionId(i % SESSIONS) }));
      ops++;
    }
  };
  await Promise.all(Array.from({ length: PIPELINE_IN_FLIGHT }, (_, i) => loop(i)));
  pipeline.close();
  return ops;
}

async function measure(mode: Mode, transport: Transport, seconds: number, warmup: number, sinkPort: number): Promise<Sample> {
  const { child, address } = await startServerProcess(mode, sinkPort);
  try {
    await populate(address);
    // Warm-up (JIT, connections), not counted.
    await (transport === "unary" ? runUnary(address, warmup) : runPipeline(address, warmup));
    const cpuBefore = cpuSeconds(child.pid as number);
    const started = process.hrtime.bigint();
    const ops = await (transport === "unary" ? runUnary(address, seconds) : runPipeline(address, seconds));
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    const serverCpuSeconds = cpuSeconds(child.pid as number) - cpuBefore;
    return { mode, transport, ops, seconds: elapsed, serverCpuSeconds };
  } finally {
    await stopServerProcess(child);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "10" },
      warmup: { type: "string", default: "3" },
      rounds: { type: "string", default: "2" },
      json: { type: "boolean", default: false },
      markdown: { type: "string" },
    },
  });
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const rounds = Number(values.rounds);
  const sink = await startSink();
  const samples: Sample[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const transport of ["unary", "pipeline"] as const) {
        // Rotate the order each round so that no mode always runs first (or on a warmer machine).
        const order = MODES.map((_, i) => MODES[(i + round) % MODES.length] as Mode);
        for (const mode of order) {
          const sample = await measure(mode, transport, seconds, warmup, sink.port);
          samples.push(sample);
          process.stderr.write(
            `round ${round + 1} ${transport.padEnd(8)} ${mode.padEnd(8)} ${(sample.ops / sample.seconds).toFixed(0).padStart(7)} ops/s  ` +
              `server CPU ${((sample.serverCpuSeconds / sample.ops) * 1e6).toFixed(1)} µs/op\n`,
          );
        }
      }
    }
  } finally {
    sink.close();
  }
  const rows: Record<string, unknown>[] = [];
  for (const transport of ["unary", "pipeline"] as const) {
    const summary = (mode: Mode): { throughput: number; cpuPerOpUs: number } => {
      const own = samples.filter((sample) => sample.mode === mode && sample.transport === transport);
      const ops = own.reduce((sum, sample) => sum + sample.ops, 0);
      const time = own.reduce((sum, sample) => sum + sample.seconds, 0);
      const cpu = own.reduce((sum, sample) => sum + sample.serverCpuSeconds, 0);
      return { throughput: ops / time, cpuPerOpUs: (cpu / ops) * 1e6 };
    };
    const off = summary("off");
    for (const mode of MODES) {
      const { throughput, cpuPerOpUs } = summary(mode);
      rows.push({
        transport,
        mode,
        "ops/s": Math.round(throughput),
        "vs off": `${((throughput / off.throughput) * 100).toFixed(1)} %`,
        "throughput cost": `${((1 - throughput / off.throughput) * 100).toFixed(1)} %`,
        "server µs/op": Number(cpuPerOpUs.toFixed(1)),
        "server CPU cost": `${((cpuPerOpUs / off.cpuPerOpUs - 1) * 100).toFixed(1)} %`,
      });
    }
  }
  if (values.markdown !== undefined) appendFileSync(values.markdown, markdownSection(rows, seconds, warmup, rounds, sink.requests()));
  if (values.json) process.stdout.write(`${JSON.stringify({ seconds, rounds, spanExportRequests: sink.requests(), rows }, null, 2)}\n`);
  else {
    process.stdout.write(`tracing overhead: ${rounds} round(s) × ${seconds} s per mode and transport; ${sink.requests()} OTLP export requests received\n`);
    console.table(rows);
  }
}

/** The section `make bench` appends to BENCHMARKS.md, with the targets. */
function markdownSection(rows: readonly Record<string, unknown>[], seconds: number, warmup: number, rounds: number, exports: number): string {
  const cost = (transport: string, mode: Mode): number => {
    const row = rows.find((candidate) => candidate["transport"] === transport && candidate["mode"] === mode);
    return Number.parseFloat(String(row?.["throughput cost"] ?? "NaN"));
  };
  const lines = [
    "",
    "## Tracing overhead",
    "",
    `\`npx tsx server/tools/measure-tracing-overhead.ts --seconds ${seconds} --warmup ${warmup} --rounds ${rounds}\` (${new Date().toISOString()}): closed-loop Gets of 1 KiB against \`stateward serve\` with tracing off, on at 100 % and on at the default parent-based 10 %, spans really exported over OTLP/HTTP to a sink (${exports} export requests); ${UNARY_CONCURRENCY} unary calls or ${PIPELINE_IN_FLIGHT} pipelined operations in flight; modes interleaved per round.`,
    "",
    "| transport | mode | ops/s | vs off | throughput cost | server µs/op | server CPU cost |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((row) => `| ${String(row["transport"])} | ${String(row["mode"])} | ${Number(row["ops/s"]).toLocaleString("en-US")} | ${String(row["vs off"])} | ${String(row["throughput cost"])} | ${String(row["server µs/op"])} | ${String(row["server CPU cost"])} |`),
    "",
    "| target (observability issue) | unary | pipeline |",
    "| --- | --- | --- |",
    `| ≤ 5 % throughput cost at 10 % sampling | ${cost("unary", "on-10%")} % ${cost("unary", "on-10%") <= 5 ? "**met**" : "**missed**"} | ${cost("pipeline", "on-10%")} % ${cost("pipeline", "on-10%") <= 5 ? "**met**" : "**missed**"} |`,
    `| ≤ 20 % throughput cost at 100 % sampling | ${cost("unary", "on-100%")} % ${cost("unary", "on-100%") <= 20 ? "**met**" : "**missed**"} | ${cost("pipeline", "on-100%")} % ${cost("pipeline", "on-100%") <= 20 ? "**met**" : "**missed**"} |`,
    "",
    "An exported OpenTelemetry JS span costs several microseconds (creation, OTLP encoding, HTTP, garbage), about as much as a whole pipelined operation: at 100 % sampling the pipeline pays for it; sample at 10 % (the default) there.",
    "",
  ];
  return lines.join("\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
