import assert from "node:assert/strict";
import { renderBenchmarksMarkdown } from "../src/benchmarks-markdown";
import { evaluateTargets, RUN_IDS } from "../src/target-evaluation";
import { memoryRegressionRunId } from "../src/memory-regression-runs";
import { redisBackendRunId, redisHandoffRunId } from "../src/redis-backend-runs";
import { tlsComparisonRunId } from "../src/tls-comparison-runs";
import { goCallerRedisRunId, goCallerStatewardRunId } from "../src/go-caller-runs";
import { GO_CALLER_SECTION_HEADING } from "../src/go-caller-markdown";
import { extractSection } from "../src/markdown-sections";
import { formatCount, formatLatencyMs } from "../src/report-format";
import { sampleReport, sampleRun } from "./helpers/sample-runs";

function standing(runs: ReturnType<typeof sampleRun>[], name: string) {
  const found = evaluateTargets(runs).find((item) => item.name === name);
  assert.ok(found !== undefined, name);
  return found;
}

describe("target evaluation", () => {
  it("compares server CPU per Get with the echo server's, both from the same generator", () => {
    const met = [sampleRun(RUN_IDS.getNative, {}, 100, 200, 55), sampleRun(RUN_IDS.echoNative, {}, 100, 200, 50)];
    assert.equal(standing(met, "CPU per Get (h2load)").status, "met");
    const missed = [sampleRun(RUN_IDS.getNative, {}, 100, 200, 60), sampleRun(RUN_IDS.echoNative, {}, 100, 200, 50)];
    assert.equal(standing(missed, "CPU per Get (h2load)").status, "missed");
  });

  it("also compares CPU per operation at the same open-loop call rate", () => {
    const runs = [
      sampleRun(RUN_IDS.echoNodeEqualRate, {}, 100, 200, 80),
      sampleRun(RUN_IDS.getNodeEqualRate, {}, 100, 200, 88),
      sampleRun(RUN_IDS.lockSetNodeEqualRate, {}, 100, 200, 180),
    ];
    assert.equal(standing(runs, "CPU per Get (equal rate)").status, "met");
    assert.equal(standing(runs, "CPU per Lock+Set pair (equal rate)").status, "met");
  });

  it("never calls a target met without its runs", () => {
    for (const item of evaluateTargets([])) assert.ok(item.status === "not measured" || item.status === "pending", item.name);
  });

  it("needs ≥ 20 × the polling way's critical sections, and a handoff p99 ≤ 2 ms", () => {
    const runs = [
      sampleRun(RUN_IDS.contentionWait, { throughput: 1_000 }, 100, 1_500),
      sampleRun(RUN_IDS.contentionPoll, { throughput: 2 }, 100_000, 500_000),
    ];
    assert.equal(standing(runs, "Critical sections vs polling").status, "met");
    assert.equal(standing(runs, "Contended handoff p99").status, "met");
  });

  it("needs the pipelined Get over TLS + token at ≥ 0.8 × its plaintext throughput of the same run", () => {
    const plaintext = sampleRun(RUN_IDS.tlsComparePipelineGetPlaintext, { throughput: 100_000 });
    assert.equal(standing([plaintext, sampleRun(RUN_IDS.tlsComparePipelineGetTls, { throughput: 80_000 })], "TLS: pipelined Get throughput").status, "met");
    const missed = standing([plaintext, sampleRun(RUN_IDS.tlsComparePipelineGetTls, { throughput: 79_000 })], "TLS: pipelined Get throughput");
    assert.equal(missed.status, "missed");
    assert.match(missed.measured, /^0\.79× \(79,000 vs 100,000 Get\/s\)$/);
    // The suite's other pipelined Get is not the comparison's plaintext run.
    assert.equal(standing([sampleRun(RUN_IDS.getPipeline), sampleRun(RUN_IDS.tlsComparePipelineGetTls)], "TLS: pipelined Get throughput").status, "not measured");
  });

  it("judges the resident run against the empty store and the memory and GC bounds", () => {
    const runs = [
      sampleRun(RUN_IDS.residentEmpty, {}, 100, 10_000),
      sampleRun(RUN_IDS.residentLoaded, { extra: { rssBeyondPayloadPerSessionBytes: 300, preloadMaxGcPauseMs: 120 } }, 100, 15_000),
    ];
    assert.equal(standing(runs, "Resident p99.9").status, "met");
    assert.equal(standing(runs, "RSS beyond payload").status, "missed");
    assert.equal(standing(runs, "Longest GC pause").status, "missed");
  });
});

