/**
 * The issue-15 durability group's figures, without servers: the /metrics counters it reads, the
 * probe's longest gap, the targets and the BENCHMARKS.md section. The group end to end, small, is in
 * durability-group.test.ts.
 */
import assert from "node:assert/strict";
import { renderBenchmarksMarkdown } from "../src/benchmarks-markdown";
import { longestAnswerGap } from "../src/durability-restart";
import { DURABILITY_RESTART_RUN_ID, DURABILITY_SNAPSHOT_RUN_ID, durabilityRunId } from "../src/durability-runs";
import { syncCountersOf } from "../src/durability-scenario";
import { evaluateTargets } from "../src/target-evaluation";
import { sampleReport, sampleRun } from "./helpers/sample-runs";

const SCRAPE = `# HELP stateward_persistence_fsync_duration_seconds each fdatasync
# TYPE stateward_persistence_fsync_duration_seconds histogram
stateward_persistence_fsync_duration_seconds_bucket{le="0.001"} 3
stateward_persistence_fsync_duration_seconds_bucket{le="+Inf"} 10
stateward_persistence_fsync_duration_seconds_sum 0.02
stateward_persistence_fsync_duration_seconds_count 10
rpc_server_call_duration_seconds_count{rpc_method="stateward.v1.SessionState/Set",stateward_outcome="written",stateward_transport="pipeline"} 300
rpc_server_call_duration_seconds_count{rpc_method="stateward.v1.SessionState/Set",stateward_outcome="written",stateward_transport="unary"} 5
rpc_server_call_duration_seconds_count{rpc_method="stateward.v1.SessionState/Set",stateward_outcome="not_written",stateward_transport="pipeline"} 7
rpc_server_call_duration_seconds_count{rpc_method="stateward.v1.SessionState/Lock",stateward_outcome="ok",stateward_transport="pipeline"} 200
rpc_server_call_duration_seconds_count{rpc_method="stateward.v1.SessionState/Lock",stateward_outcome="locked",stateward_transport="pipeline"} 9
rpc_server_call_duration_seconds_count{rpc_method="stateward.v1.SessionState/Get",stateward_outcome="ok",stateward_transport="pipeline"} 1000
`;

function standing(runs: ReturnType<typeof sampleRun>[], name: string) {
  const found = evaluateTargets(runs).find((item) => item.name === name);
  assert.ok(found !== undefined, name);
  return found;
}

describe("durability group figures", () => {
  it("counts the fdatasyncs and the operations that changed state (Sets written, Locks taken)", () => {
    assert.deepEqual(syncCountersOf(SCRAPE), { fsyncs: 10, fsyncSeconds: 0.02, changes: 505 });
    // Before the first sync the histogram has no series yet: zero syncs.
    assert.deepEqual(syncCountersOf("rpc_server_call_duration_seconds_count{rpc_method=\"stateward.v1.SessionState/Get\",stateward_outcome=\"ok\"} 4\n"), {
      fsyncs: 0,
      fsyncSeconds: 0,
      changes: 0,
    });
  });

  it("finds the longest time without an answer in a window, its ends bounded by the answers around it", () => {
    assert.deepEqual(longestAnswerGap([0, 1, 2, 3, 25, 26, 27], 2.5, 26.5), { gapMs: 22, atMs: 0.5 });
    // Nothing answered after the window's last answer: the window's end bounds the gap.
    assert.deepEqual(longestAnswerGap([0, 1, 2], 1.5, 40), { gapMs: 38, atMs: 0.5 });
    assert.deepEqual(longestAnswerGap([], 10, 20), { gapMs: 10, atMs: 0 });
    assert.deepEqual(longestAnswerGap([9, 11, 12, 13, 21], 10, 20), { gapMs: 8, atMs: 3 });
  });
});

const memory = sampleRun(durabilityRunId("set", "memory"), { throughput: 50_000 });

