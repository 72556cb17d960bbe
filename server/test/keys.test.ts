/** Rule 1: keys are (app, session_id), with byte-length and charset limits. */
import * as assert from "node:assert/strict";

import { Outcome, describeEachBackend, expectStatus, fieldPattern, grpc, numberPattern, useFakeServer } from "./helpers/test-server";
import type { TestServer } from "./helpers/test-server";

/** Every visible ASCII character, 0x21-0x7E (94 characters). */
const VISIBLE_ASCII = Array.from({ length: 0x7e - 0x21 + 1 }, (_v, i) => String.fromCharCode(0x21 + i)).join("");

interface BadKey {
  readonly name: string;
  readonly app: string;
  readonly sessionId: string;
  readonly field: "app" | "session_id";
  readonly limit?: number;
}

const BAD_KEYS: readonly BadKey[] = [
  { name: "129-byte app", app: "a".repeat(129), sessionId: "s1", field: "app", limit: 128 },
  { name: "257-byte session id", app: "app", sessionId: "s".repeat(257), field: "session_id", limit: 256 },
  { name: "empty session id", app: "app", sessionId: "", field: "session_id" },
  { name: "space in session id", app: "app", sessionId: "a b", field: "session_id" },
  { name: "space in app", app: "my app", sessionId: "s1", field: "app" },
  { name: "non-ASCII session id", app: "app", sessionId: "caf\u00e9", field: "session_id" },
  { name: "non-ASCII app", app: "\u00e9t\u00e9", sessionId: "s1", field: "app" },
  { name: "DEL (0x7F) in session id", app: "app", sessionId: "s\u007f1", field: "session_id" },
  { name: "tab in session id", app: "app", sessionId: "s\t1", field: "session_id" },
  { name: "NUL in app", app: "a\u0000", sessionId: "s1", field: "app" },
  // 128 bytes but not ASCII: the charset rule holds even within the length limit.
  { name: "128-byte non-ASCII session id", app: "app", sessionId: "\u00e9".repeat(64), field: "session_id" },
];

/** Runs every one of the six methods on `key`; each must fail INVALID_ARGUMENT naming the field. */
async function expectAllMethodsRefuse(t: TestServer, key: BadKey): Promise<void> {
  const k = { app: key.app, sessionId: key.sessionId };
  const message = [fieldPattern(key.field)];
  if (key.limit !== undefined) message.push(numberPattern(key.limit));
  const expected = { reason: "INVALID_FIELD", message };
  await expectStatus(t.call.get({ ...k, waitMs: 1000 }), grpc.status.INVALID_ARGUMENT, expected);
  await expectStatus(t.call.lock({ ...k, create: true }), grpc.status.INVALID_ARGUMENT, expected);
  await expectStatus(t.call.set({ ...k, data: "x" }), grpc.status.INVALID_ARGUMENT, expected);
  await expectStatus(t.call.set({ ...k, data: "x", onlyIfAbsent: true }), grpc.status.INVALID_ARGUMENT, expected);
  await expectStatus(t.call.release({ ...k, lockId: 1n }), grpc.status.INVALID_ARGUMENT, expected);
  await expectStatus(t.call.expire({ ...k, ttlSeconds: 60 }), grpc.status.INVALID_ARGUMENT, expected);
  await expectStatus(t.call.remove(k), grpc.status.INVALID_ARGUMENT, expected);
}

describeEachBackend("keys (rule 1)", () => {
  const t = useFakeServer();

  it("rule 1: app of 0 and 128 bytes, session id of 1 and 256 bytes, all visible ASCII are valid keys", async () => {
    const keys = [
      { app: "", sessionId: "x" },
      { app: "a".repeat(128), sessionId: "s".repeat(256) },
      { app: VISIBLE_ASCII.slice(0, 94), sessionId: VISIBLE_ASCII },
      { app: "!", sessionId: "~" },
    ];
    for (const [i, key] of keys.entries()) {
      const set = await t().call.set({ ...key, data: `data-${i}` });
      assert.equal(set.written, true);
      assert.equal(set.version, 1n);
    }
    assert.equal((await t().counts()).sessions, keys.length);
    for (const [i, key] of keys.entries()) {
      const got = await t().call.get(key);
      assert.equal(got.outcome, Outcome.OUTCOME_OK);
      assert.equal(got.data.toString(), `data-${i}`);
      const locked = await t().call.lock(key);
      assert.equal(locked.outcome, Outcome.OUTCOME_OK);
      assert.equal((await t().call.release({ ...key, lockId: locked.lockId })).released, true);
      assert.equal((await t().call.expire(key)).found, true);
      assert.equal((await t().call.remove(key)).removed, true);
    }
    assert.equal((await t().counts()).sessions, 0);
  });

  it("rule 1: the same session id under two apps is two sessions", async () => {
    const a = { app: "shop", sessionId: "same-id" };
    const b = { app: "blog", sessionId: "same-id" };
    const empty = { app: "", sessionId: "same-id" };
    await t().call.set({ ...a, data: "from shop" });
    await t().call.set({ ...b, data: "from blog" });
    assert.equal((await t().call.get(empty)).outcome, Outcome.OUTCOME_NOT_FOUND, "the empty app is a third app");
    assert.equal((await t().counts()).sessions, 2);
    assert.equal((await t().call.get(a)).data.toString(), "from shop");
    assert.equal((await t().call.get(b)).data.toString(), "from blog");

    // A lock on one does not lock the other.
    const lockA = await t().call.lock(a);
    assert.equal(lockA.outcome, Outcome.OUTCOME_OK);
    const getB = await t().call.get(b);
    assert.equal(getB.outcome, Outcome.OUTCOME_OK);
    const lockB = await t().call.lock(b);
    assert.equal(lockB.outcome, Outcome.OUTCOME_OK);
    // Writing one leaves the other's data and version alone.
    await t().call.set({ ...a, data: "shop v2", lockId: lockA.lockId });
    const afterB = await t().call.get(b);
    assert.equal(afterB.outcome, Outcome.OUTCOME_LOCKED);
    assert.equal(afterB.lockId, lockB.lockId);
    await t().call.release({ ...b, lockId: lockB.lockId });
    assert.equal((await t().call.get(b)).version, 1n);
    // Removing one leaves the other.
    assert.equal((await t().call.remove(a)).removed, true);
    assert.equal((await t().call.get(a)).outcome, Outcome.OUTCOME_NOT_FOUND);
    const stillB = await t().call.get(b);
    assert.equal(stillB.outcome, Outcome.OUTCOME_OK);
    assert.equal(stillB.data.toString(), "from blog");
  });

  for (const key of BAD_KEYS) {
    it(`rule 1: ${key.name} is INVALID_ARGUMENT naming ${key.field} on every method, and nothing is stored`, async () => {
      const existing = await t().call.set({ data: "keep me" });
      const before = await t().counts();
      await expectAllMethodsRefuse(t(), key);
      assert.deepEqual(await t().counts(), before, "backend counts unchanged");
      const got = await t().call.get();
      assert.equal(got.outcome, Outcome.OUTCOME_OK);
      assert.equal(got.data.toString(), "keep me");
      assert.equal(got.version, existing.version);
    });
  }
});
