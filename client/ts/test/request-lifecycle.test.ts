import { status } from "@grpc/grpc-js";
import type { StartedServer } from "../../../server/src/index";
import type { SessionClient } from "../src";
import { assert, expectStatewardError, useResources, waitFor } from "./helpers";

describe("beginRequest / endRequest", function () {
  const r = useResources();
  let server: StartedServer;
  let client: SessionClient;

  beforeEach(async () => {
    server = await r().server();
    client = r().client({ address: server.address });
  });

  it("a writer request locks, and endRequest writes and releases in one call", async () => {
    await client.set("app", "s1", "v1");
    const request = await client.beginRequest("app", "s1", { readOnly: false });
    assert.equal(request.outcome, "ok");
    if (request.outcome !== "ok") return;
    assert.equal(request.readOnly, false);
    assert.equal(typeof request.lockId, "bigint");
    assert.equal(request.data.toString(), "v1");
    assert.equal((await client.get("app", "s1")).outcome, "locked");
    const end = await client.endRequest(request, { data: "v2" });
    assert.deepEqual(end, { outcome: "written", version: 2n });
    const read = await client.get("app", "s1");
    assert.ok(read.outcome === "ok");
    assert.equal(read.data.toString(), "v2");
  });

  it("a writer request without changes just releases; abandon removes", async () => {
    await client.set("app", "s1", "v1");
    const first = await client.beginRequest("app", "s1", { readOnly: false });
    assert.ok(first.outcome === "ok");
    assert.deepEqual(await client.endRequest(first), { outcome: "released" });
    const second = await client.beginRequest("app", "s1", { readOnly: false });
    assert.ok(second.outcome === "ok");
    assert.deepEqual(await client.endRequest(second, { abandon: true }), { outcome: "removed" });
    assert.deepEqual(await client.get("app", "s1"), { outcome: "not-found" });
  });

  it("a read-only request takes no lock and cannot write", async () => {
    await client.set("app", "s1", "v1");
    const reader = await client.beginRequest("app", "s1", { readOnly: true });
    assert.ok(reader.outcome === "ok");
    assert.equal(reader.lockId, undefined);
    const writer = await client.beginRequest("app", "s1", { readOnly: false });
    assert.equal(writer.outcome, "ok", "readers never block a writer");
    await expectStatewardError(client.endRequest(reader, { data: "x" }), status.FAILED_PRECONDITION, "READ_ONLY_REQUEST");
    assert.deepEqual(await client.endRequest(reader), { outcome: "none" });
    if (writer.outcome === "ok") await client.endRequest(writer);
  });

  it("a reader waits for the writer's release and sees its write", async () => {
    await client.set("app", "s1", "v1");
    const writer = await client.beginRequest("app", "s1", { readOnly: false });
    assert.ok(writer.outcome === "ok");
    const reader = client.beginRequest("app", "s1", { readOnly: true, waitMs: 10_000 });
    await waitFor(async () => (await server.store.counts()).waiters === 1, "the reader to wait");
    await client.endRequest(writer, { data: "v2" });
    const read = await reader;
    assert.ok(read.outcome === "ok");
    assert.equal(read.data.toString(), "v2");
  });

  it("a new session: written only if nobody created it meanwhile", async () => {
    const request = await client.beginRequest("app", "fresh", { readOnly: false });
    assert.equal(request.outcome, "not-found");
    const twin = await client.beginRequest("app", "fresh", { readOnly: false });
    if (twin.outcome === "locked") return assert.fail("no lock on a missing session");
    assert.deepEqual(await client.endRequest(request, { data: "mine" }), { outcome: "written", version: 1n });
    await expectStatewardError(client.endRequest(twin, { data: "theirs" }), status.ABORTED, "SESSION_EXISTS");
    const read = await client.get("app", "fresh");
    assert.ok(read.outcome === "ok");
    assert.equal(read.data.toString(), "mine");
  });

  it("create: true serialises first requests on a new id", async () => {
    const first = await client.beginRequest("app", "fresh", { readOnly: false, create: true });
    assert.ok(first.outcome === "ok" && first.created);
    const second = await client.beginRequest("app", "fresh", { readOnly: false, create: true, waitMs: 50 });
    assert.equal(second.outcome, "locked");
    await client.endRequest(first, { data: "one" });
  });

  it("a writer whose wait runs out gets locked with the holder's id and age", async () => {
    await client.set("app", "s1", "v");
    const holder = await client.lock("app", "s1");
    assert.ok(holder.outcome === "ok");
    const late = await client.beginRequest("app", "s1", { readOnly: false, waitMs: 100 });
    assert.equal(late.outcome, "locked");
    if (late.outcome === "locked") assert.equal(late.lockId, holder.lockId);
  });

  it("forced release: a waiter force-releases a lock older than executionTimeout (ASP.NET's rule)", async () => {
    await client.set("app", "s1", "v");
    // A holder that never lets go, with a lease far longer than the executionTimeout.
    const holder = await client.lock("app", "s1", { leaseMs: 600_000 });
    assert.ok(holder.outcome === "ok");
    const started = Date.now();
    const request = await client.beginRequest("app", "s1", { readOnly: false, waitMs: 5_000, forcedRelease: { executionTimeoutMs: 200 } });
    assert.equal(request.outcome, "ok");
    if (request.outcome !== "ok") return;
    assert.ok(Date.now() - started >= 150, "waited until the holder passed executionTimeout");
    assert.ok(request.lockId !== undefined && request.lockId > holder.lockId);
    await expectStatewardError(client.set("app", "s1", "stale", { lockId: holder.lockId }), status.ABORTED);
    await client.endRequest(request, { data: "fresh" });
  });

  it("forced release also works for readers", async () => {
    await client.set("app", "s1", "v");
    const holder = await client.lock("app", "s1", { leaseMs: 600_000 });
    assert.ok(holder.outcome === "ok");
    const reader = await client.beginRequest("app", "s1", { readOnly: true, waitMs: 5_000, forcedRelease: { executionTimeoutMs: 100 } });
    assert.equal(reader.outcome, "ok");
  });
});
