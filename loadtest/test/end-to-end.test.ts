/**
 * One fast end-to-end run: a tiny get scenario (200 requests) against a Stateward server the tool
 * starts itself. Asserts only completion, counts and zero errors, never speed. Needs the server
 * built (`npx tsc -b`), as `make test` does before running mocha.
 */
import assert from "node:assert/strict";
import { parseCliArgs } from "../src/args";
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
    } finally {
      await context.stopAll();
    }
  });
});
