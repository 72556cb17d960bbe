/**
 * Lock calls with short deadlines whose grants land near the deadline: how many are granted on the
 * server but answered too late for their caller (a lock held by nobody until its lease ends).
 * Shared by the regression test (server/test/deadline-orphans.test.ts) and the measuring tool
 * (server/tools/measure-deadline-orphans.ts).
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { Outcome, type SessionStateClient } from "../../../client/ts/src";
import { callsFor, type Calls } from "../helpers/test-server";

/** What happened to the waiters of a run. */
export interface OrphanCounts {
  /** Trials run. */
  trials: number;
  /** The waiter got the lock in time (and released it). */
  granted: number;
  /** The waiter was answered OUTCOME_LOCKED in time. */
  locked: number;
  /** The waiter got DEADLINE_EXCEEDED and no lock was left behind. */
  deadlineExceeded: number;
  /** The waiter got DEADLINE_EXCEEDED but the server had granted it the lock. */
  orphans: number;
}

/**
 * One trial: a holder takes the session's lock, a waiter asks for it with a deadline of
 * `deadlineMs`, and the holder releases at a random moment in the second half of that deadline.
 */
async function trial(call: Calls, app: string, sessionId: string, deadlineMs: number): Promise<keyof Omit<OrphanCounts, "trials">> {
  await call.set({ app, sessionId, data: "x" });
  const holder = await call.lock({ app, sessionId, leaseMs: 60_000 });
  const releaseAfter = deadlineMs * (0.5 + Math.random() * 0.5);
  const waiter = call.lock({ app, sessionId, waitMs: 60_000, leaseMs: 60_000 }, { deadlineMs });
  const released = new Promise<void>((resolve) =>
    setTimeout(() => {
      call.release({ app, sessionId, lockId: holder.lockId }).then(
        () => resolve(),
        () => resolve(),
      );
    }, releaseAfter),
  );
  try {
    const granted = await waiter;
    await released;
    if (granted.outcome === Outcome.OUTCOME_OK) {
      await call.release({ app, sessionId, lockId: granted.lockId });
      return "granted";
    }
    return "locked";
  } catch (error) {
    if ((error as ServiceError).code !== status.DEADLINE_EXCEEDED) throw error;
    // Let the holder's release (and any grant it caused) land, then look.
    await released;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const state = await call.get({ app, sessionId });
    return state.outcome === Outcome.OUTCOME_LOCKED && state.lockId !== holder.lockId ? "orphans" : "deadlineExceeded";
  }
}

/** Runs `trials` trials with `deadlineMs`, 16 at a time, each on its own session. */
export async function measureDeadlineOrphans(client: SessionStateClient, deadlineMs: number, trials: number): Promise<OrphanCounts> {
  const counts: OrphanCounts = { trials, granted: 0, locked: 0, deadlineExceeded: 0, orphans: 0 };
  const call = callsFor(client);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < trials) {
        const n = next++;
        counts[await trial(call, "orphans", `d${deadlineMs}-${n}`, deadlineMs)]++;
      }
    }),
  );
  return counts;
}