describe("issue 15 targets", () => {
  it("needs everysec ≥ 0.8 × and always ≥ 0.3 × the memory-only throughput, and says how many writes share a sync", () => {
    const runs = [
      memory,
      sampleRun(durabilityRunId("set", "everysec"), { throughput: 40_000 }),
      sampleRun(durabilityRunId("set", "always"), { throughput: 14_000, extra: { writesPerFsync: 31.25 } }),
    ];
    assert.equal(standing(runs, "Durability: Set --fsync everysec").status, "met");
    const always = standing(runs, "Durability: Set --fsync always");
    assert.equal(always.status, "missed");
    assert.equal(always.measured, "0.28× (14,000 vs 50,000 /s; 31.3 writes per fdatasync)");
    assert.equal(standing(runs, "Durability: Lock+Set pair --fsync always").status, "not measured");
  });

  it("judges restart, replay RSS and snapshot pause at 1 M sessions, and only reports a smaller run", () => {
    const restart = (sessions: number) =>
      sampleRun(DURABILITY_RESTART_RUN_ID, { extra: { sessions, restartSeconds: 8.5, replaySeconds: 6, replayRssRatio: 1.6, peakReplayRssBytes: 1.6 * 2 ** 30, steadyRssBytes: 2 ** 30 } });
    const snapshot = (sessions: number) => sampleRun(DURABILITY_SNAPSHOT_RUN_ID, { extra: { snapshotSessions: sessions, longestProbeGapMs: 12.5, serverLongestSliceMs: 2.1 } });
    const full = [restart(1_000_000), snapshot(1_000_000)];
    assert.equal(standing(full, "Durability: restart time").status, "met");
    const rss = standing(full, "Durability: replay peak RSS");
    assert.equal(rss.status, "missed");
    assert.equal(rss.measured, "1.60× (1638 MiB vs 1024 MiB)");
    assert.equal(standing(full, "Durability: snapshot pause").status, "met");
    const small = [restart(200_000), snapshot(200_000)];
    for (const name of ["Durability: restart time", "Durability: replay peak RSS", "Durability: snapshot pause"]) {
      const item = standing(small, name);
      assert.equal(item.status, "reported", name);
      assert.match(item.measured, /with 200,000 sessions, not the 1,000,000 of the target$/);
    }
  });
});

describe("BENCHMARKS.md, issue 15 section", () => {
  it("puts everysec and always beside memory only, then the restart and the snapshot, with the targets", () => {
    const markdown = renderBenchmarksMarkdown(
      sampleReport([
        memory,
        sampleRun(durabilityRunId("set", "everysec"), { throughput: 45_000, extra: { sliceRatioMin: 0.8, sliceRatioMedian: 0.9, sliceRatioMax: 1, fsyncs: 12, fsyncMeanMs: 20 } }),
        sampleRun(durabilityRunId("set", "always"), { throughput: 20_000, extra: { writesPerFsync: 25, fsyncs: 4_000, fsyncMeanMs: 1.5 } }),
        sampleRun(DURABILITY_RESTART_RUN_ID, { extra: { sessions: 1_000_000, restartSeconds: 7.25, replaySeconds: 6.5, replayRssRatio: 1.1 } }),
        sampleRun(DURABILITY_SNAPSHOT_RUN_ID, { extra: { snapshotSessions: 1_000_000, longestProbeGapMs: 30, longestProbeGapAtMs: 900 } }),
      ]),
      { suiteCommand: "stateward-loadtest suite", reportDir: ".bench/latest" },
    );
    assert.match(markdown, /## Durability \(issue 15\)\n\nThis run: `stateward-loadtest suite` .* on 2 CPUs \(Test CPU\)/);
    assert.match(markdown, /\| Set \| 50,000 \| 45,000 \| 0\.90× \| 0\.80 – 0\.90 – 1\.00 \| 20,000 \| 0\.40× \| – \| 25\.0 \| 4000 \/ 12 \| 1\.50 \/ 20\.00 \|/);
    assert.match(markdown, /\| Lock\+Set pair \| not measured \|/);
    assert.match(markdown, /\| \*\*restart: spawn to serving\*\* \| \*\*7\.25 s\*\* \|/);
    assert.match(markdown, /\| \*\*longest time without a probe answer during the snapshot\*\* \| \*\*30\.0 ms\*\* \(starting 900 ms into the window\) \|/);
    assert.match(markdown, /- Durability: snapshot pause: .* Measured 30\.0 ms .*: \*\*missed\*\*\.\n {2}Why: /);
    assert.match(markdown, /- Durability: Set --fsync everysec: .*: \*\*met\*\*\./);
    assert.doesNotMatch(markdown, /This run has/);
  });

  it("says so when the group did not run", () => {
    const markdown = renderBenchmarksMarkdown(sampleReport([]), { suiteCommand: "stateward-loadtest suite", reportDir: ".bench/latest" });
    assert.match(markdown, /### Restart\n\nNot measured in this run\./);
    assert.match(markdown, /### Snapshot pause\n\nNot measured in this run\./);
  });
});
