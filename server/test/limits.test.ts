/** Rule 13: item size limit (INVALID_ARGUMENT naming the limit) and memory budget (RESOURCE_EXHAUSTED). */
import * as assert from "node:assert/strict";

import { receiveLimitBytes } from "../src/grpc/receive-limit";
import {
  Outcome,
  describeEachBackend,
  describeEachTransport,
  errorInfoOf,
  expectStatus,
  grpc,
  numberPattern,
  useFakeServer,
} from "./helpers/test-server";
import type { FakeTestServer } from "./helpers/test-server";

const MIB = 1024 * 1024;

function bytes(n: number, fill = 0x61): Buffer {
  return Buffer.alloc(n, fill);
}

/** Writes distinct sessions of `size` bytes until the budget refuses one; returns the ids written. */
async function fillBudget(t: FakeTestServer, size: number, max: number): Promise<{ written: string[]; refusedId: string }> {
  const written: string[] = [];
  for (let i = 0; i < max; i++) {
    const sessionId = `fill-${i}`;
    try {
      await t.call.set({ sessionId, data: bytes(size, 0x30 + (i % 10)) });
      written.push(sessionId);
    } catch (error) {
      await expectStatus(Promise.reject(error), grpc.status.RESOURCE_EXHAUSTED, {
        reason: "MEMORY_BUDGET",
        message: [numberPattern(65_536)],
      });
      return { written, refusedId: sessionId };
    }
  }
  assert.fail(`the memory budget never refused a write after ${max} writes of ${size} bytes`);
}

