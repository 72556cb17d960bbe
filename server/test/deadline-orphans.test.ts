/**
 * Short deadlines (audit decision): a lock granted too close to the caller's deadline to reach it
 * would be held by nobody for its whole lease. The server grants no lock within its margin of the
 * deadline, so such orphans stay a wire-level rarity (server/tools/measure-deadline-orphans.ts
 * measures the rates; README, "Deadlines").
 */
import * as assert from "node:assert/strict";
import { credentials } from "@grpc/grpc-js";
import { SessionStateClient } from "../../client/ts/src";
import { measureDeadlineOrphans } from "./fault/deadline-orphans";
import { startServerProcess } from "./fault/server-process";
import { deadlineMarginMs, waitWithinDeadline } from "../src/grpc/deadline";
import { Outcome, expectStatus, grpc, useServer } from "./helpers/test-server";

describe("short deadlines (rule 7)", function () {
  this.timeout(60_000);
  const t = useServer();

  it("rule 7: Lock calls with a 20 ms deadline whose grant lands near it leave (almost) no orphaned lock", async () => {
    // A server process of its own, as deployed: in one process the client's own work would delay
    // the answers it waits for.
    const server = await startServerProcess([]);
    const client = new SessionStateClient(server.address, credentials.createInsecure());
    let counts;
    try {
      counts = await measureDeadlineOrphans(client, 20, 300);
    } finally {
      client.close();
      await server.stop();
    }
    // Without the margin 10-50 % of these were granted too late (29 of 60 in the audit). With it the
    // rate is about 1 in 1,000 on an idle machine (the tool measures it); the bound leaves room for
    // a machine busy with other work, where a process stall can outlast a 20 ms deadline.
    assert.ok(counts.orphans <= 6, `orphans: ${JSON.stringify(counts)}`);
    assert.ok(counts.granted + counts.locked > counts.trials / 2, `most are answered in time: ${JSON.stringify(counts)}`);
  });

  it("rule 7: a Lock whose deadline is already within the margin is refused and changes nothing", async () => {
    await t().call.set({ data: "v" });
    await expectStatus(t().call.lock({}, { deadlineMs: 3 }), grpc.status.DEADLINE_EXCEEDED, {});
    assert.equal((await t().call.get()).outcome, Outcome.OUTCOME_OK, "the session is not locked");
  });

  it("keeps a margin of a quarter of the deadline, from 8 ms to 50 ms", () => {
    assert.equal(deadlineMarginMs(20), 8);
    assert.equal(deadlineMarginMs(100), 25);
    assert.equal(deadlineMarginMs(1000), 50);
    assert.equal(waitWithinDeadline(60_000, 1_000 + 100, 1_000), 75);
    assert.equal(waitWithinDeadline(10, Infinity, 1_000), 10);
    assert.equal(waitWithinDeadline(10, 900, 1_000), 0);
  });
});
