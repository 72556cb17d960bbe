import assert from "node:assert/strict";
import { decodeEcho, encodeEcho } from "../src/echo-protocol";
import { parseGcLine, GcTracker } from "../src/gc-trace";
import { frameGrpcMessage } from "../src/grpc-framing";
import { parseH2loadLog } from "../src/h2load-log";
import { formatPayloadSpec, PayloadSource } from "../src/payloads";
import { parsePeakRss, parseProcStat } from "../src/process-stats";
import { formatProgress } from "../src/progress-line";
import { reproduceCommand } from "../src/command-line";
import { statusName } from "../src/status-codes";

describe("parsers and formats", () => {
  it("reads utime, stime and rss from /proc/<pid>/stat, even with a strange command name", () => {
    const line = "1234 (node (x) y) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 11 0 100 1000000 2560 18446744073709551615";
    assert.deepEqual(parseProcStat(line), { utimeTicks: 250, stimeTicks: 75, rssPages: 2560 });
    assert.equal(parsePeakRss("Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t1 kB\n"), 204_800 * 1024);
    assert.equal(parsePeakRss("Name:\tnode\n"), 0);
  });

  it("reads V8 --trace-gc lines and keeps the longest pause", () => {
    const scavenge = "[20670:0x40f24e40]       15 ms: Scavenge 3.9 (4.0) -> 3.4 (5.0) MB, 0.84 / 0.00 ms  (average mu = 1.000, current mu = 1.000) allocation failure; ";
    const markCompact = "[20678:0x3af68e50]       38 ms: Mark-Compact 7.6 (9.9) -> 6.5 (15.4) MB, 8.57 / 0.00 ms  (+ 12.0 ms in 30 steps since start of marking, biggest step 1.0 ms) finalize incremental marking";
    assert.deepEqual(parseGcLine(scavenge), { kind: "Scavenge", pauseMs: 0.84, isolateMs: 15 });
    assert.deepEqual(parseGcLine(markCompact), { kind: "Mark-Compact", pauseMs: 8.57, isolateMs: 38 });
    assert.equal(parseGcLine('{"level":30,"msg":"stateward listening"}'), undefined);
    const tracker = new GcTracker();
    for (const line of [scavenge, markCompact, scavenge, "noise"]) tracker.line(line);
    assert.deepEqual(tracker.summary(), { count: 3, totalPauseMs: 10.25, maxPauseMs: 8.57, maxPauseKind: "Mark-Compact" });
    tracker.reset();
    assert.equal(tracker.summary().count, 0);
  });

  it("reads h2load's per-request log", () => {
    const log = "1000000\t200\t500\n1000100\t200\t1500\n1000200\t503\t100\n\n";
    const summary = parseH2loadLog(log, 1);
    assert.equal(summary.ok, 2);
    assert.deepEqual(summary.errors, { HTTP_503: 1 });
    assert.equal(summary.histogram.count, 2);
    assert.equal(summary.spanMs, 1.6);
    assert.deepEqual(summary.timeline, [2, 1]);
    // Latency per interval: HTTP 200 only, by end time (0.5 ms and 1.6 ms after the first start).
    assert.deepEqual(summary.intervalLatency, [
      { values: [500], counts: [1] },
      { values: [1_500], counts: [1] },
    ]);
    assert.equal(summary.startUs, 1_000_000);
  });

  it("frames gRPC messages and round-trips EchoMessage", () => {
    assert.deepEqual([...frameGrpcMessage(Buffer.from([1, 2, 3]))], [0, 0, 0, 0, 3, 1, 2, 3]);
    const data = Buffer.alloc(300, 7);
    const encoded = encodeEcho(data);
    assert.deepEqual([...encoded.subarray(0, 3)], [0x0a, 0xac, 0x02]);
    assert.deepEqual(decodeEcho(encoded), data);
    assert.equal(decodeEcho(encodeEcho(Buffer.alloc(0))).length, 0);
    assert.throws(() => decodeEcho(Buffer.from([0x12, 0])), /field 1/);
  });

  it("draws payloads within their range without copying", () => {
    const source = new PayloadSource({ minBytes: 1024, maxBytes: 16_384 });
    for (const random of [0, 0.25, 0.5, 0.999]) {
      const payload = source.next(random);
      assert.ok(payload.length >= 1024 && payload.length <= 16_384);
    }
    assert.equal(source.next(0).length, 1024);
    assert.equal(source.meanBytes, 8704);
    assert.equal(formatPayloadSpec({ minBytes: 1024, maxBytes: 16_384 }), "1 KiB–16 KiB");
  });

  it("names failures by gRPC status", () => {
    assert.equal(statusName({ code: 10 }), "ABORTED");
    assert.equal(statusName({ code: 14 }), "UNAVAILABLE");
    assert.equal(statusName({ name: "ReplyError" }), "REDIS_ERROR");
    assert.equal(statusName(new Error("x")), "CLIENT_ERROR");
  });

  it("formats the progress line and reproducible commands", () => {
    assert.equal(formatProgress("get", 1500, 12_345, 6_000.4, 0), "get  1.5 s  12,345 done  6,000/s  0 errors");
    assert.equal(reproduceCommand("get", { duration: "10s", payload: "1-16 KiB", skip: undefined }), "npx stateward-loadtest get --duration 10s --payload '1-16 KiB'");
  });
});