describeEachBackend("limits (rule 13)", () => {
  describe("--max-item-bytes 1024", () => {
    const t = useFakeServer(["--max-item-bytes", "1024"]);

    it("rule 13: an item of exactly --max-item-bytes is accepted and read back intact", async () => {
      const data = Buffer.from(Array.from({ length: 1024 }, (_v, i) => i % 256));
      assert.deepEqual(await t().call.set({ data }), { version: 1n, written: true });
      const got = await t().call.get();
      assert.deepEqual(got.data, data);
      const lock = await t().call.lock();
      assert.deepEqual(lock.data, data);
    });

    it("rule 13: an item of limit + 1 bytes is INVALID_ARGUMENT naming the limit, and the store is unchanged", async () => {
      await t().call.set({ data: "original" });
      const before = await t().counts();
      const expected = { reason: "ITEM_TOO_LARGE", message: [numberPattern(1024), /data|item|max-item-bytes/i] };
      for (const size of [1025, 2048, 60_000]) {
        await expectStatus(t().call.set({ data: bytes(size) }), grpc.status.INVALID_ARGUMENT, expected);
        await expectStatus(t().call.set({ sessionId: "new", data: bytes(size) }), grpc.status.INVALID_ARGUMENT, expected);
        await expectStatus(
          t().call.set({ sessionId: "new", data: bytes(size), onlyIfAbsent: true }),
          grpc.status.INVALID_ARGUMENT,
          expected,
        );
      }
      assert.deepEqual(await t().counts(), before);
      const got = await t().call.get();
      assert.equal(got.data.toString(), "original");
      assert.equal(got.version, 1n);
      assert.equal((await t().call.get({ sessionId: "new" })).outcome, Outcome.OUTCOME_NOT_FOUND);
    });

    it("rule 13: a too-large write under a lock changes nothing: the lock is still held, data and version kept", async () => {
      await t().call.set({ data: "original" });
      const lock = await t().call.lock();
      await expectStatus(t().call.set({ data: bytes(1025), lockId: lock.lockId }), grpc.status.INVALID_ARGUMENT, {
        reason: "ITEM_TOO_LARGE",
      });
      const get = await t().call.get();
      assert.equal(get.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(get.lockId, lock.lockId);
      assert.deepEqual(await t().call.set({ data: "fits", lockId: lock.lockId }), { version: 2n, written: true });
    });
  });

  describe("default --max-item-bytes (1 MiB)", () => {
    const t = useFakeServer();

    it("rule 13: 1 MiB is accepted; from 1 MiB + 1 byte up to the receive cap (8 MiB + 64 KiB) it is our INVALID_ARGUMENT naming 1048576, not a transport error", async () => {
      const exact = bytes(MIB, 0x7a);
      assert.deepEqual(await t().call.set({ data: exact }), { version: 1n, written: true });
      assert.deepEqual((await t().call.get()).data, exact);
      const before = await t().counts();
      // Just over the item limit; just over the old receive limit (item + 64 KiB, about 1.06 MiB,
      // which used to get grpc-js's reason-less RESOURCE_EXHAUSTED); just over grpc-js's default
      // 4 MiB; and within a few KiB of the receive cap (8 x 1 MiB + 64 KiB) with the request's
      // envelope: each reaches the store and is refused with the field, the limit and the size.
      const sizes = [MIB + 1, MIB + 16 * 1024, MIB + 64 * 1024 + 1, 4 * MIB + 1, receiveLimitBytes(MIB) - 4 * 1024];
      for (const size of sizes) {
        const error = await expectStatus(t().call.set({ data: bytes(size) }), grpc.status.INVALID_ARGUMENT, {
          reason: "ITEM_TOO_LARGE",
          message: [numberPattern(MIB), /max-item-bytes/],
        });
        assert.deepEqual(errorInfoOf(error)?.metadata, { field: "data", limit: String(MIB), size: String(size) }, `${size} bytes`);
      }
      assert.deepEqual(await t().counts(), before);
      const got = await t().call.get();
      assert.equal(got.version, 1n);
      assert.deepEqual(got.data, exact);
    });

    it("rule 13: above the receive cap grpc-js refuses the message unread (RESOURCE_EXHAUSTED naming the cap), as the README says", async () => {
      const cap = receiveLimitBytes(MIB);
      assert.equal(cap, 8 * MIB + 64 * 1024);
      await t().call.set({ data: "kept" });
      const tooLarge = t().call.set({ data: bytes(cap + 1) });
      if (t().transport === "unary") {
        await expectStatus(tooLarge, grpc.status.RESOURCE_EXHAUSTED, { message: [/larger than max/, new RegExp(`vs ${cap}\\b`)] });
      } else {
        // The stream itself is refused: its operations fail UNAVAILABLE, and the next one reopens it.
        await expectStatus(tooLarge, grpc.status.UNAVAILABLE, { message: [/larger than max/, new RegExp(`vs ${cap}\\b`)] });
      }
      assert.equal((await t().call.get()).data.toString(), "kept");
    });
  });
});

// --max-memory and --max-apps are options of the memory backend: these assert through the API only,
// so they run on every backend built on it (the memory backend, and the same behind a deferral).
// On Redis its own maxmemory is the budget (server/test/redis/redis-memory.test.ts), and apps cost
// nothing there, so there is no app limit.
describeEachBackend("limits: the memory backend's budget and app registry (rule 13)", () => {
  describe("--max-memory 65536", () => {
    const t = useFakeServer(["--max-memory", "65536", "--max-item-bytes", "16384"]);

    it("rule 13: after removing sessions, writes succeed again", async () => {
      const { written, refusedId } = await fillBudget(t(), 8000, 20);
      for (const sessionId of written.slice(0, 2)) {
        assert.equal((await t().call.remove({ sessionId })).removed, true);
      }
      assert.deepEqual(await t().call.set({ sessionId: refusedId, data: bytes(8000) }), { version: 1n, written: true });
      assert.equal((await t().call.get({ sessionId: refusedId })).outcome, Outcome.OUTCOME_OK);
    });

    it("rule 13: shrinking an existing session is allowed even when the budget is full", async () => {
      const { written } = await fillBudget(t(), 8000, 20);
      const sessionId = written[0] ?? "";
      assert.deepEqual(await t().call.set({ sessionId, data: "small" }), { version: 2n, written: true });
    });
  });

  describe("--max-apps 3 (audit defect 7)", () => {
    const t = useFakeServer(["--max-apps", "3"]);

    it("rule 13: an app whose sessions are gone is forgotten; the number of live apps is bounded", async () => {
      for (let cycle = 0; cycle < 20; cycle++) {
        const app = `app-${cycle}`;
        await t().call.set({ app, data: "v" });
        assert.equal((await t().call.remove({ app })).removed, true);
      }
      await t().call.set({ app: "a", data: "v" });
      await t().call.set({ app: "b", data: "v" });
      await t().call.set({ app: "c", data: "v" });
      await expectStatus(t().call.set({ app: "d", data: "v" }), grpc.status.RESOURCE_EXHAUSTED, {
        reason: "TOO_MANY_APPS",
        message: [/max-apps/, numberPattern(3)],
      });
      await expectStatus(t().call.lock({ app: "d", create: true }), grpc.status.RESOURCE_EXHAUSTED, { reason: "TOO_MANY_APPS" });
      // More sessions of a live app are fine, and a gone app frees its place.
      await t().call.set({ app: "a", sessionId: "s2", data: "v" });
      await t().call.remove({ app: "c" });
      await t().call.set({ app: "d", data: "v" });
      assert.equal((await t().call.get({ app: "d" })).outcome, Outcome.OUTCOME_OK);
      assert.equal((await t().call.get({ app: "c" })).outcome, Outcome.OUTCOME_NOT_FOUND);
    });
  });
}, ["memory", "deferred"]);

// Memory internals: the bytes the memory backend charges (stats()) and its active expiry sweep.
describeEachTransport("limits: the memory budget (rule 13) (memory backend)", () => {
  describe("--max-memory 65536", () => {
    const t = useFakeServer(["--max-memory", "65536", "--max-item-bytes", "16384"]);

    it("rule 13: a write that would pass the memory budget fails RESOURCE_EXHAUSTED and changes nothing", async () => {
      const { written, refusedId } = await fillBudget(t(), 8000, 20);
      assert.ok(written.length >= 2, `some writes fit (${written.length})`);
      const stats = t().memory().stats();
      assert.equal(stats.maxMemoryBytes, 65_536);
      assert.ok(stats.bytesUsed <= 65_536, `bytesUsed ${stats.bytesUsed} within the budget`);
      assert.equal(stats.sessions, written.length);
      assert.equal((await t().call.get({ sessionId: refusedId })).outcome, Outcome.OUTCOME_NOT_FOUND, "not created");

      // Growing an existing session past the budget: refused, old data and version kept.
      const victim = written[0] ?? "";
      const before = t().memory().stats();
      await expectStatus(t().call.set({ sessionId: victim, data: bytes(16_000) }), grpc.status.RESOURCE_EXHAUSTED, {
        reason: "MEMORY_BUDGET",
      });
      // Also under a lock: refused, and the lock is still held.
      const lock = await t().call.lock({ sessionId: victim });
      await expectStatus(
        t().call.set({ sessionId: victim, data: bytes(16_000), lockId: lock.lockId }),
        grpc.status.RESOURCE_EXHAUSTED,
        { reason: "MEMORY_BUDGET" },
      );
      const locked = await t().call.get({ sessionId: victim });
      assert.equal(locked.outcome, Outcome.OUTCOME_LOCKED);
      assert.equal(locked.lockId, lock.lockId);
      await t().call.release({ sessionId: victim, lockId: lock.lockId });
      const kept = await t().call.get({ sessionId: victim });
      assert.equal(kept.version, 1n);
      assert.deepEqual(kept.data, bytes(8000, 0x30));
      const after = t().memory().stats();
      assert.equal(after.bytesUsed, before.bytesUsed);
      assert.equal(after.sessions, before.sessions);
    });

    it("rule 13: expired sessions give their memory back to the budget (once the active expiry swept them)", async () => {
      const { written, refusedId } = await fillBudget(t(), 8000, 20);
      assert.ok(written.length > 0);
      // Past the 1200 s default ttl plus a couple of expiry cycles; no call touches the sessions.
      t().clock.advance(1_200_000 + 2_000);
      assert.equal(t().memory().stats().sessions, 0, "swept by the active expiry cycle");
      assert.equal(t().memory().stats().bytesUsed, 0);
      assert.deepEqual(await t().call.set({ sessionId: refusedId, data: bytes(8000) }), { version: 1n, written: true });
    });
  });
});

// Memory internals: the memory backend's budget, its reclaiming and its expiry cycle (runDueWork).
describeEachTransport("memory held by expired sessions (audit decision) (memory backend)", () => {
  const t = useFakeServer(["--max-memory", "64KiB", "--max-item-bytes", "4KiB", "--expiry-interval-ms", "60000"]);

  it("rule 13: a write is never refused for memory held by sessions that have already expired", async () => {
    const { written } = await fillBudget(t(), 4000, 64);
    assert.ok(written.length > 4);
    // Every session's deadline passes, but the expiry cycle (every 60 s) has not run yet.
    for (const sessionId of written) await t().call.expire({ sessionId, ttlSeconds: 1 });
    t().clock.advance(1500);
    assert.equal(t().memory().stats().sessions, written.length, "nothing swept yet");
    assert.deepEqual(await t().call.set({ sessionId: "new", data: bytes(4000) }), { version: 1n, written: true });
    // As much as the write needed was reclaimed at once; the expiry cycle takes the rest later.
    assert.ok(t().memory().stats().sessions <= written.length, "expired sessions were reclaimed first");
    t().clock.advance(60_000);
    t().memory().runDueWork();
    assert.equal(t().memory().stats().sessions, 1);
  });
});

