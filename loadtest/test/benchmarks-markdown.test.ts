import assert from "node:assert/strict";
import { renderBenchmarksMarkdown } from "../src/benchmarks-markdown";
import { evaluateTargets, RUN_IDS } from "../src/target-evaluation";
import { tlsComparisonRunId } from "../src/tls-comparison-runs";
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
