/**
 * The requests of each workload, built over the channels of one thread. The mix follows an ASP.NET
 * page: a read-only page does one Get; a page that writes session state does Lock (GetItemExclusive),
 * runs (think time), then Set with release (SetAndReleaseItemExclusive).
 */
import type { Clock } from "./clock";
import type { EchoOps } from "./echo-ops";
import type { RequestFn } from "./load-driver";
import { PayloadSource } from "./payloads";
import type { SessionOps } from "./session-ops";
import type { WorkSpec } from "./work-spec";

/** The channels a workload's requests use. */
export type Channels = { readonly kind: "session"; readonly ops: readonly SessionOps[] } | { readonly kind: "echo"; readonly ops: readonly EchoOps[] };

function pick<T>(items: readonly T[], index: number): T {
  const item = items[index % items.length];
  if (item === undefined) throw new Error("no channel");
  return item;
}

/** Builds the request function of `spec.workload` over `channels`. */
export function buildRequest(spec: WorkSpec, channels: Channels, clock: Clock): RequestFn {
  const payloads = new PayloadSource(spec.payload);
  const sessionId = (n: number): string => `${spec.pool.prefix}${n}`;
  const randomSession = (): string => sessionId(Math.floor(Math.random() * spec.pool.size));
  if (channels.kind === "echo") {
    return async (index) => {
      await pick(channels.ops, index).echo(payloads.next());
    };
  }
  const ops = channels.ops;
  const lockSet = async (channel: SessionOps, id: string) => {
    const lock = await channel.lock(id, { waitMs: 0, leaseMs: spec.leaseMs, create: true });
    if (lock.outcome !== "OK") return { outcome: lock.outcome, excludedMs: 0 };
    let excludedMs = 0;
    if (spec.thinkMs > 0) {
      const before = clock.now();
      await clock.sleep(spec.thinkMs);
      excludedMs = clock.now() - before;
    }
    await channel.set(id, payloads.next(), lock.token);
    return { outcome: "OK", excludedMs };
  };
  switch (spec.workload) {
    case "get":
      return async (index) => ({ outcome: await pick(ops, index).get(randomSession()) });
    case "set":
      // An unlocked write of a random session: the write path without the lock table.
      return async (index) => {
        await pick(ops, index).set(randomSession(), payloads.next());
      };
    case "lock-set":
      return (index) => lockSet(pick(ops, index), randomSession());
    case "mixed":
      return async (index) => {
        const channel = pick(ops, index);
        if (Math.random() < spec.writeRatio) {
          const result = await lockSet(channel, randomSession());
          return { ...result, outcome: `write ${result.outcome}` };
        }
        return { outcome: `read ${await channel.get(randomSession())}` };
      };
    case "preload":
      return async (index) => {
        await pick(ops, index).set(sessionId(spec.preloadFrom + index), payloads.next());
      };
    case "echo":
      throw new Error("echo needs an echo target");
  }
}
