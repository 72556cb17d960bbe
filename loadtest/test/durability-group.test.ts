/**
 * The issue-15 durability group end to end, small: three servers (memory only, --fsync everysec,
 * --fsync always) alternating, then a data directory filled, restarted and snapshotted with a probe.
 * Asserts the runs and that every figure was measured, never speed. Needs the server built.
 */
import assert from "node:assert/strict";
import { parseCliArgs } from "../src/args";
import { DURABILITY_MODES, DURABILITY_RESTART_RUN_ID, DURABILITY_SNAPSHOT_RUN_ID, DURABILITY_WORKLOADS, durabilityRunId } from "../src/durability-runs";
import { runDurabilityGroup } from "../src/durability-scenario";
import { RunContext } from "../src/run-context";

describe("suite group durability (end to end)", function () {
  this.timeout(180_000);

  it("compares memory only with everysec and always, then restarts and snapshots a filled data directory", async () => {
    const options = parseCliArgs(["suite", "--only", "durability", "--duration", "3s", "--warmup", "0s", "--pool", "50", "-c", "8", "--durability-sessions", "2000", "--no-progress"]);
    const context = new RunContext(options, { enabled: false, stream: process.stderr });
    try {
      const runs = await runDurabilityGroup(context);
      assert.deepEqual(
        runs.map((run) => run.id),
        [...DURABILITY_WORKLOADS.flatMap((scenario) => DURABILITY_MODES.map((mode) => durabilityRunId(scenario, mode))), DURABILITY_RESTART_RUN_ID, DURABILITY_SNAPSHOT_RUN_ID],
      );
      for (const run of runs) {
        assert.deepEqual(run.errors, {}, run.id);
        assert.match(run.command, /^npx stateward-loadtest suite --only durability .*--durability-sessions 2000$/);
      }
      for (const scenario of DURABILITY_WORKLOADS) {
        const always = runs.find((run) => run.id === durabilityRunId(scenario, "always"));
        assert.ok(always !== undefined && always.throughput > 0 && always.transport === "pipeline");
        // Every answered change waited for a sync; some share one.
        assert.ok((always.extra["fsyncs"] as number) > 0, `${scenario}: fsyncs`);
        assert.ok((always.extra["writesPerFsync"] as number) >= 1, `${scenario}: writes per fdatasync`);
        assert.equal(runs.find((run) => run.id === durabilityRunId(scenario, "memory"))?.extra["fsyncs"], undefined);
      }
      const restart = runs.find((run) => run.id === DURABILITY_RESTART_RUN_ID);
      assert.equal(restart?.extra["sessions"], 2000);
      assert.equal(restart?.extra["replayedRecords"], 2000);
      assert.ok((restart?.extra["restartSeconds"] as number) > 0);
      assert.ok((restart?.extra["replayRssRatio"] as number) > 0);
      const snapshot = runs.find((run) => run.id === DURABILITY_SNAPSHOT_RUN_ID);
      assert.equal(snapshot?.extra["snapshotSessions"], 2000);
      assert.equal(snapshot?.extra["sessionsFoundAfterRestart"], 1000);
      assert.ok(typeof snapshot?.extra["longestProbeGapMs"] === "number");
      assert.ok(typeof snapshot?.extra["serverLongestSliceMs"] === "number");
    } finally {
      await context.stopAll();
    }
  });
});
