/**
 * The memory backend with --data-dir across restarts (in-process servers, graceful and not): what
 * survives, lock ids, versions, and expiry on a fake clock.
 */
import * as assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FakeClock } from "../../src/store/fake-clock";
import { Outcome, getReq, lockReq, releaseReq, removeReq, setReq, startTestServer, type TestServer } from "../helpers/test-server";

describe("durability: restart (--data-dir)", () => {
  let dir: string;
  const servers: TestServer[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "stateward-durable-"));
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const start = async (flags: string[] = [], clock?: FakeClock): Promise<TestServer> => {
    const server = await startTestServer(["--data-dir", dir, ...flags], clock === undefined ? {} : { clock });
    servers.push(server);
    return server;
  };

  for (const fsync of ["always", "everysec", "no"]) {
    it(`keeps data, versions, locks and lock-id order across a restart (--fsync ${fsync})`, async () => {
      const a = await start(["--fsync", fsync]);
      await a.call.set(setReq({ sessionId: "plain", data: "v1" }));
      await a.call.set(setReq({ sessionId: "plain", data: "v2" }));
      const locked = await a.call.lock(lockReq({ sessionId: "held", create: true, leaseMs: 60_000 }));
      assert.equal(locked.outcome, Outcome.OUTCOME_OK);
      await a.call.set(setReq({ sessionId: "gone", data: "x" }));
      await a.call.remove(removeReq({ sessionId: "gone" }));
      const released = await a.call.lock(lockReq({ sessionId: "plain", leaseMs: 60_000 }));
      await a.call.release(releaseReq({ sessionId: "plain", lockId: released.lockId }));
      await a.close();
      servers.length = 0;

      const b = await start(["--fsync", fsync]);
      const plain = await b.call.get(getReq({ sessionId: "plain" }));
      assert.equal(plain.outcome, Outcome.OUTCOME_OK);
      assert.equal(Buffer.from(plain.data).toString(), "v2");
      assert.equal(plain.version, 2n);
      assert.equal((await b.call.get(getReq({ sessionId: "gone" }))).outcome, Outcome.OUTCOME_NOT_FOUND);
      const held = await b.call.get(getReq({ sessionId: "held" }));
      assert.equal(held.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(held.lockId, locked.lockId);
      // The holder from before the restart may still write with its lock id.
      const written = await b.call.set(setReq({ sessionId: "held", data: "after", lockId: locked.lockId }));
      assert.equal(written.version, 2n);
      const next = await b.call.lock(lockReq({ sessionId: "held", leaseMs: 1000 }));
      assert.ok(next.lockId > released.lockId, `lock id ${next.lockId} after the restart must exceed ${released.lockId}`);
    });
  }

  it("a session whose deadline passed while the server was down is gone; a live one keeps its deadline (fake clock)", async () => {
    const clock = new FakeClock(1_800_000_000_000);
    const a = await start([], clock);
    await a.call.set(setReq({ sessionId: "short", data: "s", ttlSeconds: 60 }));
    await a.call.set(setReq({ sessionId: "long", data: "l", ttlSeconds: 600 }));
    await a.close();
    servers.length = 0;
    clock.advance(120_000);
    const b = await start([], clock);
    assert.equal((await b.call.get(getReq({ sessionId: "short" }))).outcome, Outcome.OUTCOME_NOT_FOUND);
    assert.equal((await b.call.get(getReq({ sessionId: "long" }))).outcome, Outcome.OUTCOME_OK);
    assert.equal((await b.counts()).sessions, 1);
  });

  it("lock ids after a restart exceed every id before it even when the clock went back (the log's watermark, not the clock, fences)", async () => {
    const a = await start([], new FakeClock(1_800_000_000_000));
    let last = 0n;
    for (let i = 0; i < 5; i++) {
      const locked = await a.call.lock(lockReq({ sessionId: `k${i}`, create: true, leaseMs: 60_000 }));
      await a.call.release(releaseReq({ sessionId: `k${i}`, lockId: locked.lockId }));
      last = BigInt(locked.lockId);
    }
    await a.close();
    servers.length = 0;
    // A clock an hour behind would seed lower ids than those already issued.
    const b = await start([], new FakeClock(1_800_000_000_000 - 3_600_000));
    const next = await b.call.lock(lockReq({ sessionId: "k0", leaseMs: 1000 }));
    assert.ok(BigInt(next.lockId) > last, `lock id ${next.lockId} after the restart must exceed ${last}`);
  });
});
