/**
 * Fast end-to-end runs against a Stateward server the tool starts itself: a tiny get scenario
 * (200 requests), and a 2 s timed one for the time line (latency per interval, the server's GC
 * pauses from its --trace-gc). Asserts completion, counts, zero errors and consistency, never
 * speed. Needs the server built (`npx tsc -b`), as `make test` does before running mocha.
 */
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { parseCliArgs } from "../src/args";
import { TRACE_GC_SOURCE } from "../src/gc-timeline";
import { bucketValueUs } from "../src/interval-timeline";
import { RunContext } from "../src/run-context";
import { runSessionScenario } from "../src/session-scenario";

describe("end to end", function () {
  this.timeout(60_000);

  it("runs 200 Gets against a server it starts, with zero errors", async () => {
    const options = parseCliArgs(["get", "--requests", "200", "--warmup", "0s", "--duration", "30s", "--pool", "50", "-c", "4", "--no-progress"]);
    const context = new RunContext(options, { enabled: false, stream: process.stderr });
    try {
      const target = await context.stateward();
      const run = await runSessionScenario(context, "get", "stateward", target);
      assert.equal(run.completed, 200);
      assert.deepEqual(run.errors, {});
      assert.equal(run.latency.count, 200);
      assert.deepEqual(run.outcomes, { OK: 200 });
      assert.ok(run.server !== undefined && run.server.rssBytes > 0);
      // Count mode: the time line ends with the last request, and holds every one of them.
      assert.ok(run.timeline.counts.length >= 1 && run.timeline.latency.length === run.timeline.counts.length);
      assert.equal(run.timeline.latency.reduce((sum, interval) => sum + interval.count, 0), 200);
    } finally {
      await context.stopAll();
    }
  });

  it("reports latency per interval and the server's GC pauses of a real timed run on one time axis", async () => {
    const options = parseCliArgs(["get", "--duration", "2s", "--warmup", "500ms", "--pool", "50", "-c", "16", "--no-progress"]);
    const context = new RunContext(options, { enabled: false, stream: process.stderr });
    try {
      const spawned = performance.now();
      const target = await context.stateward();
      const ready = performance.now();
      const run = await runSessionScenario(context, "get", "stateward", target);
      assert.deepEqual(run.errors, {});
      const timeline = run.timeline;
      // 2 s: 20 intervals of 100 ms, one latency entry per interval.
      assert.equal(timeline.intervalMs, 100);
      assert.equal(timeline.counts.length, 20);
      assert.deepEqual(
        timeline.latency.map((interval) => interval.startMs),
        Array.from({ length: 20 }, (_, index) => index * 100),
      );
      // No errors: every completion of an interval has its latency there; the in-flight tail after the phase is left out.
      assert.deepEqual(
        timeline.latency.map((interval) => interval.count),
        timeline.counts,
      );
      const plotted = timeline.counts.reduce((sum, count) => sum + count, 0);
      assert.ok(plotted <= run.completed && plotted >= run.completed - 16, `${plotted} of ${run.completed}`);
      const busy = timeline.latency.filter((interval) => interval.count > 0);
      assert.ok(busy.length >= 10, `${busy.length} of 20 intervals had completions`);
      for (const interval of busy) {
        assert.ok(interval.p50 !== null && interval.p99 !== null && interval.max !== null);
        assert.ok(interval.p50 <= interval.p99 && interval.p99 <= interval.max, JSON.stringify(interval));
        assert.ok(interval.max <= bucketValueUs(run.latency.max), `${interval.max} > run max ${run.latency.max}`);
      }
      // The GC trace: V8's clock placed on ours between the spawn and the "listening" line, and the
      // pauses of the measured phase in order on the run's axis.
      const source = target.gcSource;
      assert.ok("tracker" in source);
      const offset = source.tracker.clockOffsetMs();
      assert.ok(offset !== undefined && offset >= spawned - 1 && offset <= ready, `isolate start ${offset} not in [${spawned}, ${ready}]`);
      const gc = timeline.serverGc;
      assert.ok(gc.available);
      assert.equal(gc.source, TRACE_GC_SOURCE);
      assert.ok(gc.pauses.length >= 1, "a 2 s Get load makes the server collect its young generation");
      assert.ok(gc.pauses.length <= (run.server?.gc?.count ?? 0));
      for (const [index, pause] of gc.pauses.entries()) {
        assert.ok(pause.startMs + pause.pauseMs > 0 && pause.startMs < 2_000, JSON.stringify(pause));
        assert.ok(index === 0 || pause.startMs >= (gc.pauses[index - 1]?.startMs ?? 0));
      }
    } finally {
      await context.stopAll();
    }
  });
});
