/**
 * The Prometheus endpoint (--metrics-port): served on the server's host, scraped over HTTP and
 * parsed with a Prometheus text-format parser; off by default. Its names follow Prometheus
 * conventions (base units in the name, `_total` on counters), with no OpenTelemetry noise (no
 * `# UNIT`, no scope labels, no `target_info`), and its counters exist before their first event.
 * (`promtool check metrics` on a scrape runs in `make test-metrics-lint`.)
 */
import * as assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { GetRequest, SetRequest } from "../../client/ts/src";
import { DataPointType } from "@opentelemetry/sdk-metrics";
import { prometheusName } from "../src/telemetry/prometheus-naming";
import { freePort, startObservedServer, unary, type ObservedServer } from "./helpers/telemetry-test-kit";
import { httpGet } from "./helpers/http-get";
import { grpc } from "./helpers/test-server";

const SECRET_ID = "sid-SECRET-prom-41b2";

/** The sample lines (not comments) of a scrape. */
function samples(body: string): string[] {
  return body.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

/** The value of the one sample line whose name is `name` and that has all of `labels`. */
function sampleValue(body: string, name: string, labels: Record<string, string> = {}): number {
  const lines = samples(body).filter(
    (line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)),
  );
  assert.equal(lines.length, 1, `one ${name} ${JSON.stringify(labels)} sample, got ${lines.length}`);
  return Number((lines[0] as string).split(" ").at(-1));
}

const GET = "stateward.v1.SessionState/Get";