describe("issue 14 targets", () => {
  const redisPeer = (cpuUsPerOp: number) => ({ peer: { name: "redis-server", cpuUsPerOp, cpuCores: 0.5 } });

  it("needs Stateward over Redis at ≥ 0.7 × the direct baseline's throughput on the same Redis, per workload", () => {
    const runs = [
      sampleRun(redisBackendRunId("get", "direct"), { throughput: 100_000 }, 100, 1_000, 6),
      sampleRun(redisBackendRunId("get", "stateward"), { throughput: 70_000, ...redisPeer(3) }, 100, 1_000, 11),
      sampleRun(redisBackendRunId("lock-set", "direct"), { throughput: 30_000 }),
      sampleRun(redisBackendRunId("lock-set", "stateward"), { throughput: 20_000 }),
    ];
    const get = standing(runs, "Redis backend: Get throughput");
    assert.equal(get.status, "met");
    assert.equal(get.measured, "0.70× (70,000 vs 100,000 /s; CPU/op Stateward 11.0 + Redis 3.0 µs vs Redis 6.0 µs)");
    assert.equal(standing(runs, "Redis backend: Lock+Set pair throughput").status, "missed");
    assert.equal(standing(runs, "Redis backend: request throughput").status, "not measured");
  });

  it("needs the handoff across two nodes at p99 ≤ 5 ms and ≥ 100 × the polling way", () => {
    const poll = sampleRun(redisHandoffRunId("poll"), { throughput: 4 }, 500_000, 510_000);
    const fast = [sampleRun(redisHandoffRunId("wait"), { throughput: 400 }, 100, 5_000), poll];
    assert.equal(standing(fast, "Redis handoff p99").status, "met");
    assert.equal(standing(fast, "Redis handoff vs polling").status, "met");
    const slow = [sampleRun(redisHandoffRunId("wait"), { throughput: 399 }, 100, 6_000), poll];
    assert.equal(standing(slow, "Redis handoff p99").status, "missed");
    const ratio = standing(slow, "Redis handoff vs polling");
    assert.equal(ratio.status, "missed");
    assert.equal(ratio.measured, "100× (399 vs 4.00 /s)");
    // The single-node contention runs are not the handoff across nodes.
    assert.equal(standing([sampleRun(RUN_IDS.contentionWait), sampleRun(RUN_IDS.contentionPoll)], "Redis handoff p99").status, "not measured");
  });

  it("needs the memory backend of this build within 5 % of the reference build's throughput", () => {
    const reference = sampleRun(memoryRegressionRunId("get", "reference"), { throughput: 100_000 }, 100, 1_000, 10);
    const within = standing([reference, sampleRun(memoryRegressionRunId("get", "current"), { throughput: 95_000 }, 100, 1_000, 10.5)], "Memory backend: Get vs reference");
    assert.equal(within.status, "met");
    assert.equal(within.measured, "0.950× (95,000 vs 100,000 /s; server CPU/op 1.050×)");
    assert.equal(standing([reference, sampleRun(memoryRegressionRunId("get", "current"), { throughput: 94_900 })], "Memory backend: Get vs reference").status, "missed");
    assert.equal(standing([reference], "Memory backend: Lock+Set pair vs reference").status, "not measured");
  });
});

