/**
 * V8's rule for buffer memory (gc-tuning.ts): with the flag, transient buffers beside a large live
 * set of them no longer force a full collection per 64 MB; and the `stateward` command sets it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { REPO_ROOT, spawnCli, stopCli } from "./helpers/cli-process";

const BUILT_TUNING = path.join(REPO_ROOT, "server", "dist", "gc-tuning.js");

/**
 * A child process holding 256 MiB of 64 KiB buffers (like the store's slab pages) allocates
 * 1.3 GiB of 10-17 KB transient ones (like message frames), optionally after the tuning, and
 * prints the full collections counted meanwhile.
 */
function fullCollections(tuned: boolean): number {
  const script = `
    const { PerformanceObserver, constants } = require("node:perf_hooks");
    if (${tuned}) require(${JSON.stringify(BUILT_TUNING)}).countExternalMemoryInHeapLimit();
    const live = [];
    for (let i = 0; i < 4096; i++) live.push(Buffer.allocUnsafeSlow(64 * 1024));
    let major = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
    }).observe({ entryTypes: ["gc"] });
    let sum = 0;
    for (let i = 0; i < 100000; i++) {
      const transient = Buffer.allocUnsafe(10000 + (i % 7000));
      transient[0] = i & 255;
      sum += transient[0];
      live[i % live.length][0] = sum & 255;
    }
    setTimeout(() => process.stdout.write(String(major)), 50);
  `;
  return Number(execFileSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30_000 }));
}

describe("GC tuning: buffer memory weighed against V8's heap limit", function () {
  this.timeout(60_000);

  it("V8's default collects per 64 MB of transient buffers; with the tuning, none for 1.3 GiB of them", () => {
    const untuned = fullCollections(false);
    const tuned = fullCollections(true);
    // 1.3 GiB / 64 MB is about 20 (measured 29).
    assert.ok(untuned >= 10, `without the tuning: ${untuned} full collections (V8's 64 MB rule; if this fails, this Node no longer has it)`);
    assert.ok(tuned <= 2, `with the tuning: ${tuned} full collections`);
  });

  it("the stateward command sets it before it serves", async () => {
    const cli = spawnCli(["--host", "127.0.0.1", "--port", "0", "--log-level", "debug"], {}, "built");
    try {
      await cli.port;
      const line = cli
        .stderr()
        .split("\n")
        .find((l) => l.includes('"v8Flag"'));
      assert.ok(line !== undefined, `a log line names the flag: ${cli.stderr().slice(0, 2000)}`);
      assert.equal((JSON.parse(line) as { v8Flag: string }).v8Flag, "--external-memory-accounted-in-global-limit");
    } finally {
      await stopCli(cli);
    }
  });
});
