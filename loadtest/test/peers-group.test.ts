/**
 * The suite's peers group end to end, short and on one small workload: a Stateward server and a
 * redis-server started by the tool, the four sides alternating, then the open loop at 70 % of
 * the stronger Lua peer's rate. Asserts the runs, zero errors, the per-slice spreads and CPU of
 * both servers, never speed. Needs the server built and redis-server on PATH.
 */
import assert from "node:assert/strict";
import { parseCliArgs } from "../src/args";
import { PEER_SIDES, PEERS_OPEN_LOOP_SHARE, PEERS_OPEN_LOOP_WORKLOAD, peersOpenLoopRunId, peersRunId, strongestLuaPeer } from "../src/peers-runs";
import { runPeersGroup } from "../src/peers-scenario";
import { RunContext } from "../src/run-context";

describe("suite group peers (end to end)", function () {
  this.timeout(180_000);

  it("alternates Stateward (pipeline) with the three Redis peers, then runs the open loop at 70 % of the stronger Lua peer", async () => {
    const options = parseCliArgs(["suite", "--only", "peers", "--duration", "3s", "--warmup", "0s", "--pool", "50", "--payload", "1KiB", "-c", "4", "--channels", "2", "--no-progress"]);
    const context = new RunContext(options, { enabled: false, stream: process.stderr });
    try {
      const workload = { ...PEERS_OPEN_LOOP_WORKLOAD, minRatio: 1.2 };
      const runs = await runPeersGroup(context, [workload]);
      assert.deepEqual(
        runs.map((run) => run.id),
        [...PEER_SIDES.map((side) => peersRunId(workload, side)), peersOpenLoopRunId("stateward"), peersOpenLoopRunId("peer")],
      );
      const byId = new Map(runs.map((run) => [run.id, run]));
      for (const run of runs) {
        assert.deepEqual(run.errors, {}, run.id);
        assert.ok(run.completed > 0, run.id);
        assert.ok(run.server !== undefined && run.server.cpuUsPerOp > 0, `${run.id}: server CPU`);
        assert.match(run.command, /^npx stateward-loadtest suite --only peers /);
        // 64 in flight over 2 connections: 32 each.
        if (!run.id.includes("-open-")) assert.equal(run.settings.inFlight * run.settings.channels, workload.inFlight, run.id);
      }
      for (const side of PEER_SIDES) {
        const run = byId.get(peersRunId(workload, side));
        assert.equal(run?.target, side === "stateward" ? "stateward" : side === "ioredis-lua" ? "redis" : side);
        const min = run?.extra["serverCpuUsPerOpMin"];
        const max = run?.extra["serverCpuUsPerOpMax"];
        assert.ok(typeof min === "number" && typeof max === "number" && min <= (run?.server?.cpuUsPerOp ?? 0) + 1e-9 && max >= (run?.server?.cpuUsPerOp ?? 0) - 1e-9, `${side}: CPU spread around the merged figure`);
        if (side === "stateward") continue;
        const ratios = ["statewardRatioMin", "statewardRatioMedian", "statewardRatioMax"].map((name) => run?.extra[name]);
        assert.ok(ratios.every((value) => typeof value === "number" && value > 0), `${side}: ${JSON.stringify(run?.extra)}`);
        assert.ok((ratios[0] as number) <= (ratios[1] as number) && (ratios[1] as number) <= (ratios[2] as number));
      }
      const strongest = strongestLuaPeer(byId, workload);
      const open = byId.get(peersOpenLoopRunId("peer"));
      assert.equal(open?.extra["openLoopPeer"], strongest?.client);
      assert.equal(open?.extra["openLoopRate"], Math.round((strongest?.run.throughput ?? 0) * PEERS_OPEN_LOOP_SHARE));
      assert.equal(open?.settings.mode, "open");
      assert.equal(byId.get(peersOpenLoopRunId("stateward"))?.transport, "pipeline");
    } finally {
      await context.stopAll();
    }
  });
});
