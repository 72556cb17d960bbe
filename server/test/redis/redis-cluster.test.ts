/**
 * Stateward over a three-master Redis Cluster (`--redis-cluster <seeds>`): the contended counter
 * over two nodes, and a session in use while its slot moves to another master, where Redis answers
 * -MOVED, -ASK and -TRYAGAIN: none of them may become a failed call or a half-done operation.
 */
import * as assert from "node:assert/strict";

import { startRedisCluster, type RedisCluster } from "../helpers/redis-server";
import { Outcome } from "../helpers/test-server";
import { assertSerialised, counterOf, incrementsOverNodes, lockedIncrements, type Grant } from "./locked-increments";
import { sessionHashTag, uniquePrefix, useNodes, type StatewardNode } from "./stateward-nodes";

describe("Redis backend: a three-master Redis Cluster", function () {
  this.timeout(90_000);
  let cluster: RedisCluster | undefined;
  const nodeSet = useNodes();

  before(async function () {
    this.timeout(60_000);
    cluster = await startRedisCluster(3);
  });
  after(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  async function nodes(count: number): Promise<StatewardNode[]> {
    assert.ok(cluster, "the cluster is running");
    return nodeSet().start(count, { seeds: cluster.seeds, prefix: uniquePrefix() });
  }

  it("32 clients over 2 nodes, 100 locked increments each, end exactly at 3,200 with increasing lock ids", async () => {
    await incrementsOverNodes(await nodes(2), 32, 100, 4);
  });

  it("a session in use while its slot moves to another master, then to the third: no call fails, the count is exact", async () => {
    assert.ok(cluster);
    const c = cluster;
    const all = await nodes(2);
    const [a, b] = all;
    assert.ok(a && b);
    const sessionId = "moving";
    await a.call.set({ sessionId, data: "0" });
    // Another session (another slot), written between the batches of the move.
    const neighbour = `${sessionId}-neighbour`;
    const tag = sessionHashTag(sessionId);
    const slot = await c.slotOf(tag);
    const from = await c.ownerOf(slot);
    // Other keys in the same slot (outside Stateward's prefix), so that the move takes several
    // batches and the session's hash is migrated somewhere in the middle: increments run while the
    // slot is half moved both before and after it.
    for (let i = 0; i < 6; i++) assert.equal(await from.cli("SET", `pad:${tag}:${i}`, "x"), "OK");
    const others = c.nodes.filter((n) => n !== from);
    const [to, third] = others;
    assert.ok(to && third);

    let moving = true;
    // Increments go on through both nodes, unary and pipelined, until both moves are done.
    const loops = [a.newCalls(), b.newPipelineCalls(), b.newCalls(), a.newPipelineCalls()].map(async (calls) => {
      const grants: Grant[] = [];
      while (moving) grants.push(...(await lockedIncrements(calls, sessionId, 1)));
      // And a few after, on the slot's new owner.
      grants.push(...(await lockedIncrements(calls, sessionId, 5)));
      return grants;
    });
    const extra: Grant[] = [];
    let betweenBatches = 0;
    // Between the batches of keys the slot is half moved (MIGRATING / IMPORTING): act right then.
    const act = async (): Promise<void> => {
      betweenBatches += 1;
      extra.push(...(await lockedIncrements(a.newCalls(), sessionId, 1)));
      await b.call.set({ sessionId: neighbour, data: String(betweenBatches) });
      assert.equal((await a.call.get({ sessionId: neighbour })).data.toString(), String(betweenBatches));
    };
    let grants: Grant[];
    try {
      await c.moveSlot(slot, to, act);
      assert.equal(await c.ownerOf(slot), to, "the slot moved");
      await c.moveSlot(slot, third, act);
      assert.equal(await c.ownerOf(slot), third, "the slot moved again");
    } finally {
      moving = false;
      grants = (await Promise.all(loops)).flat();
    }
    grants.push(...extra);
    assert.ok(betweenBatches >= 14, `acted between batches ${betweenBatches} times (7 keys, two moves)`);
    const read = await b.call.get({ sessionId });
    assert.equal(read.outcome, Outcome.OUTCOME_OK);
    assert.equal(counterOf(read.data), grants.length, "every acknowledged increment, and nothing else");
    assertSerialised(grants, grants.length);
  });
});
