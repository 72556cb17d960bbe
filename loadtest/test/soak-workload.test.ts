/**
 * The soak's load against a real server (started as the soak starts it). Needs the server built
 * (`npx tsc -b`), as `make test` does before running mocha.
 */
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { SessionClient, type SetOptions, type SetResult } from "@stateward/client";
import { startStateward, type StartedTarget } from "../src/server-processes";
import { shortLivedSessionId, SOAK_APP, SoakWorkload, type SoakWorkloadSettings } from "../src/soak-workload";

const SHORT_LIVED_PREFIX = "soak-short-";

/**
 * A client whose short-lived sessions are gone by the time they are touched, as when a busy machine
 * delays the touch past their ttl: each one is removed right after it was created (for the server a
 * removed session and an expired one are both missing, and waiting out a ttl would make the test slow).
 */
class ExpiredBeforeTouchClient extends SessionClient {
  override async set(app: string, sessionId: string, data: Uint8Array | string, options?: SetOptions): Promise<SetResult> {
    const result = await super.set(app, sessionId, data, options);
    if (sessionId.startsWith(SHORT_LIVED_PREFIX)) await this.remove(app, sessionId);
    return result;
  }
}

describe("soak: workload against a real server", function () {
  this.timeout(30_000);
  let target: StartedTarget | undefined;
  let client: SessionClient | undefined;

  before(async () => {
    target = await startStateward();
  });

  after(async () => {
    client?.close();
    await target?.process.stop();
  });

  it("does not re-create a short-lived session that is gone when its withLock touch comes", async () => {
    assert.ok(target !== undefined);
    client = new ExpiredBeforeTouchClient({ address: target.address, defaultTimeoutMs: 5_000 });
    await client.ready(10_000);
    assert.ok(shortLivedSessionId(7).startsWith(SHORT_LIVED_PREFIX));
    const settings: SoakWorkloadSettings = {
      concurrency: 1,
      rate: 50,
      pool: 1,
      payload: { minBytes: 1, maxBytes: 16 },
      shortTtlShare: 1,
      shortTtlSeconds: { min: 60, max: 60 },
      abortShare: 0,
      abortRaceShare: 0,
      timeoutShare: 0,
      leaseMs: 30_000,
    };
    // 0.6: every iteration is a short-lived session, and its touch is the withLock one (0.5 ≤ touch < 0.7).
    const workload = new SoakWorkload(client, settings, () => 0.6);
    await workload.run(performance.now() + 300);
    const created = workload.shortLivedCreated;
    assert.ok(created >= 1, "the load ran");
    assert.deepEqual(workload.operations.get("short-lived")?.outcomes, { created });
    assert.deepEqual(workload.operations.get("short-lived-touch")?.outcomes, { "with-lock-not-found": created });
    assert.deepEqual(workload.unexpected, {});
    for (let serial = 0; serial < created; serial++) {
      assert.equal((await client.get(SOAK_APP, shortLivedSessionId(serial))).outcome, "not-found", shortLivedSessionId(serial));
    }
  });
});
