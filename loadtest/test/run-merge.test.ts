import assert from "node:assert/strict";
import { mergeRunSlices } from "../src/run-merge";
import { sampleRun } from "./helpers/sample-runs";

describe("mergeRunSlices", () => {
  it("adds histograms and counts, weights CPU per op by operations, joins the time lines", () => {
    const a = sampleRun("resident-a", { completed: 1_000, measuredMs: 5_000, outcomes: { OK: 1_000 }, errors: { ABORTED: 2 }, loadAverage: 1 }, 100, 1_099, 100);
    const b = sampleRun("resident-b", { completed: 3_000, measuredMs: 5_000, outcomes: { OK: 3_000 }, loadAverage: 3 }, 1_100, 4_099, 200);
    const merged = mergeRunSlices([a, b]);
    assert.equal(merged.completed, 4_000);
    assert.equal(merged.measuredMs, 10_000);
    assert.equal(merged.throughput, 400);
    assert.equal(merged.latency.count, a.latency.count + b.latency.count);
    assert.equal(merged.latency.max, b.latency.max);
    assert.deepEqual(merged.outcomes, { OK: 4_000 });
    assert.deepEqual(merged.errors, { ABORTED: 2 });
    assert.equal(merged.server?.cpuUsPerOp, 175);
    assert.equal(merged.server?.gc?.count, 6);
    assert.equal(merged.timeline.counts.length, 6);
    // The second slice's intervals and GC pauses follow the first's 3 s.
    assert.deepEqual(merged.timeline.latency.map((interval) => interval.startMs), [0, 1_000, 2_000, 3_000, 4_000, 5_000]);
    assert.deepEqual(merged.timeline.latency[4], { ...b.timeline.latency[1], startMs: 4_000 });
    assert.ok(merged.timeline.serverGc.available);
    assert.deepEqual(merged.timeline.serverGc.pauses.map((pause) => pause.startMs), [400, 1_200, 3_400, 4_200]);
    assert.equal(merged.settings.durationMs, 20_000);
    assert.equal(merged.loadAverage, 2);
    assert.equal(merged.id, "resident-a");
  });

  it("weights the peer's CPU per op by operations too, and keeps it only when every slice has it", () => {
    const peer = (cpuUsPerOp: number, cpuCores: number) => ({ peer: { name: "redis-server", cpuUsPerOp, cpuCores } });
    const a = sampleRun("redis-a", { completed: 1_000, measuredMs: 2_000, ...peer(10, 0.2) });
    const b = sampleRun("redis-b", { completed: 3_000, measuredMs: 6_000, ...peer(30, 0.6) });
    const merged = mergeRunSlices([a, b]);
    assert.equal(merged.peer?.name, "redis-server");
    assert.equal(merged.peer?.cpuUsPerOp, 25);
    assert.equal(merged.peer?.cpuCores, 0.5);
    const { peer: _dropped, ...without } = b;
    assert.equal(mergeRunSlices([without, without]).peer, undefined);
  });

  it("refuses nothing to merge", () => {
    assert.throws(() => mergeRunSlices([]), /no slices/);
  });
});