describe("metrics: the Prometheus endpoint", function () {
  let s: ObservedServer | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it("keeps every event-loop lag series in a scrape that follows another at once (an interval without samples)", async () => {
    const port = await freePort();
    s = await startObservedServer(["--metrics-port", String(port)], { tracing: false, metrics: false });
    const names = ["min", "max", "mean", "stddev", "p50", "p90", "p99"].map((statistic) => `nodejs_eventloop_lag_${statistic}_seconds`);
    for (let i = 0; i < 5; i++) {
      const body = (await httpGet(port, "/metrics")).body;
      for (const name of names) assert.ok(sampleValue(body, name) !== undefined, `${name} in scrape ${i + 1}`);
    }
  });

  it("serves every metric in the text format under Prometheus names, parseable, without session ids", async () => {
    const port = await freePort();
    s = await startObservedServer(["--metrics-port", String(port)], { tracing: false, metrics: false });
    assert.equal(s.server.metricsPort, port);
    const client = s.client();
    await unary(client, client.set, SetRequest.fromPartial({ app: "shop", sessionId: SECRET_ID, data: Buffer.alloc(64) }));
    await unary(client, client.get, GetRequest.fromPartial({ app: "shop", sessionId: SECRET_ID }));
    await unary(client, client.get, GetRequest.fromPartial({ app: "shop", sessionId: "missing" }));
    await assert.rejects(unary(client, client.get, GetRequest.fromPartial({ app: "bad app", sessionId: "x" })));

    const scrape = await httpGet(port, "/metrics");
    assert.equal(scrape.status, 200);
    assert.equal(scrape.type, "text/plain; version=0.0.4; charset=utf-8");
    assert.ok(!scrape.body.includes(SECRET_ID), "no session id in the metrics");
    const families = new Map(parsePrometheusTextFormat(scrape.body).map((family) => [family.name, family]));

    // The per-call histogram: the rpc conventions' attributes (semconv 1.45) as labels.
    assert.equal(families.get("rpc_server_call_duration_seconds")?.type, "HISTOGRAM");
    const ok = { rpc_method: GET, rpc_status_code: "OK", stateward_transport: "unary" };
    assert.equal(sampleValue(scrape.body, "rpc_server_call_duration_seconds_count", { ...ok, stateward_outcome: "ok" }), 1);
    assert.equal(sampleValue(scrape.body, "rpc_server_call_duration_seconds_count", { ...ok, stateward_outcome: "not_found" }), 1);
    assert.equal(sampleValue(scrape.body, "rpc_server_call_duration_seconds_count", { rpc_method: GET, rpc_status_code: "INVALID_ARGUMENT" }), 1);
    assert.match(scrape.body, /^rpc_server_call_duration_seconds_count\{rpc_system_name="grpc",rpc_method="stateward\.v1\.SessionState\/Get",rpc_status_code="OK",stateward_outcome="ok",stateward_transport="unary"\} 1$/m);
    assert.match(scrape.body, /^rpc_server_call_duration_seconds_bucket\{.*le="\+Inf"\} \d+$/m);
    // No separate operations counter: the histogram's _count is the count.
    assert.ok(!families.has("stateward_operations_total"));

    // Units in the names, _total on counters.
    assert.equal(families.get("stateward_sessions")?.metrics[0]?.value, "1");
    assert.equal(families.get("stateward_sessions")?.type, "GAUGE");
    assert.ok(Number(families.get("stateward_memory_used_bytes")?.metrics[0]?.value) > 64);
    assert.equal(families.get("stateward_memory_limit_bytes")?.metrics[0]?.value, String(1024 ** 3));
    assert.ok(Number(families.get("stateward_memory_utilization_ratio")?.metrics[0]?.value) > 0);
    for (const [name, type] of [
      ["stateward_lock_grants_total", "COUNTER"],
      ["stateward_lock_lease_expiries_total", "COUNTER"],
      ["stateward_sessions_expired_total", "COUNTER"],
      ["stateward_rejections_total", "COUNTER"],
      ["stateward_watch_events_total", "COUNTER"],
      ["stateward_watch_dropped_total", "COUNTER"],
      ["stateward_auth_failures_total", "COUNTER"],
      ["stateward_locks_held", "GAUGE"],
      ["stateward_waiters", "GAUGE"],
      ["stateward_watchers", "GAUGE"],
      ["stateward_memory_slab_bytes", "GAUGE"],
      ["stateward_lock_wait_duration_seconds", "HISTOGRAM"],
      ["process_cpu_seconds_total", "COUNTER"],
      ["process_resident_memory_bytes", "GAUGE"],
      ["process_virtual_memory_bytes", "GAUGE"],
      ["process_start_time_seconds", "GAUGE"],
      ["process_open_fds", "GAUGE"],
      ["process_max_fds", "GAUGE"],
      ["nodejs_heap_size_used_bytes", "GAUGE"],
      ["nodejs_heap_size_total_bytes", "GAUGE"],
      ["nodejs_external_memory_bytes", "GAUGE"],
      ["nodejs_heap_space_size_used_bytes", "GAUGE"],
      ["nodejs_gc_duration_seconds", "HISTOGRAM"],
      ["nodejs_eventloop_lag_seconds", "GAUGE"],
      ["nodejs_version_info", "GAUGE"],
    ] as const) {
      assert.equal(families.get(name)?.type, type, `${name} (${type}) among ${[...families.keys()].join(", ")}`);
    }

    // No OpenTelemetry-only noise.
    assert.doesNotMatch(scrape.body, /^# UNIT /m);
    assert.doesNotMatch(scrape.body, /otel_scope_/);
    assert.ok(!families.has("target_info"));
    // Every family has its help text.
    for (const family of families.values()) assert.ok(family.help !== "" && family.help !== "description missing", `help of ${family.name}`);

    const other = await httpGet(port, "/");
    assert.equal(other.status, 404);
  });

  it("has every counter with known labels at 0 before its first event", async () => {
    const port = await freePort();
    s = await startObservedServer(["--metrics-port", String(port)], { tracing: false, metrics: false });
    const body = (await httpGet(port, "/metrics")).body;
    for (const reason of ["TOO_MANY_WAITERS", "MEMORY_BUDGET", "TOO_MANY_APPS", "TOO_MANY_IN_FLIGHT", "ITEM_TOO_LARGE"]) {
      assert.equal(sampleValue(body, "stateward_rejections_total", { stateward_reason: reason }), 0, reason);
    }
    for (const kind of ["expired", "removed"]) assert.equal(sampleValue(body, "stateward_watch_events_total", { stateward_event_kind: kind }), 0, kind);
    assert.equal(sampleValue(body, "stateward_watch_dropped_total"), 0);
    assert.equal(sampleValue(body, "stateward_lock_grants_total"), 0);
    assert.equal(sampleValue(body, "stateward_lock_lease_expiries_total"), 0);
    assert.equal(sampleValue(body, "stateward_sessions_expired_total"), 0);
    // Every successful outcome of every method and transport.
    for (const [method, outcomes] of Object.entries({
      Get: ["ok", "not_found", "locked"],
      Lock: ["ok", "not_found", "locked"],
      Set: ["written", "not_written"],
      Release: ["released", "not_released"],
      Expire: ["found", "not_found"],
      Remove: ["removed", "not_found"],
    })) {
      for (const transport of ["unary", "pipeline"]) {
        for (const outcome of outcomes) {
          const labels = { rpc_method: `stateward.v1.SessionState/${method}`, rpc_status_code: "OK", stateward_outcome: outcome, stateward_transport: transport };
          assert.equal(sampleValue(body, "rpc_server_call_duration_seconds_count", labels), 0, JSON.stringify(labels));
        }
      }
    }
    // Lock waits that end in a grant or a timeout; GC pauses of every kind.
    for (const method of ["Get", "Lock"]) {
      for (const outcome of ["ok", "locked"]) {
        assert.equal(sampleValue(body, "stateward_lock_wait_duration_seconds_count", { rpc_method: `stateward.v1.SessionState/${method}`, stateward_outcome: outcome, stateward_transport: "unary" }), 0);
      }
    }
    for (const kind of ["minor", "major", "incremental", "weakcb"]) assert.ok(sampleValue(body, "nodejs_gc_duration_seconds_count", { kind }) >= 0, kind);
  });

  it("names metrics by OpenTelemetry's Prometheus compatibility rules", () => {
    const name = (otelName: string, unit: string, dataPointType: DataPointType, isMonotonic?: boolean): string =>
      prometheusName({ descriptor: { name: otelName, unit, description: "", valueType: 1 }, dataPointType, ...(isMonotonic === undefined ? {} : { isMonotonic }) });
    assert.equal(name("rpc.server.call.duration", "s", DataPointType.HISTOGRAM), "rpc_server_call_duration_seconds");
    assert.equal(name("stateward.memory.used", "By", DataPointType.GAUGE), "stateward_memory_used_bytes");
    assert.equal(name("stateward.memory.utilization", "1", DataPointType.GAUGE), "stateward_memory_utilization_ratio");
    assert.equal(name("stateward.lock.grants", "{lock}", DataPointType.SUM, true), "stateward_lock_grants_total");
    assert.equal(name("process.cpu", "s", DataPointType.SUM, true), "process_cpu_seconds_total");
    assert.equal(name("queue.depth", "{item}", DataPointType.SUM, false), "queue_depth", "an up-down counter is a gauge");
    assert.equal(name("requests", "1", DataPointType.SUM, true), "requests_total", "no _ratio on a counter");
    assert.equal(name("transfer.rate", "By/s", DataPointType.GAUGE), "transfer_rate_bytes_per_second");
    assert.equal(name("wait_seconds", "s", DataPointType.GAUGE), "wait_seconds", "no unit twice");
    assert.equal(name("already_total", "", DataPointType.SUM, true), "already_total", "no _total twice");
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
