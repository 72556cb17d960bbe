/**
 * Large sessions over the pipeline (audit defect 2): 100 concurrent withLock calls on sessions of
 * 1 MiB used to be answered in one response message of about 100 MB, over the SDK's own 64 MiB
 * receive limit: every call failed UNAVAILABLE and every session stayed locked.
 */
import { assert, useResources } from "./helpers";

describe("large sessions over the pipeline", function () {
  this.timeout(60_000);
  const resources = useResources();

  it("100 concurrent withLock calls on 1 MiB sessions all succeed and leave nothing locked", async () => {
    const server = await resources().server(["--max-memory", "512MiB"]);
    const client = resources().client({ address: server.address, defaultTimeoutMs: 30_000 });
    const sessions = Array.from({ length: 100 }, (_, i) => `big-${i}`);
    const payload = Buffer.alloc(1024 * 1024 - 256, 0x61);
    await Promise.all(sessions.map((id) => client.set("shop", id, payload)));
    const results = await Promise.all(
      sessions.map((id) =>
        client.withLock("shop", id, (data) => {
          assert.equal(data.length, payload.length);
          return Buffer.concat([data.subarray(0, data.length - 1), Buffer.from("b")]);
        }),
      ),
    );
    for (const result of results) assert.equal(result.outcome, "ok");
    assert.equal((await server.store.counts()).lockedSessions, 0);
    const read = await client.get("shop", "big-7");
    assert.ok(read.outcome === "ok" && read.data[read.data.length - 1] === 0x62);
  });
});
