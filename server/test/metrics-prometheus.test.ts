/**
 * The Prometheus endpoint (--metrics-port): served on the server's host, scraped over HTTP and
 * parsed with a Prometheus text-format parser; off by default.
 */
import * as assert from "node:assert/strict";
import http from "node:http";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { GetRequest, SetRequest } from "../../client/ts/src";
import { freePort, startObservedServer, unary, type ObservedServer } from "./helpers/telemetry-test-kit";
import { grpc } from "./helpers/test-server";

const SECRET_ID = "sid-SECRET-prom-41b2";

function httpGet(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path, timeout: 5000, agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, type: String(response.headers["content-type"]), body }));
    });
    request.on("timeout", () => request.destroy(new Error(`GET ${path} timed out`)));
    request.on("error", reject);
  });
}

describe("metrics: the Prometheus endpoint", function () {
  let s: ObservedServer | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it("serves every metric in the text format, parseable, without session ids", async () => {
    const port = await freePort();
    s = await startObservedServer(["--metrics-port", String(port)], { tracing: false, metrics: false });
    assert.equal(s.server.metricsPort, port);
    const client = s.client();
    await unary(client, client.set, SetRequest.fromPartial({ app: "shop", sessionId: SECRET_ID, data: Buffer.alloc(64) }));
    await unary(client, client.get, GetRequest.fromPartial({ app: "shop", sessionId: SECRET_ID }));
    await unary(client, client.get, GetRequest.fromPartial({ app: "shop", sessionId: "missing" }));

    const scrape = await httpGet(port, "/metrics");
    assert.equal(scrape.status, 200);
    assert.match(scrape.type, /^text\/plain/);
    assert.ok(!scrape.body.includes(SECRET_ID), "no session id in the metrics");
    const families = new Map(parsePrometheusTextFormat(scrape.body).map((family) => [family.name, family]));

    const duration = families.get("rpc_server_call_duration");
    assert.equal(duration?.type, "HISTOGRAM");
    // parse-prometheus-text-format folds the series of a labelled histogram into one (it keeps the
    // buckets, drops labels, count and sum), so the per-label histogram samples are checked on the
    // text lines, which the parser has already validated.
    const countLine = scrape.body
      .split("\n")
      .find((line) => line.startsWith("rpc_server_call_duration_count{") && line.includes('rpc_method="Get"') && line.includes('stateward_outcome="ok"'));
    assert.ok(countLine !== undefined, "a count series for Get/ok");
    assert.match(countLine, /rpc_system="grpc"/);
    assert.match(countLine, /rpc_grpc_status_code="0"/);
    assert.match(countLine, /stateward_transport="unary"/);
    assert.match(countLine, /\} 1$/);
    assert.ok(duration.metrics.some((m) => m.buckets !== undefined && Object.keys(m.buckets).includes("+Inf")), "histogram buckets");
    const operations = families.get("stateward_operations_total");
    assert.equal(operations?.type, "COUNTER");
    assert.equal(operations.metrics.reduce((sum, m) => sum + Number(m.value), 0), 3);
    assert.equal(families.get("stateward_sessions")?.metrics[0]?.value, "1");
    assert.equal(families.get("stateward_sessions")?.type, "GAUGE");
    assert.ok(Number(families.get("stateward_memory_used")?.metrics[0]?.value) > 64);
    assert.equal(families.get("stateward_memory_limit")?.metrics[0]?.value, String(1024 ** 3));
    for (const name of [
      "stateward_memory_utilization",
      "stateward_lock_grants_total",
      "stateward_lock_lease_expiries_total",
      "stateward_sessions_expired_total",
      "stateward_locks_held",
      "stateward_waiters",
      "stateward_watchers",
    ]) {
      assert.ok(families.has(name), `${name} among ${[...families.keys()].join(", ")}`);
    }

    const other = await httpGet(port, "/");
    assert.equal(other.status, 404);
  });

  it("is off by default and binds like the server (it refuses a port in use)", async () => {
    s = await startObservedServer([], { tracing: false, metrics: false });
    assert.equal(s.server.metricsPort, undefined);
    const taken = s.server.port;
    await assert.rejects(startObservedServer(["--metrics-port", String(taken)]), new RegExp(`^PortInUseError: port ${taken} is in use; pick another with --metrics-port$`));
    // The failed start left nothing behind: the original server still answers.
    const client = s.client();
    await unary(client, client.get, GetRequest.fromPartial({ app: "shop", sessionId: "x" }));
    assert.ok(grpc.status.OK === 0);
  });
});
