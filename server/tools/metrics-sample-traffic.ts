/**
 * A little of every kind of traffic, so that a scrape afterwards has series of every metric family
 * with their usual labels: hits and misses, writes and refused writes, a queued Get that gets the
 * lock and one that times out, a refusal by --max-waiters, an invalid request, pipelined
 * operations, a Watch stream with a removal event, log syncs and a snapshot. Used by
 * `make test-metrics-lint` (through scrape-metrics.ts) and by server/test/observability-assets.test.ts.
 *
 * The server must run with {@link sampleTrafficServerFlags} for the rejection and the persistence
 * series to happen (the other steps work with any configuration).
 */
import { Metadata, credentials, type ServiceError } from "@grpc/grpc-js";
import {
  ExpireRequest,
  GetRequest,
  LockRequest,
  PipelineClient,
  ReleaseRequest,
  RemoveRequest,
  SessionStateClient,
  SetRequest,
  watchSessionEvents,
} from "../../client/ts/src";

/**
 * Flags the traffic expects of the server: --max-waiters 1 for a refusal, and a data directory
 * (`dataDir`, an empty directory the caller removes) with small snapshot thresholds, so that the
 * persistence metrics have series too (syncs under --fsync always, a snapshot after the large write).
 */
export function sampleTrafficServerFlags(dataDir: string): string[] {
  return ["--max-waiters", "1", "--data-dir", dataDir, "--fsync", "always", "--snapshot-min-log-bytes", "4KiB", "--snapshot-log-ratio", "0.1"];
}

/** A metric family that only a finished snapshot has: a scrape is complete once it is there. */
export const SNAPSHOT_SERIES = "stateward_persistence_snapshot_duration_seconds_bucket";

const APP = "metrics-sample";

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

function call<Req, Res>(
  client: SessionStateClient,
  method: (request: Req, metadata: Metadata, options: object, callback: Callback<Res>) => unknown,
  request: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, new Metadata(), {}, (error: ServiceError | null, response: Res) => (error ? reject(error) : resolve(response)));
  });
}

/** Resolves to the error a call failed with (and fails if it succeeded). */
async function refused(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error("the call was expected to fail");
}

/** Drives the sample traffic against the server at `address` (host:port). */
export async function driveSampleTraffic(address: string): Promise<void> {
  const client = new SessionStateClient(address, credentials.createInsecure());
  const pipeline = new PipelineClient(address, credentials.createInsecure());
  const watching = new AbortController();
  try {
    // A watcher, so the removal below is also a Watch event.
    const events = watchSessionEvents(client, APP, { signal: watching.signal });
    const firstEvent = events.next();
    await call(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: "warm-up", data: Buffer.from("x") }));

    await call(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: "a", data: Buffer.alloc(256, 1) }));
    await call(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "a" }));
    await call(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "missing" }));
    await call(client, client.expire, ExpireRequest.fromPartial({ app: APP, sessionId: "a" }));

    // A lock, a reader that waits and gets it, a reader refused by --max-waiters 1 meanwhile.
    const first = await call(client, client.lock, LockRequest.fromPartial({ app: APP, sessionId: "a", leaseMs: 60_000 }));
    const queued = call(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "a", waitMs: 10_000 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await refused(call(client, client.get, GetRequest.fromPartial({ app: APP, sessionId: "a", waitMs: 10_000 })));
    await call(client, client.release, ReleaseRequest.fromPartial({ app: APP, sessionId: "a", lockId: first.lockId }));
    await queued;

    // A lock that a waiting Lock does not get in time, and a write with a stale lock id.
    const held = await call(client, client.lock, LockRequest.fromPartial({ app: APP, sessionId: "a", leaseMs: 60_000 }));
    await call(client, client.lock, LockRequest.fromPartial({ app: APP, sessionId: "a", waitMs: 20 }));
    await call(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: "a", lockId: held.lockId, data: Buffer.from("y") }));
    await refused(call(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: "a", lockId: held.lockId + 1n, data: Buffer.from("z") })));
    await call(client, client.release, ReleaseRequest.fromPartial({ app: APP, sessionId: "a", lockId: held.lockId }));

    // An invalid request (a refused app name) and a removal (a Watch event).
    await refused(call(client, client.get, GetRequest.fromPartial({ app: "bad app", sessionId: "a" })));
    await call(client, client.remove, RemoveRequest.fromPartial({ app: APP, sessionId: "warm-up" }));
    await firstEvent;

    // Pipelined operations.
    await pipeline.set(SetRequest.fromPartial({ app: APP, sessionId: "p", data: Buffer.from("pipelined") }));
    await pipeline.get(GetRequest.fromPartial({ app: APP, sessionId: "p" }));
    await pipeline.lock(LockRequest.fromPartial({ app: APP, sessionId: "p" })).then((lock) => pipeline.release({ app: APP, sessionId: "p", lockId: lock.lockId }));
    await pipeline.remove(RemoveRequest.fromPartial({ app: APP, sessionId: "p" }));

    // A write larger than --snapshot-min-log-bytes: the log passes it, and a snapshot starts.
    await call(client, client.set, SetRequest.fromPartial({ app: APP, sessionId: "large", data: Buffer.alloc(16 * 1024, 2) }));
  } finally {
    watching.abort();
    pipeline.close();
    client.close();
  }
}
