/**
 * PipelineClient deadlines through its one deadline wheel, against a fake Pipeline server on
 * 127.0.0.1:0 that answers Get only when its session id is "answer" and leaves the rest waiting:
 * a deadline fails its operation with DEADLINE_EXCEEDED (not early, and not long after), and no
 * wheel entry or timer outlives the operations that settle.
 */
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { GetResponse, Outcome, PipelineClient, PipelineOperationError, type PipelineRequest, type PipelineResponse, type SessionStateServer } from "../src";
import { assert, startFakeServer, useResources } from "./helpers";

/** The client's wheel (internal state, read for the test). */
function wheelOf(client: PipelineClient): { size: number; timer: unknown } {
  return (client as unknown as { wheel: { size: number; timer: unknown } }).wheel;
}

describe("PipelineClient: deadlines", function () {
  const r = useResources();
  let client: PipelineClient;

  beforeEach(async () => {
    const implementation: Partial<SessionStateServer> = {
      pipeline: (call: grpc.ServerDuplexStream<PipelineRequest, PipelineResponse>) => {
        call.on("data", (request: PipelineRequest) => {
          const results: PipelineResponse["results"] = request.operations
            .filter((operation) => operation.request?.$case === "get" && operation.request.value.sessionId === "answer")
            .map((operation) => ({ id: operation.id, result: { $case: "get" as const, value: GetResponse.fromPartial({ outcome: Outcome.OUTCOME_NOT_FOUND }) } }));
          if (results.length > 0) call.write({ results });
        });
        call.on("end", () => call.end());
      },
    };
    const fake = await startFakeServer(implementation);
    r().defer(() => fake.close());
    client = new PipelineClient(fake.address, grpc.credentials.createInsecure());
    r().defer(() => client.close());
  });

  it("fails an unanswered operation with DEADLINE_EXCEEDED at its deadline, not before", async () => {
    const started = performance.now();
    const results = await Promise.allSettled([40, 120].map((timeoutMs) => client.get({ app: "app", sessionId: "silent", waitMs: 0 }, { timeoutMs }).catch((error: unknown) => ({ error, at: performance.now() - started }))));
    for (const [index, timeoutMs] of [40, 120].entries()) {
      const outcome = results[index];
      assert.ok(outcome?.status === "fulfilled");
      const { error, at } = outcome.value as { error: unknown; at: number };
      assert.ok(error instanceof PipelineOperationError && error.code === status.DEADLINE_EXCEEDED, String(error));
      assert.equal(error.details, `no answer within ${timeoutMs} ms`);
      assert.ok(at >= timeoutMs - 1, `fired after ${at} ms, before its ${timeoutMs} ms deadline`);
      // A tick (5 ms) late at most, plus a shared machine's event-loop lateness.
      assert.ok(at < timeoutMs + 250, `fired after ${at} ms, long past its ${timeoutMs} ms deadline`);
    }
    assert.equal(wheelOf(client).size, 0);
    assert.equal(wheelOf(client).timer, undefined, "no timer with nothing pending");
  });

  it("answered and aborted operations leave no wheel entry and no timer", async () => {
    const answered = Array.from({ length: 50 }, () => client.get({ app: "app", sessionId: "answer", waitMs: 0 }, { timeoutMs: 60_000 }));
    const controller = new AbortController();
    const aborted = client.get({ app: "app", sessionId: "silent", waitMs: 0 }, { timeoutMs: 60_000, signal: controller.signal });
    assert.equal(wheelOf(client).size, 51);
    assert.notEqual(wheelOf(client).timer, undefined);
    await Promise.all(answered);
    assert.equal(wheelOf(client).size, 1);
    controller.abort();
    await assert.rejects(aborted, (error) => error instanceof PipelineOperationError && error.code === status.CANCELLED);
    assert.equal(wheelOf(client).size, 0);
    assert.equal(wheelOf(client).timer, undefined, "no timer with nothing pending");
  });

  it("closing the client clears the wheel", async () => {
    const pending = client.get({ app: "app", sessionId: "silent", waitMs: 0 }, { timeoutMs: 60_000 });
    client.close();
    await assert.rejects(pending, (error) => error instanceof PipelineOperationError && error.code === status.CANCELLED);
    assert.equal(wheelOf(client).size, 0);
    assert.equal(wheelOf(client).timer, undefined);
  });
});
