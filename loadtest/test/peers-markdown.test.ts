/**
 * The issue-16 peers section of BENCHMARKS.md and its targets, from synthetic runs drawn with a
 * seeded generator: the expected cells and statuses are derived from the inputs (which peer is
 * the stronger, its slice ratios, the p99s of the runs' histograms), never written down.
 */
import assert from "node:assert/strict";
import { renderBenchmarksMarkdown } from "../src/benchmarks-markdown";
import { PEERS_SECTION_HEADING } from "../src/peers-markdown";
import {
  LUA_PEERS,
  PEER_SIDES,
  PEER_WORKLOADS,
  PEERS_GET_MAX_CPU_US,
  PEERS_OPEN_LOOP_WORKLOAD,
  PEERS_P99_MAX_RATIO,
  peersOpenLoopRunId,
  peersRunId,
  PLAIN_PEER,
  type PeerSide,
} from "../src/peers-runs";
import { formatCount, formatLatencyMs, formatRatio } from "../src/report-format";
import type { RunResult } from "../src/report-model";
import { SCENARIO_DEFAULTS } from "../src/scenario-defaults";
import { evaluateTargets, type TargetStanding } from "../src/target-evaluation";
import { REDIS_CLIENT_TITLES } from "../src/target-spec";
import { sampleReport, sampleRun } from "./helpers/sample-runs";

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Drawn {
  readonly runs: RunResult[];
  /** Per workload: the sides' throughputs and CPU, and the Lua peers' median slice ratios. */
  readonly throughput: Map<string, number>;
  readonly cpu: Map<string, number>;
  readonly median: Map<string, number>;
}

function draw(seed: number): Drawn {
  const next = random(seed);
  const runs: RunResult[] = [];
  const throughput = new Map<string, number>();
  const cpu = new Map<string, number>();
  const median = new Map<string, number>();
  for (const workload of PEER_WORKLOADS) {
    for (const side of PEER_SIDES) {
      const id = peersRunId(workload, side);
      const ops = Math.round(5_000 + next() * 100_000);
      const us = Math.round((1 + next() * 40) * 10) / 10;
      throughput.set(id, ops);
      cpu.set(id, us);
      const mid = 0.5 + next();
      if (side !== "stateward") median.set(id, mid);
      runs.push(
        sampleRun(
          id,
          {
            throughput: ops,
            unit: SCENARIO_DEFAULTS[workload.scenario].unit,
            extra: side === "stateward" ? {} : { statewardRatioMin: mid - 0.1, statewardRatioMedian: mid, statewardRatioMax: mid + 0.1 },
          },
          100,
          Math.round(1_000 + next() * 9_000),
          us,
        ),
      );
    }
  }
  const peer = LUA_PEERS[Math.floor(next() * LUA_PEERS.length)] ?? "node-redis-lua";
  const rate = Math.round(1_000 + next() * 50_000);
  const extra = { openLoopRate: rate, openLoopPeer: peer };
  runs.push(sampleRun(peersOpenLoopRunId("stateward"), { throughput: rate, extra }, 100, Math.round(500 + next() * 5_000)));
  runs.push(sampleRun(peersOpenLoopRunId("peer"), { throughput: rate, extra: { ...extra, statewardP99RatioMin: 0.8, statewardP99RatioMedian: 1, statewardP99RatioMax: 1.3 } }, 100, Math.round(500 + next() * 5_000)));
  return { runs, throughput, cpu, median };
}

function standing(standings: readonly TargetStanding[], name: string): TargetStanding {
  const found = standings.find((item) => item.name === name);
  assert.ok(found !== undefined, name);
  return found;
}

/** The stronger Lua peer of a workload, from the drawn throughputs. */
function stronger(drawn: Drawn, workload: (typeof PEER_WORKLOADS)[number]): (typeof LUA_PEERS)[number] {
  const [a, b] = LUA_PEERS;
  return (drawn.throughput.get(peersRunId(workload, a)) ?? 0) >= (drawn.throughput.get(peersRunId(workload, b)) ?? 0) ? a : b;
}

