/**
 * The classic critical section over many nodes: Lock (waiting), read the data as a counter, Set it
 * one higher with the lock id (which releases the lock). Any lost update, double grant or lock id
 * that does not increase shows in what the clients recorded.
 */
import * as assert from "node:assert/strict";

import { Outcome, type Calls } from "../helpers/test-server";
import type { StatewardNode } from "./stateward-nodes";

/** One critical section: the counter a client read under its lock, and that lock's id. */
export interface Grant {
  readonly read: number;
  readonly lockId: bigint;
}

/** How long a Lock may wait in the session's queue (well above what 32 contending clients need). */
const LOCK_WAIT_MS = 30_000;

/** Parses the counter a session holds (written by {@link lockedIncrements}). */
export function counterOf(data: Uint8Array): number {
  const text = Buffer.from(data).toString("utf8");
  assert.match(text, /^\d+$/, "the session holds a counter");
  return Number(text);
}

/** `count` locked increments of `sessionId` through `calls`, one after the other. */
export async function lockedIncrements(calls: Calls, sessionId: string, count: number, between?: () => Promise<void>): Promise<Grant[]> {
  const grants: Grant[] = [];
  for (let i = 0; i < count; i++) {
    const locked = await calls.lock({ sessionId, waitMs: LOCK_WAIT_MS });
    assert.equal(locked.outcome, Outcome.OUTCOME_OK, `Lock was answered ${Outcome[locked.outcome]} after waiting`);
    const read = counterOf(locked.data);
    const written = await calls.set({ sessionId, data: String(read + 1), lockId: locked.lockId });
    assert.equal(written.written, true);
    grants.push({ read, lockId: locked.lockId });
    if (between) await between();
  }
  return grants;
}

/**
 * Checks the grants of every client against the final counter `total`: each value 0 .. total-1
 * was read exactly once (no lost update, no double grant), and lock ids increase with the counter
 * (fencing holds across nodes).
 */
export function assertSerialised(grants: readonly Grant[], total: number): void {
  assert.equal(grants.length, total, "every increment was acknowledged");
  const byRead = [...grants].sort((a, b) => a.read - b.read);
  for (let i = 0; i < byRead.length; i++) {
    const grant = byRead[i];
    assert.ok(grant !== undefined);
    assert.equal(grant.read, i, `counter value ${i} was read exactly once under a lock`);
    const previous = byRead[i - 1];
    if (previous !== undefined) assert.ok(grant.lockId > previous.lockId, `lock ids increase: ${previous.lockId} then ${grant.lockId}`);
  }
}

/**
 * The shared scenario: `clients` clients spread over `nodes` (unary and Pipeline alternating by
 * `unaryEvery`: the first half of each group of that many calls unary), each making `each` locked increments of one counter; every node then reads
 * the exact total, and the grants were serialised.
 */
export async function incrementsOverNodes(nodes: readonly StatewardNode[], clients: number, each: number, unaryEvery = 2): Promise<void> {
  const [first] = nodes;
  assert.ok(first);
  await first.call.set({ sessionId: "counter", data: "0" });
  const calls = Array.from({ length: clients }, (_, i) => {
    const node = nodes[i % nodes.length];
    assert.ok(node);
    return i % unaryEvery < unaryEvery / 2 ? node.newCalls() : node.newPipelineCalls();
  });
  const grants: Grant[] = (await Promise.all(calls.map((c) => lockedIncrements(c, "counter", each)))).flat();
  const total = clients * each;
  for (const node of nodes) {
    const read = await node.call.get({ sessionId: "counter" });
    assert.equal(read.outcome, Outcome.OUTCOME_OK);
    assert.equal(counterOf(read.data), total, `${node.name} reads ${total}`);
  }
  assertSerialised(grants, total);
}
