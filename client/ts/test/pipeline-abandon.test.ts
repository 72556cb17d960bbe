/**
 * PipelineClient and abandoned operations, step by step against a scripted fake server on
 * 127.0.0.1:0 that answers only when told to: a Lock the caller gave up on (abort, client-side
 * timeout) may still be granted by the server before the cancel arrives, and that grant must be
 * given back at once with a Release of its own.
 */
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import {
  GetResponse,
  LockResponse,
  Outcome,
  PipelineClient,
  PipelineOperationError,
  ReleaseResponse,
  type LockRequest,
  type PipelineOperation,
  type PipelineRequest,
  type PipelineResponse,
  type SessionStateServer,
} from "../src";
import { assert, startFakeServer, useResources, waitFor } from "./helpers";

/** What the fake saw, and its open stream to answer on. */
interface Fake {
  readonly address: string;
  readonly operations: PipelineOperation[];
  readonly cancelIds: bigint[];
  call: grpc.ServerDuplexStream<PipelineRequest, PipelineResponse> | undefined;
  close(): void;
}

/** A Pipeline server that records everything and answers Get and Release at once, Lock never. */
async function startFake(): Promise<Fake> {
  const fake: Fake = { address: "", operations: [], cancelIds: [], call: undefined, close: () => undefined };
  const implementation: Partial<SessionStateServer> = {
    pipeline: (call) => {
      fake.call = call;
      call.on("data", (request: PipelineRequest) => {
        fake.cancelIds.push(...request.cancelIds);
        const results: PipelineResponse["results"] = [];
        for (const operation of request.operations) {
          fake.operations.push(operation);
          const kind = operation.request?.$case;
          if (kind === "get") results.push({ id: operation.id, result: { $case: "get", value: GetResponse.fromPartial({ outcome: Outcome.OUTCOME_NOT_FOUND }) } });
          if (kind === "release") results.push({ id: operation.id, result: { $case: "release", value: ReleaseResponse.fromPartial({ released: true }) } });
        }
        if (results.length > 0) call.write({ results });
      });
      call.on("end", () => call.end());
    },
  };
  return Object.assign(fake, await startFakeServer(implementation));
}

function lockRequest(sessionId: string): LockRequest {
  return { app: "app", sessionId, waitMs: 10_000, leaseMs: 0, create: false, ttlSeconds: 0 };
}

/** The grant the server would send for a Lock. */
function grant(id: bigint, lockId: bigint): PipelineResponse {
  return { results: [{ id, result: { $case: "lock", value: LockResponse.fromPartial({ outcome: Outcome.OUTCOME_OK, lockId, version: 1n, leaseMs: 110_000 }) } }] };
}

/** The stream's count of abandoned Locks still awaiting their result (internal state, read for the test). */
function abandonedLocks(client: PipelineClient): number | undefined {
  return (client as unknown as { streams: readonly ({ abandonedLockCount: number } | undefined)[] }).streams[0]?.abandonedLockCount;
}

/** Awaits a rejection with a PipelineOperationError of `code`. */
async function rejectsWith(promise: Promise<unknown>, code: status): Promise<void> {
  await assert.rejects(promise, (error) => error instanceof PipelineOperationError && error.code === code);
}

function sentOf(fake: Fake, kind: NonNullable<PipelineOperation["request"]>["$case"]): PipelineOperation[] {
  return fake.operations.filter((operation) => operation.request?.$case === kind);
}

