import assert from "node:assert/strict";
import { UsageError } from "../src/args";
import { parseStatusMemory } from "../src/process-stats";
import { metricValue, parseLabels, parsePrometheusText } from "../src/prometheus-text";
import { defaultWarmupMs, parseSecondsRange, parseSoakArgs, soakUsageText } from "../src/soak-args";
import { serverLoopDelay } from "../src/soak-sampler";
import { abortSessionId, chooseIteration, failureKeys, logUniformSize, MIXED_WEIGHTS, spreadSample, type IterationKind } from "../src/soak-workload";
import { StatewardError, status } from "@stateward/client";

// What `stateward serve --metrics-port` serves (abridged from a real scrape; soak-metric-names.test.ts
// checks the names against a live server).
const SCRAPE = `# HELP stateward_sessions Resident sessions (including expired ones not yet swept).
# TYPE stateward_sessions gauge
stateward_sessions 3512
# HELP stateward_rejections_total Operations refused by a limit, by reason.
# TYPE stateward_rejections_total counter
stateward_rejections_total{stateward_reason="TOO_MANY_WAITERS"} 2
stateward_rejections_total{stateward_reason="MEMORY_BUDGET"} 3
# TYPE nodejs_eventloop_lag_p50_seconds gauge
nodejs_eventloop_lag_p50_seconds 0.000133503
# TYPE nodejs_eventloop_lag_p99_seconds gauge
nodejs_eventloop_lag_p99_seconds 0.002623871
# TYPE nodejs_eventloop_lag_max_seconds gauge
nodejs_eventloop_lag_max_seconds 0.003484031
rpc_server_call_duration_seconds_bucket{rpc_system_name="grpc",rpc_method="stateward.v1.SessionState/Get",le="+Inf"} 42 1700000000000
weird_label{msg="a \\"quoted\\", comma\\\\ and\\nnewline"} NaN
not a sample line
`;

describe("soak: Prometheus text", () => {
  const samples = parsePrometheusText(SCRAPE);

  it("reads samples with labels, skips comments and garbage, keeps +Inf, NaN and timestamps apart", () => {
    assert.equal(samples.length, 8);
    assert.deepEqual(samples[0], { name: "stateward_sessions", labels: {}, value: 3512 });
    assert.deepEqual(samples[1], { name: "stateward_rejections_total", labels: { stateward_reason: "TOO_MANY_WAITERS" }, value: 2 });
    const bucket = samples.find((sample) => sample.name === "rpc_server_call_duration_seconds_bucket");
    assert.deepEqual(bucket?.labels, { rpc_system_name: "grpc", rpc_method: "stateward.v1.SessionState/Get", le: "+Inf" });
    assert.equal(bucket?.value, 42);
    const weird = samples.find((sample) => sample.name === "weird_label");
    assert.equal(weird?.labels.msg, 'a "quoted", comma\\ and\nnewline');
    assert.ok(Number.isNaN(weird?.value));
  });

  it("sums a metric over its label sets; undefined when absent", () => {
    assert.equal(metricValue(samples, "stateward_rejections_total"), 5);
    assert.equal(metricValue(samples, "stateward_sessions"), 3512);
    assert.equal(metricValue(samples, "stateward_locks_held"), undefined);
    assert.deepEqual(parseLabels(""), {});
    assert.throws(() => parseLabels('a="open'), /unterminated/);
  });

  it("turns the server's event-loop lag gauges (seconds) into ms", () => {
    const delay = serverLoopDelay(samples);
    assert.ok(delay !== null);
    assert.ok(Math.abs(delay.p50Ms - 0.133503) < 1e-9);
    assert.ok(Math.abs(delay.p99Ms - 2.623871) < 1e-9);
    assert.ok(Math.abs(delay.maxMs - 3.484031) < 1e-9);
    assert.equal(serverLoopDelay(parsePrometheusText("stateward_sessions 1\n")), null);
  });
});

describe("soak: /proc/<pid>/status memory", () => {
  it("reads VmRSS, VmHWM, RssAnon and RssFile; 0 when absent", () => {
    const status = "Name:\tnode\nVmPeak:\t 1200000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  150000 kB\nRssAnon:\t  120000 kB\nRssFile:\t   30000 kB\nRssShmem:\t       0 kB\n";
    assert.deepEqual(parseStatusMemory(status), { vmRssBytes: 150_000 * 1024, vmHwmBytes: 204_800 * 1024, rssAnonBytes: 120_000 * 1024, rssFileBytes: 30_000 * 1024 });
    assert.deepEqual(parseStatusMemory("Name:\tnode\n"), { vmRssBytes: 0, vmHwmBytes: 0, rssAnonBytes: 0, rssFileBytes: 0 });
  });
});