describe("issue 16: peers targets and BENCHMARKS.md section", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`judges every target against the stronger Lua peer of the same run (seed ${seed})`, () => {
      const drawn = draw(seed);
      const standings = evaluateTargets(drawn.runs);
      for (const workload of PEER_WORKLOADS) {
        const peer = stronger(drawn, workload);
        const median = drawn.median.get(peersRunId(workload, peer)) ?? 0;
        const item = standing(standings, `Peers: ${SCENARIO_DEFAULTS[workload.scenario].unit} at ${workload.inFlight} in flight`);
        assert.equal(item.status, median >= workload.minRatio ? "met" : "missed", `${workload.scenario} ${workload.inFlight}: ${item.measured}`);
        assert.ok(item.measured.startsWith(`${formatRatio(median)} against ${REDIS_CLIENT_TITLES[peer]}`), item.measured);
        assert.ok(item.measured.includes(`slices ${formatRatio(median - 0.1)} – ${formatRatio(median + 0.1)}`), item.measured);
      }
      const byId = new Map(drawn.runs.map((run) => [run.id, run]));
      const ours = byId.get(peersOpenLoopRunId("stateward"));
      const theirs = byId.get(peersOpenLoopRunId("peer"));
      assert.ok(ours !== undefined && theirs !== undefined);
      const p99Ratio = ours.latency.p99 / theirs.latency.p99;
      assert.equal(standing(standings, "Peers: p99 at equal offered load").status, p99Ratio <= PEERS_P99_MAX_RATIO ? "met" : "missed");
      const getCpu = drawn.cpu.get(peersRunId(PEERS_OPEN_LOOP_WORKLOAD, "stateward")) ?? 0;
      assert.equal(standing(standings, "Peers: server CPU per pipelined Get").status, getCpu <= PEERS_GET_MAX_CPU_US ? "met" : "missed");
      const mixed = PEER_WORKLOADS.find((workload) => workload.scenario === "mixed");
      assert.ok(mixed !== undefined);
      const mixedCpu = (drawn.cpu.get(peersRunId(mixed, "stateward")) ?? 0) / (drawn.cpu.get(peersRunId(mixed, stronger(drawn, mixed))) ?? 1);
      assert.equal(standing(standings, "Peers: server CPU per mixed request").status, mixedCpu <= 1 ? "met" : "missed", standing(standings, "Peers: server CPU per mixed request").measured);
    });
  }

  it("writes a row per workload with every side, the stronger peer's ratio and the plain floor, and the open loop", () => {
    const drawn = draw(11);
    const markdown = renderBenchmarksMarkdown(sampleReport(drawn.runs), { suiteCommand: "stateward-loadtest suite --only peers", reportDir: ".bench/latest" });
    const section = markdown.slice(markdown.indexOf(PEERS_SECTION_HEADING), markdown.indexOf("\n## ", markdown.indexOf(PEERS_SECTION_HEADING) + 1));
    assert.ok(section.includes("stateward-loadtest suite"), "names its run");
    for (const workload of PEER_WORKLOADS) {
      const unit = SCENARIO_DEFAULTS[workload.scenario].unit;
      const row = section.split("\n").find((line) => line.startsWith(`| ${unit} | ${workload.inFlight} |`));
      assert.ok(row !== undefined, `${unit} at ${workload.inFlight}`);
      const cells = row.split(" | ");
      const sides = PEER_SIDES.map((side: PeerSide) => formatCount(drawn.throughput.get(peersRunId(workload, side)) ?? 0));
      assert.deepEqual(cells.slice(2, 2 + PEER_SIDES.length), sides);
      const peer = stronger(drawn, workload);
      const median = drawn.median.get(peersRunId(workload, peer)) ?? 0;
      const stateward = drawn.throughput.get(peersRunId(workload, "stateward")) ?? 0;
      const plain = drawn.throughput.get(peersRunId(workload, PLAIN_PEER)) ?? 1;
      assert.deepEqual(cells.slice(2 + PEER_SIDES.length, 6 + PEER_SIDES.length), [
        REDIS_CLIENT_TITLES[peer],
        formatRatio(median),
        [median - 0.1, median, median + 0.1].map((value) => value.toFixed(2)).join(" – "),
        formatRatio(stateward / plain),
      ]);
      assert.equal(cells[7 + PEER_SIDES.length], PEER_SIDES.map((side) => (drawn.cpu.get(peersRunId(workload, side)) ?? 0).toFixed(1)).join(" / "));
    }
    const byId = new Map(drawn.runs.map((run) => [run.id, run]));
    const ours = byId.get(peersOpenLoopRunId("stateward"));
    const theirs = byId.get(peersOpenLoopRunId("peer"));
    assert.ok(ours !== undefined && theirs !== undefined);
    const openRow = section.split("\n").find((line) => line.startsWith("| Stateward (pipeline) |"));
    assert.ok(openRow !== undefined);
    assert.ok(openRow.includes(`| ${formatLatencyMs(ours.latency.p99)} |`) && openRow.includes(`| ${formatRatio(ours.latency.p99 / theirs.latency.p99)} |`), openRow);
    assert.ok(section.includes(`| ${REDIS_CLIENT_TITLES[theirs.extra["openLoopPeer"] as (typeof LUA_PEERS)[number]]} |`));
    // Every issue-16 target is listed with its status, in the section and in the Targets table.
    for (const item of evaluateTargets(drawn.runs).filter((entry) => entry.name.startsWith("Peers: "))) {
      assert.ok(section.includes(`- ${item.name}: ${item.target}. Measured ${item.measured}: **${item.status}**.`), item.name);
      assert.ok(markdown.includes(`| ${item.name} | ${item.target} | ${item.measured} | **${item.status}** |`), item.name);
    }
  });

  it("says so when the group did not run, and calls no target met", () => {
    const markdown = renderBenchmarksMarkdown(sampleReport([]), { suiteCommand: "x", reportDir: "y" });
    const section = markdown.slice(markdown.indexOf(PEERS_SECTION_HEADING));
    assert.ok(section.includes("Not measured in this run."));
    for (const item of evaluateTargets([]).filter((entry) => entry.name.startsWith("Peers: "))) assert.equal(item.status, "not measured", item.name);
    assert.equal(evaluateTargets([]).filter((entry) => entry.name.startsWith("Peers: ")).length, PEER_WORKLOADS.length + 3);
  });
});