describe("PipelineClient: a grant to an abandoned Lock", function () {
  const r = useResources();
  let fake: Fake;
  let client: PipelineClient;

  beforeEach(async () => {
    fake = await startFake();
    r().defer(() => fake.close());
    client = new PipelineClient(fake.address, grpc.credentials.createInsecure());
    r().defer(() => client.close());
  });

  it("is released at once, under a fresh correlation id that no caller's operation has", async () => {
    const controller = new AbortController();
    const abandoned = client.lock(lockRequest("s1"), { signal: controller.signal });
    // Another caller's Lock stays pending throughout: the Release must not be mistaken for it.
    const other = client.lock(lockRequest("s2"));
    await waitFor(() => sentOf(fake, "lock").length === 2, "both Locks to be sent");
    const [abandonedId, otherId] = sentOf(fake, "lock").map((operation) => operation.id);
    controller.abort();
    await rejectsWith(abandoned, status.CANCELLED);
    await waitFor(() => fake.cancelIds.includes(abandonedId as bigint), "the cancel id to be sent");
    assert.equal(abandonedLocks(client), 1);

    // The server had granted it before the cancel arrived.
    fake.call?.write(grant(abandonedId as bigint, 77n));
    await waitFor(() => sentOf(fake, "release").length === 1, "the stale grant to be released");
    const release = sentOf(fake, "release")[0] as PipelineOperation;
    assert.deepEqual(release.request, { $case: "release", value: { app: "app", sessionId: "s1", lockId: 77n } });
    assert.ok(release.id !== abandonedId && release.id !== otherId, `release id ${release.id} is not fresh`);
    assert.equal(abandonedLocks(client), 0);

    // The other caller gets its own answer, untouched by the Release's result.
    fake.call?.write(grant(otherId as bigint, 78n));
    const granted = await other;
    assert.equal(granted.lockId, 78n);
  });

  it("after a client-side timeout (DEADLINE_EXCEEDED) too", async () => {
    const timedOut = client.lock(lockRequest("s1"), { timeoutMs: 50 });
    await rejectsWith(timedOut, status.DEADLINE_EXCEEDED);
    const id = sentOf(fake, "lock")[0]?.id as bigint;
    await waitFor(() => fake.cancelIds.includes(id), "the cancel id to be sent");
    fake.call?.write(grant(id, 91n));
    await waitFor(() => sentOf(fake, "release").length === 1, "the stale grant to be released");
    assert.deepEqual(sentOf(fake, "release")[0]?.request, { $case: "release", value: { app: "app", sessionId: "s1", lockId: 91n } });
  });

  it("is awaited no longer once the server answers the cancel with CANCELLED; nothing is released", async () => {
    const controller = new AbortController();
    const abandoned = client.lock(lockRequest("s1"), { signal: controller.signal });
    await waitFor(() => sentOf(fake, "lock").length === 1, "the Lock to be sent");
    const id = sentOf(fake, "lock")[0]?.id as bigint;
    controller.abort();
    await rejectsWith(abandoned, status.CANCELLED);
    await waitFor(() => fake.cancelIds.includes(id), "the cancel id to be sent");
    fake.call?.write({ results: [{ id, result: { $case: "error", value: { code: status.CANCELLED, message: "cancelled", reason: "OPERATION_CANCELLED", metadata: {} } } }] });
    await waitFor(() => abandonedLocks(client) === 0, "the abandoned Lock to be forgotten");
    // A Release would have been queued while that result was handled, so before this Get.
    await client.get({ app: "app", sessionId: "s1", waitMs: 0 });
    assert.equal(sentOf(fake, "release").length, 0);
    // Even a (contract-breaking) grant for that id now is not the client's to release.
    fake.call?.write(grant(id, 5n));
    await client.get({ app: "app", sessionId: "s1", waitMs: 0 });
    assert.equal(sentOf(fake, "release").length, 0);
  });

  it("a LOCKED answer releases nothing", async () => {
    const controller = new AbortController();
    const abandoned = client.lock(lockRequest("s1"), { signal: controller.signal });
    await waitFor(() => sentOf(fake, "lock").length === 1, "the Lock to be sent");
    const id = sentOf(fake, "lock")[0]?.id as bigint;
    controller.abort();
    await rejectsWith(abandoned, status.CANCELLED);
    fake.call?.write({ results: [{ id, result: { $case: "lock", value: LockResponse.fromPartial({ outcome: Outcome.OUTCOME_LOCKED, lockId: 3n }) } }] });
    await waitFor(() => abandonedLocks(client) === 0, "the abandoned Lock to be forgotten");
    await client.get({ app: "app", sessionId: "s1", waitMs: 0 });
    assert.equal(sentOf(fake, "release").length, 0);
  });

  it("is forgotten when the stream dies (the server then drops its waiters)", async () => {
    const controller = new AbortController();
    const abandoned = client.lock(lockRequest("s1"), { signal: controller.signal });
    await waitFor(() => sentOf(fake, "lock").length === 1, "the Lock to be sent");
    const stream = (client as unknown as { streams: readonly ({ abandonedLockCount: number; isDead: boolean } | undefined)[] }).streams[0];
    controller.abort();
    await rejectsWith(abandoned, status.CANCELLED);
    assert.equal(stream?.abandonedLockCount, 1);
    fake.call?.end();
    await waitFor(() => stream?.isDead === true, "the stream to end");
    assert.equal(stream?.abandonedLockCount, 0);
  });

  it("an unsent Lock that is abandoned is dropped from the queue and never awaited", async () => {
    const controller = new AbortController();
    const abandoned = client.lock(lockRequest("s1"), { signal: controller.signal });
    // Aborted in the same turn, before the batch is flushed: nothing reaches the server.
    controller.abort();
    await rejectsWith(abandoned, status.CANCELLED);
    assert.equal(abandonedLocks(client), 0);
    await client.get({ app: "app", sessionId: "s1", waitMs: 0 });
    assert.equal(sentOf(fake, "lock").length, 0);
  });
});
