/**
 * V8's rule for buffer memory (gc-tuning.ts): with the flag, transient buffers beside a large live
 * set of them no longer force a full collection per 64 MB; the rule switches it by the slab bytes
 * held, with hysteresis; and the `stateward` command switches it on once its store holds enough.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import {
  EXTERNAL_MEMORY_FLAG,
  EXTERNAL_MEMORY_RULE_OFF_BYTES,
  EXTERNAL_MEMORY_RULE_ON_BYTES,
  ExternalMemoryRule,
} from "../src/gc-tuning";
import { REPO_ROOT, spawnCli, stopCli } from "./helpers/cli-process";
import { connectWith } from "./helpers/test-server";

const BUILT_TUNING = path.join(REPO_ROOT, "server", "dist", "gc-tuning.js");
const MIB = 1024 * 1024;

/**
 * A child process holding 256 MiB of 64 KiB buffers (like the store's slab pages) allocates
 * 1.3 GiB of 10-17 KB transient ones (like message frames), after the rule was told `slabBytes`
 * (none: the rule is not used), and prints the full collections counted meanwhile.
 */
function fullCollections(slabBytes: readonly number[] | undefined): number {
  const script = `
    const { PerformanceObserver, constants } = require("node:perf_hooks");
    const steps = ${JSON.stringify(slabBytes ?? null)};
    if (steps !== null) {
      const rule = new (require(${JSON.stringify(BUILT_TUNING)}).ExternalMemoryRule)();
      for (const bytes of steps) rule.update(bytes);
    }
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

describe("GC tuning: V8's rule for buffer memory", function () {
  this.timeout(60_000);

  it("V8's default collects per 64 MB of transient buffers; switched on, none for 1.3 GiB of them; switched off, the default again", () => {
    const untuned = fullCollections(undefined);
    const on = fullCollections([EXTERNAL_MEMORY_RULE_ON_BYTES]);
    const offAgain = fullCollections([EXTERNAL_MEMORY_RULE_ON_BYTES, 0]);
    // 1.3 GiB / 64 MB is about 20 (measured 29).
    assert.ok(untuned >= 10, `V8's default: ${untuned} full collections (if this fails, this Node no longer has the 64 MB rule)`);
    assert.ok(on <= 2, `switched on: ${on} full collections`);
    assert.ok(offAgain >= 10, `switched off again: ${offAgain} full collections`);
  });

  it("switches on at 512 MiB of slabs and off below 256 MiB, once per crossing", () => {
    const flags: string[] = [];
    const changes: boolean[] = [];
    const rule = new ExternalMemoryRule(
      (flag) => flags.push(flag),
      (weighed) => changes.push(weighed),
    );
    for (const bytes of [0, 400 * MIB, EXTERNAL_MEMORY_RULE_ON_BYTES - 1]) rule.update(bytes);
    assert.deepEqual(flags, [], "below the threshold: V8's default");
    rule.update(EXTERNAL_MEMORY_RULE_ON_BYTES);
    rule.update(1024 * MIB);
    rule.update(EXTERNAL_MEMORY_RULE_OFF_BYTES);
    assert.equal(rule.active, true);
    assert.deepEqual(flags, [EXTERNAL_MEMORY_FLAG], "on once, and kept down to 256 MiB");
    rule.update(EXTERNAL_MEMORY_RULE_OFF_BYTES - 1);
    rule.update(0);
    assert.equal(rule.active, false);
    assert.deepEqual(flags, [EXTERNAL_MEMORY_FLAG, "--no-external-memory-accounted-in-global-limit"]);
    assert.deepEqual(changes, [true, false]);
  });

  it("the stateward command switches it on once its store holds 512 MiB", async () => {
    const cli = spawnCli(["--host", "127.0.0.1", "--port", "0", "--log-level", "debug", "--max-memory", "1GiB"], {}, "built");
    const connection = connectWith("pipeline", `127.0.0.1:${await cli.port}`);
    try {
      const switched = (): boolean => cli.stderr().includes("V8 weighs buffer memory against its heap limit");
      const payload = Buffer.alloc(8 * 1024, 1);
      // 73,728 sessions of 8 KiB: 576 MiB of slabs.
      for (let from = 0; from < 73_728; from += 512) {
        await Promise.all(Array.from({ length: 512 }, (_, i) => connection.call.set({ sessionId: `big-${from + i}`, data: payload })));
      }
      // The memory loop looks once a second.
      for (let wait = 0; !switched() && wait < 60; wait++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(switched(), "the log says V8 weighs buffer memory against its heap limit");
    } finally {
      connection.close();
      await stopCli(cli);
    }
  });
});