describe("soak: command line", () => {
  it("has documented defaults", () => {
    const options = parseSoakArgs([]);
    assert.equal(options.durationMs, 30 * 60_000);
    assert.equal(options.warmupMs, 5 * 60_000);
    assert.equal(options.concurrency, 64);
    assert.equal(options.rate, 4_000);
    assert.equal(options.pool, 2_000);
    assert.deepEqual(options.payload, { minBytes: 1, maxBytes: 64 * 1024 });
    assert.equal(options.shortTtlShare, 0.1);
    assert.deepEqual(options.shortTtlSeconds, { min: 2, max: 5 });
    assert.equal(options.abortShare, 0.05);
    assert.equal(options.abortRaceShare, 0.3);
    assert.equal(options.timeoutShare, 0.05);
    assert.equal(options.leaseMs, 30_000);
    assert.equal(options.sampleMs, 1_000);
    assert.equal(options.rssTolerancePercent, 10);
    assert.equal(options.rssToleranceMiB, 32);
    assert.equal(options.outDir, ".bench/soak");
    assert.deepEqual(options.serverArgs, []);
    assert.equal(options.progress, undefined);
    assert.match(soakUsageText(), /--rss-tolerance-mib M/);
  });

  it("defaults the warm-up to a sixth of the run, between 10 s and 5 min", () => {
    assert.equal(defaultWarmupMs(3 * 60_000), 30_000);
    assert.equal(defaultWarmupMs(30_000), 10_000);
    assert.equal(defaultWarmupMs(2 * 3_600_000), 5 * 60_000);
    assert.equal(parseSoakArgs(["--duration", "3m"]).warmupMs, 30_000);
    assert.equal(parseSoakArgs(["-d", "2m", "--warmup", "20s"]).warmupMs, 20_000);
  });

  it("reads the rest, and server flags split on spaces", () => {
    const options = parseSoakArgs(["-c", "8", "-r", "0", "--pool", "100", "--payload", "1-4KiB", "--short-ttl", "3", "--server-arg=--shards 4", "--no-progress", "-o", "/tmp/x"]);
    assert.equal(options.concurrency, 8);
    assert.equal(options.rate, 0);
    assert.equal(options.pool, 100);
    assert.deepEqual(options.payload, { minBytes: 1024, maxBytes: 4096 }, "the unit applies to both ends, as in the other scenarios");
    assert.deepEqual(options.shortTtlSeconds, { min: 3, max: 3 });
    assert.deepEqual(options.serverArgs, ["--shards", "4"]);
    assert.equal(options.progress, false);
    assert.deepEqual(parseSecondsRange("2-5s", "short-ttl"), { min: 2, max: 5 });
  });

  it("refuses what cannot give a verdict or a bounded run", () => {
    for (const args of [
      ["--duration", "20s"],
      ["--duration", "2m", "--warmup", "61s"],
      ["--abort-share", "0.3", "--timeout-share", "0.2", "--short-ttl-share", "0.2"],
      ["--abort-share", "2"],
      ["--abort-race-share", "1.5"],
      ["--short-ttl", "5-2"],
      ["--short-ttl", "0"],
      ["--payload", "0-10"],
      ["--payload", "1-2MiB"],
      ["--concurrency", "0"],
      ["--lease-ms", "100"],
      ["--progress", "--no-progress"],
      ["--unknown"],
      ["extra"],
    ]) {
      assert.throws(() => parseSoakArgs(args), UsageError, args.join(" "));
    }
  });
});

describe("soak: workload helpers", () => {
  const shares = { abortShare: 0.05, abortRaceShare: 0.3, timeoutShare: 0.05, shortTtlShare: 0.1 };

  it("picks iterations by their shares", () => {
    const counts: Partial<Record<IterationKind, number>> = {};
    const steps = 100_000;
    for (let step = 0; step < steps; step++) {
      const kind = chooseIteration((step + 0.5) / steps, shares);
      counts[kind] = (counts[kind] ?? 0) + 1;
    }
    const share = (kind: IterationKind): number => (counts[kind] ?? 0) / steps;
    assert.ok(Math.abs(share("abort-race") - 0.015) < 1e-3);
    assert.ok(Math.abs(share("abort-lock-wait") - 0.0245) < 1e-3);
    assert.ok(Math.abs(share("abort-get-wait") - 0.0105) < 1e-3);
    assert.ok(Math.abs(share("timeout-lock-wait") - 0.025) < 1e-3);
    assert.ok(Math.abs(share("timeout-get") - 0.025) < 1e-3);
    assert.ok(Math.abs(share("short-lived") - 0.1) < 1e-3);
    for (const [kind, weight] of Object.entries(MIXED_WEIGHTS)) assert.ok(Math.abs(share(kind as IterationKind) - weight * 0.8) < 1e-3, kind);
    assert.equal(chooseIteration(0.999_999, { abortShare: 0, abortRaceShare: 0, timeoutShare: 0, shortTtlShare: 0 }), "remove");
    assert.equal(chooseIteration(0.01, { ...shares, abortRaceShare: 0 }), "abort-lock-wait");
  });

  it("draws payload sizes log-uniformly within the bounds", () => {
    assert.equal(logUniformSize(0, 1, 65_536), 1);
    assert.equal(logUniformSize(0.999_999_999, 1, 65_536), 65_536);
    assert.equal(logUniformSize(0.5, 1, 65_536), 256);
    assert.equal(logUniformSize(0.5, 100, 100), 100);
  });

  it("spreads the expiry check's sample over every short-lived session created", () => {
    assert.deepEqual(spreadSample(0, 256), []);
    assert.deepEqual(spreadSample(3, 256), [0, 1, 2]);
    assert.deepEqual(spreadSample(1001, 5), [0, 250, 500, 750, 1000]);
    assert.deepEqual(spreadSample(10, 1), [0]);
  });

  it("moves a loop to a fresh abort session (a new generation) after a lock was left on one", () => {
    assert.equal(abortSessionId(3), "soak-abort-3");
    assert.equal(abortSessionId(3, 2), "soak-abort-3-2");
  });

  it("names failures by code and by code/reason", () => {
    assert.deepEqual(failureKeys(new StatewardError(status.ABORTED, "LOCKED_BY_OTHER", "x", "remove")), { code: "ABORTED", detailed: "ABORTED/LOCKED_BY_OTHER" });
    assert.deepEqual(failureKeys(new StatewardError(status.CANCELLED, undefined, "aborted", "lock")), { code: "CANCELLED", detailed: "CANCELLED" });
    assert.deepEqual(failureKeys(new TypeError("boom")), { code: "CLIENT_ERROR", detailed: "CLIENT_ERROR/TypeError" });
  });
});
