/**
 * Measures how often a Lock with a short deadline is granted on the server but answered too late
 * for its caller (the client sees DEADLINE_EXCEEDED while the server holds the lock for it: a lock
 * held by nobody until its lease ends). A server process (the `stateward` command) and this client
 * process, on 127.0.0.1; for each trial a holder takes a session's lock, a waiter asks for it with
 * a deadline of D ms, and the holder releases at a random moment in the last half of D, so that
 * grants land near the deadline.
 *
 *   node -r tsx/cjs server/tools/measure-deadline-orphans.ts [trials at 20 ms=3000] [at 100 ms=1000] [at 1 s=300]
 *
 * Prints one line per deadline: trials, granted in time, answered LOCKED, DEADLINE_EXCEEDED, and
 * orphans (a DEADLINE_EXCEEDED whose session was still locked by a lock nobody got).
 */
import { credentials } from "@grpc/grpc-js";
import { SessionStateClient } from "../../client/ts/src";
import { measureDeadlineOrphans } from "../test/fault/deadline-orphans";
import { startServerProcess } from "../test/fault/server-process";

async function main(): Promise<void> {
  const plan: [number, number][] = [
    [20, Number(process.argv[2] ?? 3000)],
    [100, Number(process.argv[3] ?? 1000)],
    [1000, Number(process.argv[4] ?? 300)],
  ];
  const server = await startServerProcess([]);
  const client = new SessionStateClient(server.address, credentials.createInsecure());
  try {
    for (const [deadlineMs, trials] of plan) {
      const c = await measureDeadlineOrphans(client, deadlineMs, trials);
      const rate = c.orphans / c.trials;
      console.log(
        `deadline ${deadlineMs} ms: ${c.trials} trials, ${c.granted} granted in time, ${c.locked} LOCKED, ${c.deadlineExceeded} DEADLINE_EXCEEDED, ${c.orphans} orphans (${(rate * 1000).toFixed(2)} per 1,000)`,
      );
    }
  } finally {
    client.close();
    await server.stop();
  }
}

void main();