describe("BENCHMARKS.md, issue 14 sections", () => {
  it("puts Stateward over Redis beside the direct baseline with both processes' CPU, the handoff beside polling, this build beside the reference", () => {
    const markdown = renderBenchmarksMarkdown(
      sampleReport([
        sampleRun(redisBackendRunId("get", "direct"), { throughput: 100_000, command: "npx stateward-loadtest suite --only redis-backend" }, 100, 1_000, 6),
        sampleRun(redisBackendRunId("get", "stateward"), { throughput: 80_000, peer: { name: "redis-server", cpuUsPerOp: 3, cpuCores: 0.3 }, extra: { sliceRatioMin: 0.7, sliceRatioMedian: 0.8, sliceRatioMax: 0.9 } }, 200, 2_000, 9),
        sampleRun(redisHandoffRunId("wait"), { throughput: 2_000, extra: { nodesCpuUsPerSection: 150, redisCpuUsPerSection: 40, generatorLoopDelayP99Ms: 1.5 } }, 100, 3_000),
        sampleRun(redisHandoffRunId("poll"), { throughput: 5, measuredMs: 5_000 }, 500_000, 505_000),
        sampleRun(memoryRegressionRunId("mixed", "reference"), { throughput: 10_000 }, 100, 1_000, 100),
        sampleRun(memoryRegressionRunId("mixed", "current"), { throughput: 9_800 }, 100, 1_000, 102),
      ]),
      { suiteCommand: "stateward-loadtest suite", reportDir: ".bench/latest", reference: ".bench/reference/abc/server/dist/cli.js" },
    );
    assert.match(markdown, /## Stateward over Redis\n/);
    assert.match(markdown, /\| Get \| 100,000 \| 80,000 \| 0\.80× \| 0\.70 – 0\.80 – 0\.90 \| 0\.55 \/ 0\.99 \| 1\.10 \/ 1\.98 \| 6\.0 \| 9\.0 \| 3\.0 \| 2\.00× \| 0 \/ 0 \|/);
    assert.match(markdown, /\| Lock\+Set pair \| not measured \|/);
    assert.match(markdown, /- Redis backend: Get throughput: .* Measured 0\.80× .*: \*\*met\*\*\./);
    assert.match(markdown, /## Contended handoff across two nodes over Redis\n/);
    assert.match(markdown, /\| Lock\(wait\) across nodes \| 2,000 \| 10\.0 s \| 1\.55 \| 2\.97 \| 3\.00 \| 150\.0 \| 40\.0 \|/);
    assert.match(markdown, /\| 500 ms polling \| 5\.00 \| 5\.0 s \|/);
    assert.match(markdown, /- Redis handoff vs polling: .* Measured 400× \(2000 vs 5\.00 \/s\): \*\*met\*\*\./);
    assert.match(markdown, /## Memory backend against the reference build\n/);
    assert.match(markdown, /this run: `\.bench\/reference\/abc\/server\/dist\/cli\.js`/);
    assert.match(markdown, /\| request \| 10,000 \| 9,800 \| 0\.980× \| – \|.*\| 100\.0 \| 102\.0 \| 1\.020× \| 0 \/ 0 \|/);
    assert.match(markdown, /\| Get \| not measured \|/);
  });

  it("says so when the groups did not run", () => {
    const markdown = renderBenchmarksMarkdown(sampleReport([]), { suiteCommand: "stateward-loadtest suite", reportDir: ".bench/latest" });
    assert.match(markdown, /## Contended handoff across two nodes over Redis\n\n[^\n]+\n\nNot measured in this run\./);
    assert.match(markdown, /\| Get \| not measured \|/);
    assert.match(markdown, /\| Memory backend: Get vs reference \|.*\*\*not measured\*\*/);
  });
});

describe("BENCHMARKS.md", () => {
  const markdown = renderBenchmarksMarkdown(
    sampleReport([sampleRun(RUN_IDS.getNode), sampleRun(RUN_IDS.echoNode, {}, 100, 2_000, 40), sampleRun(RUN_IDS.redisGet, { throughput: 20_000 })]),
    { suiteCommand: "stateward-loadtest suite", reportDir: ".bench/latest", findings: "Found things." },
  );

  it("states the machine, the commands and that ratios are what count", () => {
    assert.match(markdown, /CPUs \(nproc\): 2, Test CPU/);
    assert.match(markdown, /make bench/);
    assert.match(markdown, /npx stateward-loadtest get-stateward-node-unary/);
    assert.match(markdown, /Read the ratios, not the absolute numbers/);
  });

  it("has the results table, the ratio table and the targets with reasons for misses", () => {
    assert.match(markdown, /\| run \| generator \| ops\/s/);
    assert.match(markdown, /\| get vs Redis \(Node\) \| 0\.50× \|/);
    assert.match(markdown, /\| CPU per Get \(Node generator\) \|.*\*\*missed\*\*/);
    assert.match(markdown, /Why the missed targets miss/);
    assert.match(markdown, /## Server findings\n\nFound things\./);
  });
});

describe("BENCHMARKS.md, TLS section", () => {
  const run = (scenario: "get" | "lock-set", transport: "pipeline" | "unary", security: "plaintext" | "tls-token", throughput: number, fromUs: number, toUs: number, cpu: number) =>
    sampleRun(tlsComparisonRunId(scenario, transport, security), { throughput, unit: scenario === "get" ? "Get" : "Lock+Set pair" }, fromUs, toUs, cpu);

  it("puts plaintext and TLS + token side by side per workload and transport, and judges the pipelined Get", () => {
    const markdown = renderBenchmarksMarkdown(
      sampleReport([
        run("get", "pipeline", "plaintext", 100_000, 100, 1_000, 10),
        run("get", "pipeline", "tls-token", 70_000, 200, 2_000, 14),
        run("get", "unary", "plaintext", 8_000, 1_000, 10_000, 60),
        run("get", "unary", "tls-token", 6_000, 2_000, 20_000, 80),
      ]),
      { suiteCommand: "stateward-loadtest suite", reportDir: ".bench/latest" },
    );
    assert.match(markdown, /## Across the network: TLS and a token/);
    assert.match(markdown, /\| workload \| transport \| plaintext ops\/s \| TLS \+ token ops\/s \| ratio \|/);
    assert.match(markdown, /\| Get \| pipeline \| 100,000 \| 70,000 \| 0\.70× \| 0\.55 \| 0\.99 \| 1\.10 \| 1\.98 \| 10\.0 \| 14\.0 \| 1\.02× \| 0 \/ 0 \|/);
    assert.match(markdown, /\| Get \| unary \| 8,000 \| 6,000 \| 0\.75× \|/);
    assert.match(markdown, /\| Lock\+Set pair \| pipeline \| not measured \|/);
    assert.match(markdown, /Target: pipelined Get over TLS with a token ≥ 0\.8 × its plaintext throughput.*Measured 0\.70× \(70,000 vs 100,000 Get\/s\): \*\*missed\*\*\./);
    assert.match(markdown, /\| TLS: pipelined Get throughput \|.*\*\*missed\*\*/);
    assert.match(markdown, /64 requests in flight \(32 × 2 channels × 1 worker\)/);
  });

  it("says so when the comparison did not run", () => {
    const markdown = renderBenchmarksMarkdown(sampleReport([]), { suiteCommand: "stateward-loadtest suite", reportDir: ".bench/latest" });
    assert.match(markdown, /## Across the network: TLS and a token\n\n[^\n]+\n\nNot measured in this run\./);
    assert.match(markdown, /\| TLS: pipelined Get throughput \|.*\*\*not measured\*\*/);
  });
});

describe("issue 16: the Go caller's targets and section", () => {
  const judged = (evalshaMedian: number, getMedian: number) =>
    sampleRun(goCallerStatewardRunId("unary"), {
      throughput: 30_000,
      generator: "go",
      title: "Stateward · Go SDK (unary)",
      command: "npx stateward-loadtest suite --only go-caller",
      extra: {
        judgedTransport: "unary",
        goVersion: "go1.26.8",
        gomaxprocs: 2,
        ratioToRedisEvalshaMin: evalshaMedian - 0.1,
        ratioToRedisEvalshaMedian: evalshaMedian,
        ratioToRedisEvalshaMax: evalshaMedian + 0.1,
        ratioToRedisGetMin: getMedian - 0.05,
        ratioToRedisGetMedian: getMedian,
        ratioToRedisGetMax: getMedian + 0.05,
      },
    }, 200, 3_000, 40);
  const evalsha = sampleRun(goCallerRedisRunId("redis-evalsha"), { throughput: 25_000, generator: "go", title: "Redis + Lua EVALSHA · go-redis", extra: { redisPoolSize: 20 } }, 100, 1_000, 12);
  const get = sampleRun(goCallerRedisRunId("redis-get"), { throughput: 40_000, generator: "go", title: "Redis plain GET · go-redis", extra: { redisPoolSize: 20 } }, 100, 800, 8);

  it("judges the Go SDK's run on the median of its per-round ratios: ≥ 1.2 × EVALSHA, ≥ 1.0 × GET", () => {
    const runs = [judged(1.2, 0.99), get, evalsha];
    const vsEvalsha = standing(runs, "Go caller: Get vs go-redis EVALSHA");
    assert.equal(vsEvalsha.status, "met");
    assert.equal(vsEvalsha.measured, `1.20× median, rounds 1.10× – 1.30× (unary; merged 30,000 vs 25,000 Get/s, p99 ${formatLatencyMs(judged(1.2, 1).latency.p99)} vs ${formatLatencyMs(evalsha.latency.p99)} ms)`);
    assert.equal(standing(runs, "Go caller: Get vs go-redis GET").status, "missed");
    assert.equal(standing([judged(1.19, 1.0), get, evalsha], "Go caller: Get vs go-redis EVALSHA").status, "missed");
    assert.equal(standing([judged(1.19, 1.0), get, evalsha], "Go caller: Get vs go-redis GET").status, "met");
    // Without the peer's run, or without the judged run, nothing is judged.
    assert.equal(standing([judged(2, 2), get], "Go caller: Get vs go-redis EVALSHA").status, "not measured");
    assert.equal(standing([get, evalsha], "Go caller: Get vs go-redis GET").status, "not measured");
  });

  it("shows every side with its latencies and CPU, the judged run first, and the targets", () => {
    const stateward = judged(0.8, 0.5);
    const markdown = renderBenchmarksMarkdown(sampleReport([get, evalsha, stateward]), { suiteCommand: "stateward-loadtest suite", reportDir: ".bench/latest" });
    const section = extractSection(markdown, GO_CALLER_SECTION_HEADING) ?? "";
    const row = (run: typeof get, name: string) =>
      `| ${name} | ${formatCount(run.throughput)} | ${formatLatencyMs(run.latency.p50)} | ${formatLatencyMs(run.latency.p99)} | ${formatLatencyMs(run.latency.p999)} | ${formatLatencyMs(run.latency.max)} | ${run.server?.cpuUsPerOp.toFixed(1)} | ${run.client?.cpuUsPerOp.toFixed(1)} | 0 |`;
    const rows = section.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| caller") && !line.startsWith("| ---"));
    assert.deepEqual(rows, [row(stateward, `**${stateward.title}** (judged)`), row(get, get.title), row(evalsha, evalsha.title)]);
    assert.match(section, /64 goroutines, 10 s measured per side, 1 KiB, pool of 10,000; go1\.26\.8, GOMAXPROCS 2, go-redis pool of 20 connections\. Reproduce: `npx stateward-loadtest suite --only go-caller`\./);
    assert.match(section, /- Go caller: Get vs go-redis EVALSHA: .*≥ 1\.2 × go-redis EVALSHA.* Measured 0\.80× median, rounds 0\.70× – 0\.90× .*: \*\*missed\*\*\.\n  Why: /);
    assert.match(section, /- Go caller: Get vs go-redis GET: .*≥ 1 × go-redis plain GET.* Measured 0\.50× median.*: \*\*missed\*\*\./);
    assert.match(markdown, /\| Go caller: Get vs go-redis GET \|.*\*\*missed\*\*/);
  });

  it("says so when the group did not run", () => {
    const section = extractSection(renderBenchmarksMarkdown(sampleReport([]), { suiteCommand: "s", reportDir: "." }), GO_CALLER_SECTION_HEADING) ?? "";
    assert.match(section, /\n\nNot measured in this run\.\n\n- Go caller: Get vs go-redis EVALSHA: .*\*\*not measured\*\*/);
  });
});
