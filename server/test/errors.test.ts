/** Rule 14: unknown failures answer INTERNAL with a generic message (cause logged); NOT_FOUND is an outcome. */
import * as assert from "node:assert/strict";
import { Writable } from "node:stream";

import { createLogger } from "../src/index";
import { FakeClock } from "../src/store/fake-clock";
import {
  FAKE_START_MS,
  Outcome,
  expectStatus,
  grpc,
  reasonOf,
  useFakeServer,
  useServer,
  waitForWaiters, describeEachTransport
} from "./helpers/test-server";

const SECRET_ID = "secret-session-id-0123456789";
const CAUSE = "kaboom: disk on fire at /var/internal/path";

describeEachTransport("errors (rule 14)", () => {
  describe("unknown failures", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        lines.push(...String(chunk).split("\n").filter((l) => l.length > 0));
        done();
      },
    });
    const t = useServer([], () => ({ clock: new FakeClock(FAKE_START_MS), logger: createLogger("info", sink) }));
    beforeEach(() => {
      lines.length = 0;
    });

    const methods = ["get", "lock", "set", "release", "expire", "remove"] as const;
    for (const method of methods) {
      it(`rule 14: an unexpected failure in ${method} answers INTERNAL with a generic message; the cause is logged`, async () => {
        const store = t().server.store as unknown as Record<string, unknown>;
        store[method] = () => {
          throw new Error(CAUSE);
        };
        try {
          const key = { sessionId: SECRET_ID };
          const call =
            method === "get"
              ? t().call.get(key)
              : method === "lock"
                ? t().call.lock(key)
                : method === "set"
                  ? t().call.set({ ...key, data: "payload-data-xyz" })
                  : method === "release"
                    ? t().call.release(key)
                    : method === "expire"
                      ? t().call.expire(key)
                      : t().call.remove(key);
          const error = await expectStatus(call, grpc.status.INTERNAL);
          assert.doesNotMatch(error.details, /kaboom|disk|\/var/, "no internal detail reaches the caller");
          assert.ok(!error.details.includes(SECRET_ID));
          assert.equal(reasonOf(error), undefined, "no store reason on an internal failure");
        } finally {
          delete store[method];
        }
        const log = lines.join("\n");
        assert.match(log, /kaboom: disk on fire/, "the cause is logged");
        assert.ok(!log.includes(SECRET_ID), "the session id is never logged");
        assert.ok(!log.includes("payload-data-xyz"), "session data is never logged");
        // The server keeps working afterwards.
        assert.deepEqual(await t().call.set({ data: "ok" }), { version: 1n, written: true });
      });
    }
  });

  describe("NOT_FOUND", () => {
    const t = useFakeServer();

    it("rule 14: NOT_FOUND is an outcome, never an error status, on Get and Lock (with and without wait)", async () => {
      for (const waitMs of [0, 5000]) {
        const get = await t().call.get({ sessionId: "missing", waitMs });
        assert.equal(get.outcome, Outcome.OUTCOME_NOT_FOUND);
        const lock = await t().call.lock({ sessionId: "missing", waitMs, leaseMs: 1000 });
        assert.equal(lock.outcome, Outcome.OUTCOME_NOT_FOUND);
      }
      // Also when a waiter's session disappears.
      await t().call.set({ data: "x" });
      const holder = await t().call.lock();
      const waiter = t().start.lock({ waitMs: 60_000 });
      await waitForWaiters(t(), 1);
      await t().call.remove({ lockId: holder.lockId });
      assert.equal((await waiter.response).outcome, Outcome.OUTCOME_NOT_FOUND);
    });
  });
});
