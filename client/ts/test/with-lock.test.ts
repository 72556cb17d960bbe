import { status } from "@grpc/grpc-js";
import type { StartedServer } from "../../../server/src/index";
import type { SessionClient } from "../src";
import { assert, expectStatewardError, TRANSPORTS, useResources, waitFor } from "./helpers";

for (const transport of TRANSPORTS) {
  describe(`withLock [${transport}]`, function () {
    const r = useResources();
    let server: StartedServer;
    let client: SessionClient;

    beforeEach(async () => {
      server = await r().server();
      client = r().client({ address: server.address, transport });
    });

    it("writes back what fn returns and releases in the same call", async () => {
      await client.set("app", "s1", "1");
      const result = await client.withLock("app", "s1", (data, context) => {
        assert.equal(typeof context.lockId, "bigint");
        assert.equal(context.version, 1n);
        return String(Number(data.toString()) + 1);
      });
      assert.equal(result.outcome, "ok");
      if (result.outcome !== "ok") return;
      assert.equal(result.written, true);
      assert.equal(result.version, 2n);
      assert.equal(result.data.toString(), "2");
      const read = await client.get("app", "s1");
      assert.ok(read.outcome === "ok", "released: a reader gets the data");
      assert.equal(read.data.toString(), "2");
    });

    it("releases without writing when fn returns nothing", async () => {
      await client.set("app", "s1", "same");
      const result = await client.withLock("app", "s1", async () => undefined);
      assert.deepEqual(result.outcome === "ok" && { written: result.written, version: result.version }, { written: false, version: 1n });
      assert.equal((await client.lock("app", "s1")).outcome, "ok", "the lock was released");
    });

    it("releases when fn throws, and rethrows fn's error", async () => {
      await client.set("app", "s1", "v");
      const boom = new Error("boom");
      await assert.rejects(
        client.withLock("app", "s1", () => {
          throw boom;
        }),
        (error) => error === boom,
      );
      assert.equal((await client.lock("app", "s1")).outcome, "ok", "the lock was released");
      const read = await client.get("app", "s1");
      assert.equal(read.outcome, "locked");
    });

    it("returns not-found for a missing session with create: false, and creates it by default", async () => {
      let ran = false;
      const missing = await client.withLock("app", "new", () => {
        ran = true;
        return "x";
      }, { create: false });
      assert.deepEqual(missing, { outcome: "not-found" });
      assert.equal(ran, false);
      const created = await client.withLock("app", "new", (data, context) => {
        assert.equal(context.created, true);
        assert.equal(data.length, 0);
        return "first";
      });
      assert.ok(created.outcome === "ok" && created.written);
    });

    it("returns locked when the holder keeps the lock for the whole wait", async () => {
      await client.set("app", "s1", "v");
      const holder = await client.lock("app", "s1");
      assert.ok(holder.outcome === "ok");
      const result = await client.withLock("app", "s1", () => "never", { waitMs: 100 });
      assert.equal(result.outcome, "locked");
      if (result.outcome === "locked") assert.equal(result.lockId, holder.lockId);
    });

    it("renews nothing: a write after the lease ended fails loudly and writes nothing", async () => {
      await client.set("app", "s1", "before");
      const error = await expectStatewardError(
        client.withLock(
          "app",
          "s1",
          async (_data, context) => {
            // Work that outlives the lease: the context's signal says when it ended.
            await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
            return "after";
          },
          { leaseMs: 150 },
        ),
        status.ABORTED,
        ["LEASE_EXPIRED", "STALE_LOCK_ID"],
      );
      assert.equal(error.operation, "set");
      const read = await client.get("app", "s1");
      assert.ok(read.outcome === "ok");
      assert.equal(read.data.toString(), "before");
    });

    it("serialises concurrent read-modify-writes: no increment is lost", async () => {
      await client.set("app", "counter", "0");
      const workers = 24;
      await Promise.all(
        Array.from({ length: workers }, () =>
          client.withLock("app", "counter", async (data) => {
            const value = Number(data.toString());
            await new Promise((resolve) => setImmediate(resolve));
            return String(value + 1);
          }, { waitMs: 10_000 }),
        ),
      );
      const read = await client.get("app", "counter");
      assert.ok(read.outcome === "ok");
      assert.equal(read.data.toString(), String(workers));
      await waitFor(async () => (await server.store.counts()).waiters === 0, "no waiters left");
    });
  });
}
