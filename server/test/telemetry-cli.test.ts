/**
 * `stateward serve` with the standard OTEL_* variables: the bootstrap starts the SDK before the
 * server modules, spans and metrics reach an OTLP/HTTP collector, the Prometheus endpoint serves,
 * and neither carries the session id. Without the variables, no SDK module is even loaded.
 */
import * as assert from "node:assert/strict";
import { GetRequest, SetRequest } from "../../client/ts/src";
import { spawnCli, stopCli, type CliProcess } from "./helpers/cli-process";
import { httpGet } from "./helpers/http-get";
import { startOtlpReceiver, type OtlpReceiver } from "./helpers/otlp-receiver";
import { freePort, unary } from "./helpers/telemetry-test-kit";
import { grpc, newChannelClient, waitFor, withTimeout } from "./helpers/test-server";

const SECRET_ID = "sid-SECRET-cli-5d1e0a";

describe("telemetry: the CLI and the OTEL_* variables", function () {
  this.timeout(30_000);
  let collector: OtlpReceiver | undefined;
  let cli: CliProcess | undefined;
  afterEach(async () => {
    if (cli !== undefined) await stopCli(cli).catch(() => cli?.child.kill("SIGKILL"));
    cli = undefined;
    collector?.close();
    collector = undefined;
  });

  it("exports spans and metrics over OTLP/HTTP and serves Prometheus, without session ids", async () => {
    collector = await startOtlpReceiver();
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
    assert.match(metrics, /rpc\.status_code/, "the per-call metric carries the rpc conventions' attributes");
    assert.ok(!metrics.includes(SECRET_ID));
    const scrape = (await httpGet(metricsPort, "/metrics")).body;
    assert.match(scrape, /^rpc_server_call_duration_seconds_count\{.*rpc_method="stateward\.v1\.SessionState\/Get".*\} 1$/m);
    assert.equal(await stopCli(cli), 0, "clean exit on SIGTERM");
    cli = undefined;
  });

  it("starts no OpenTelemetry SDK and exports nothing without the variables", async () => {
    collector = await startOtlpReceiver();
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
