/**
 * Metrics after a scripted workload: call durations and counts per method and outcome, sessions
 * and bytes resident, memory-budget use, lock grants and waits, lease expiries, rejections by
 * limit, expirations, expiry slices; over unary calls and the pipeline; and the process and
 * Node.js runtime metrics. Read with a pull reader (the OpenTelemetry names and attributes: what the
 * OTLP push sends).
 */
import * as assert from "node:assert/strict";
import { DataPointType, type Histogram } from "@opentelemetry/sdk-metrics";
import { GetRequest, LockRequest, PipelineClient, RemoveRequest, SetRequest } from "../../client/ts/src";
import { FakeClock } from "../src/store/fake-clock";
import { MemoryBackend } from "../src/store/memory/memory-backend";
import { metricsByName, pointsOf, startObservedServer, total, unary, type ObservedServer } from "./helpers/telemetry-test-kit";
import { FAKE_START_MS, grpc, waitFor } from "./helpers/test-server";
import { OK_OUTCOMES, OPERATION_METHODS, SEMCONV_VERSION } from "../src/telemetry/telemetry-names";

const APP = "shop";
const method = (name: string): string => `stateward.v1.SessionState/${name}`;

// The gauges checked against the backend (bytes used, budget) and the expiry sweep (runDueWork) are the memory backend's.
describe("metrics: a scripted workload (memory backend)", function () {
  let s: ObservedServer | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it("counts, times and gauges what the workload did", async () => {
    const clock = new FakeClock(FAKE_START_MS);
    s = await startObservedServer(["--max-waiters", "1", "--max-memory", "64KiB", "--max-item-bytes", "32KiB"], { clock, tracing: false });
    const server = s;
    const memory = s.server.backend;
    assert.ok(memory instanceof MemoryBackend);
    const client = s.client();
    const set = (sessionId: string, data: Buffer, extra: Partial<SetRequest> = {}): Promise<unknown> =>
      unary(client, client.set, SetRequest.fromPartial({ app: APP, sessionId, data, ...extra }));

    // 3 sessions written, 2 Gets (one hit, one miss).
    await set("s1", Buffer.alloc(100));
    await set("s2", Buffer.alloc(200));
    await set("s3", Buffer.alloc(300, 1), { ttlSeconds: 1 });
    await unary(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "s1" }));
    await unary(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "missing" }));
    // A lock, a queued reader, and a second queued reader refused by --max-waiters 1.
    const lock = await unary(client, client.lock, LockRequest.fromPartial({ app: APP, sessionId: "s1", leaseMs: 5000 }));
    const queued = unary(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "s1", waitMs: 60_000 }));
    await waitFor(async () => (await server.server.store.counts()).waiters === 1, "one waiter");
    await assert.rejects(
      unary(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "s1", waitMs: 60_000 })),
      (error: grpc.ServiceError) => error.code === grpc.status.RESOURCE_EXHAUSTED,
    );
    // The lease runs out: the server releases the lock (a forced release) and serves the reader.
    clock.advance(6000);
    await queued;
    await assert.rejects(set("s1", Buffer.from("late"), { lockId: lock.lockId }), (error: grpc.ServiceError) => error.code === grpc.status.ABORTED);
    // The memory budget refuses a write.
    await assert.rejects(set("big", Buffer.alloc(30 * 1024)).then(() => set("big2", Buffer.alloc(30 * 1024))), (error: grpc.ServiceError) => error.code === grpc.status.RESOURCE_EXHAUSTED);
    // s3 (ttl 1 s) expired during the advance; the sweep removes it.
    memory.runDueWork();
    // One Remove and one pipelined Get.
    await unary(client, client.remove, RemoveRequest.fromPartial({ app: APP, sessionId: "s2" }));
    const pipeline = new PipelineClient(server.server.address, grpc.credentials.createInsecure());
    server.closables.push(pipeline);
    await pipeline.get(GetRequest.fromPartial({ app: APP, sessionId: "s1" }));

    const collected = await s.reader.metrics();
    const names = metricsByName(collected);
    const duration = names.get("rpc.server.call.duration");
    assert.ok(duration !== undefined);
    assert.equal(duration.descriptor.unit, "s");
    assert.equal(duration.dataPointType, DataPointType.HISTOGRAM);

    const calls = (match: Record<string, string | number>): number => total(collected, "rpc.server.call.duration", match);
    assert.equal(calls({ "rpc.method": method("Set"), "stateward.outcome": "written" }), 4); // s1, s2, s3, big
    assert.equal(calls({ "rpc.method": method("Set"), "stateward.outcome": "error", "rpc.status_code": "ABORTED" }), 1);
    assert.equal(calls({ "rpc.method": method("Set"), "rpc.status_code": "RESOURCE_EXHAUSTED" }), 1);
    assert.equal(calls({ "rpc.method": method("Get"), "stateward.outcome": "ok", "stateward.transport": "unary" }), 2); // hit + the queued reader
    assert.equal(calls({ "rpc.method": method("Get"), "stateward.outcome": "not_found" }), 1);
    assert.equal(calls({ "rpc.method": method("Get"), "rpc.status_code": "RESOURCE_EXHAUSTED" }), 1);
    assert.equal(calls({ "rpc.method": method("Get"), "stateward.transport": "pipeline" }), 1);
    assert.equal(calls({ "rpc.method": method("Lock"), "stateward.outcome": "ok" }), 1);
    assert.equal(calls({ "rpc.method": method("Remove"), "stateward.outcome": "removed" }), 1);
    // The count of the histogram is the operation count (there is no separate counter).
    assert.equal(calls({}), 13);
    assert.equal(calls({ "rpc.method": method("Set") }), 6);
    assert.ok(!names.has("stateward.operations"));
    for (const point of pointsOf(collected, "rpc.server.call.duration")) {
      // The rpc conventions of semconv 1.45, and no attribute of older versions.
      assert.equal(point.attributes["rpc.system.name"], "grpc");
      assert.match(String(point.attributes["rpc.method"]), /^stateward\.v1\.SessionState\/(Get|Lock|Set|Release|Expire|Remove)$/);
      assert.match(String(point.attributes["rpc.status_code"]), /^[A-Z_]+$/);
      for (const old of ["rpc.system", "rpc.service", "rpc.grpc.status_code"]) assert.equal(point.attributes[old], undefined, old);
      // None of these refusals is a server error: no error.type.
      assert.equal(point.attributes["error.type"], undefined);
      // Every successful outcome is one whose series exists from the start.
      const name = String(point.attributes["rpc.method"]).split("/")[1] as (typeof OPERATION_METHODS)[number];
      if (point.attributes["rpc.status_code"] === "OK") assert.ok(OK_OUTCOMES[name].includes(String(point.attributes["stateward.outcome"])), `${name} ${String(point.attributes["stateward.outcome"])}`);
      const histogram = point.value as Histogram;
      assert.ok(histogram.sum !== undefined && histogram.sum >= 0 && histogram.sum < 60, `durations are seconds: ${String(histogram.sum)}`);
    }
    assert.equal(SEMCONV_VERSION, "1.45.0");

    // Only the queued reader waited for a lock.
    assert.equal(total(collected, "stateward.lock.wait.duration"), 1);
    assert.equal(total(collected, "stateward.lock.wait.duration", { "rpc.method": method("Get"), "stateward.outcome": "ok" }), 1);
    assert.equal(total(collected, "stateward.lock.grants"), 1);
    assert.equal(total(collected, "stateward.lock.lease_expiries"), 1);
    assert.equal(total(collected, "stateward.rejections", { "stateward.reason": "TOO_MANY_WAITERS" }), 1);
    assert.equal(total(collected, "stateward.rejections", { "stateward.reason": "MEMORY_BUDGET" }), 1);
    assert.equal(total(collected, "stateward.rejections"), 2, "no other rejection");
    assert.equal(total(collected, "stateward.sessions.expired"), 1);

    // s1 and big remain.
    const stats = memory.stats();
    assert.equal(stats.sessions, 2);
    assert.equal(total(collected, "stateward.sessions"), 2);
    assert.equal(total(collected, "stateward.memory.used"), stats.bytesUsed);
    assert.ok(stats.bytesUsed > 30 * 1024);
    assert.equal(total(collected, "stateward.memory.limit"), 64 * 1024);
    const utilization = total(collected, "stateward.memory.utilization");
    assert.ok(Math.abs(utilization - stats.bytesUsed / (64 * 1024)) < 1e-9, `utilization ${utilization}`);
    assert.equal(total(collected, "stateward.locks.held"), 0);
    assert.equal(total(collected, "stateward.waiters"), 0);
    assert.ok(total(collected, "stateward.expiry.slice.duration") >= 1, "expiry slices timed");
    assert.equal(names.get("stateward.expiry.slice.duration")?.descriptor.unit, "s");
  });

  it("reports event-loop lag, heap, GC pauses and the process's CPU, memory and descriptors", async () => {
    s = await startObservedServer([], { tracing: false });
    const reader = s.reader;
    // The sampler needs a few of its 10 ms ticks before it has a value.
    await waitFor(async () => metricsByName(await reader.metrics()).has("nodejs.eventloop.lag.p99"), "event-loop lag samples", 5000);
    const collected = await reader.metrics();
    const names = metricsByName(collected);
    for (const statistic of ["min", "max", "mean", "stddev", "p50", "p90", "p99"]) {
      const metric = names.get(`nodejs.eventloop.lag.${statistic}`);
      assert.ok(metric !== undefined, statistic);
      assert.equal(metric.descriptor.unit, "s");
    }
    const value = (name: string, match = {}): number => total(collected, name, match);
    assert.ok(value("nodejs.eventloop.lag") >= 0 && value("nodejs.eventloop.lag") < 5, "lag now, in seconds");
    const heapUsed = value("nodejs.heap_size_used");
    assert.ok(heapUsed > 1024 * 1024 && heapUsed <= value("nodejs.heap_size_total"), `heap used ${heapUsed}`);
    assert.ok(value("nodejs.heap_space_size_used", { space: "old" }) > 0, "old space, labelled as prom-client does");
    assert.ok(value("nodejs.external_memory") > 0);
    assert.equal(pointsOf(collected, "nodejs.version_info")[0]?.attributes.version, process.version);
    // GC pauses: a series per kind, in seconds.
    assert.deepEqual(pointsOf(collected, "nodejs.gc.duration").map((point) => point.attributes.kind).sort(), ["incremental", "major", "minor", "weakcb"]);
    assert.equal(names.get("nodejs.gc.duration")?.descriptor.unit, "s");
    // The process: CPU seconds, resident memory close to Node's own figure, start time, descriptors.
    const cpu = value("process.cpu");
    const usage = process.cpuUsage();
    assert.ok(cpu > 0 && cpu <= (usage.user + usage.system) / 1e6, `cpu ${cpu} s`);
    const rss = value("process.resident_memory");
    assert.ok(Math.abs(rss - process.memoryUsage.rss()) < 64 * 1024 * 1024, `rss ${rss}`);
    const started = value("process.start_time");
    assert.ok(Math.abs(started - (Date.now() / 1000 - process.uptime())) < 5, `start time ${started}`);
    if (process.platform === "linux") {
      assert.ok(value("process.virtual_memory") >= rss);
      assert.ok(value("process.open_fds") > 3 && value("process.open_fds") < value("process.max_fds"));
    }
  });

  it("records nothing on the call path when no reader is configured", async () => {
    s = await startObservedServer([], { tracing: false, metrics: false });
    const client = s.client();
    await unary(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "s1" }));
    await assert.rejects(s.reader.metrics(), /MetricReader is not bound to a MetricProducer/);
  });
});
