/**
 * `stateward serve` with the standard OTEL_* variables: the bootstrap starts the SDK before the
 * server modules, spans and metrics reach an OTLP/HTTP collector, the Prometheus endpoint serves,
 * and neither carries the session id. Without the variables, no SDK module is even loaded.
 */
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { GetRequest, SetRequest } from "../../client/ts/src";
import { freePort, unary } from "./helpers/telemetry-test-kit";
import { grpc, newChannelClient, waitFor, withTimeout } from "./helpers/test-server";

const SECRET_ID = "sid-SECRET-cli-5d1e0a";
const ROOT = path.resolve(__dirname, "../..");

interface Collector {
  readonly url: string;
  /** Request bodies by path. */
  readonly received: Map<string, Buffer[]>;
  close(): void;
}

async function startCollector(): Promise<Collector> {
  const received = new Map<string, Buffer[]>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const bodies = received.get(request.url ?? "") ?? [];
      bodies.push(Buffer.concat(chunks));
      received.set(request.url ?? "", bodies);
      response.writeHead(200, { "content-type": request.headers["content-type"] ?? "application/json" });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

interface Cli {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  readonly port: Promise<number>;
}

function spawnCli(args: readonly string[], env: Record<string, string>): Cli {
  const child = spawn(process.execPath, ["--require", "tsx/cjs", path.join("server", "src", "cli.ts"), "serve", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const port = new Promise<number>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      const match = /"msg":"stateward listening"/.test(stderr) ? /"port":(\d+)/.exec(stderr) : null;
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`the CLI exited (${String(code)}) before listening: ${stderr}`)));
  });
  port.catch(() => undefined);
  return { child, stderr: () => stderr, port };
}

async function stop(cli: Cli): Promise<number | null> {
  if (cli.child.exitCode !== null) return cli.child.exitCode;
  const exited = new Promise<number | null>((resolve) => cli.child.once("exit", (code) => resolve(code)));
  cli.child.kill("SIGTERM");
  return withTimeout(exited, 10_000, "the CLI to exit");
}

describe("telemetry: the CLI and the OTEL_* variables", function () {
  this.timeout(30_000);
  let collector: Collector | undefined;
  let cli: Cli | undefined;
  afterEach(async () => {
    if (cli !== undefined) await stop(cli).catch(() => cli?.child.kill("SIGKILL"));
    cli = undefined;
    collector?.close();
    collector = undefined;
  });

  it("exports spans and metrics over OTLP/HTTP and serves Prometheus, without session ids", async () => {
    collector = await startCollector();
    const metricsPort = await freePort();
    cli = spawnCli(["--port", "0", "--metrics-port", String(metricsPort)], {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_TRACES_SAMPLER: "always_on",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_METRIC_EXPORT_INTERVAL: "200",
      OTEL_SERVICE_NAME: "stateward-under-test",
    });
    const port = await withTimeout(cli.port, 20_000, "the CLI to listen");
    assert.match(cli.stderr(), /"msg":"OpenTelemetry started"/);
    const client = newChannelClient(`127.0.0.1:${port}`);
    try {
      await unary(client, client.set, SetRequest.fromPartial({ app: "shop", sessionId: SECRET_ID, data: Buffer.from("cart") }));
      await unary(client, client.get, GetRequest.fromPartial({ app: "shop", sessionId: SECRET_ID }));
    } finally {
      client.close();
    }
    const received = collector.received;
    await waitFor(() => (received.get("/v1/traces")?.length ?? 0) > 0 && (received.get("/v1/metrics")?.length ?? 0) > 0, "OTLP exports", 15_000);
    const traces = Buffer.concat(received.get("/v1/traces") ?? []);
    // http/protobuf: the strings are in the bytes as they are.
    assert.ok(traces.includes("stateward.v1.SessionState/Set"), "the Set span was exported");
    assert.ok(traces.includes("stateward.v1.SessionState/Get"), "the Get span was exported");
    assert.ok(traces.includes("stateward-under-test"), "OTEL_SERVICE_NAME names the service");
    assert.ok(!traces.includes(SECRET_ID), "no session id in the exported spans");
    const metrics = Buffer.concat(received.get("/v1/metrics") ?? []).toString("utf8");
    assert.match(metrics, /rpc\.server\.call\.duration/);
    assert.ok(!metrics.includes(SECRET_ID));
    const scrape = await new Promise<string>((resolve, reject) => {
      http.get(`http://127.0.0.1:${metricsPort}/metrics`, (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        response.on("end", () => resolve(body));
      }).on("error", reject);
    });
    assert.match(scrape, /^stateward_operations_total\{.*rpc_method="Get".*\} 1$/m);
    assert.equal(await stop(cli), 0, "clean exit on SIGTERM");
    cli = undefined;
  });

  it("starts no OpenTelemetry SDK and exports nothing without the variables", async () => {
    collector = await startCollector();
    cli = spawnCli(["--port", "0", "--log-level", "debug"], {});
    const port = await withTimeout(cli.port, 20_000, "the CLI to listen");
    assert.doesNotMatch(cli.stderr(), /OpenTelemetry started/);
    assert.match(cli.stderr(), /"tracing":false/);
    const client = newChannelClient(`127.0.0.1:${port}`);
    try {
      await unary(client, client.get, GetRequest.fromPartial({ app: "shop", sessionId: SECRET_ID }));
    } finally {
      client.close();
    }
    assert.equal(collector.received.size, 0);
    assert.ok(grpc.status.OK === 0);
  });
});
