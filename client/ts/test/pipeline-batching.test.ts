/**
 * Adaptive batching of a pipeline stream, against a fake call whose writes complete only when the
 * test says so (a transport that is busy or back-pressured): when idle each operation leaves in the
 * turn it was issued, one message per turn; while a write is outstanding or a drain is awaited,
 * the operations of several turns accumulate and leave as one message, within the batch caps.
 */
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { EventEmitter } from "node:events";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { PipelineOperation, PipelineRequest, PipelineResponse } from "../src";
import { DeadlineWheel } from "../src/deadline-wheel";
import { PendingOperation, PipelineStream, type BatchLimits } from "../src/pipeline-stream";
import { assert } from "./helpers";

/** A call that records its messages and completes a write when told (or at once, `autoComplete`). */
class FakeCall extends EventEmitter {
  readonly messages: PipelineRequest[] = [];
  readonly callbacks: (() => void)[] = [];
  autoComplete = false;
  /** What write() answers: false asks the writer to wait for 'drain'. */
  accept = true;

  write(request: PipelineRequest, callback: () => void): boolean {
    this.messages.push(request);
    if (this.autoComplete) setImmediate(callback);
    else this.callbacks.push(callback);
    return this.accept;
  }

  /** Completes the oldest outstanding write. */
  complete(): void {
    this.callbacks.shift()?.();
  }

  cancel(): void {
    // Nothing to cancel in a fake.
  }

  /** The ids of each message's operations. */
  get batches(): number[][] {
    return this.messages.map((message) => message.operations.map((operation) => Number(operation.id)));
  }
}

describe("PipelineStream: adaptive batching", () => {
  let call: FakeCall;
  let stream: PipelineStream;
  let nextId: bigint;
  const wheel = new DeadlineWheel();

  function open(limits: BatchLimits = { maxBatchOperations: 256, maxBatchBytes: 256 * 1024, pollMicros: 0 }): void {
    call = new FakeCall();
    nextId = 1n;
    stream = new PipelineStream(call as unknown as ClientDuplexStream<PipelineRequest, PipelineResponse>, limits, wheel, () => undefined, () => nextId++);
  }

  /** Issues a Get; its promise is left pending (the fake never answers). */
  function issue(bytes = 0): void {
    const id = nextId++;
    const operation: PipelineOperation = { id, timeoutMs: 0, request: { $case: "get", value: { app: "app", sessionId: "s", waitMs: 0 } } };
    const pending = new PendingOperation(id, "get", stream, operation, 0, undefined, undefined, undefined);
    pending.promise.catch(() => undefined);
    stream.submit(pending, bytes);
  }

  afterEach(() => stream.close(1, "test over"));

  it("when idle, one operation per turn leaves in that turn, as its own message", async () => {
    open();
    call.autoComplete = true;
    for (let turn = 1; turn <= 5; turn++) {
      issue();
      await nextTurn();
      assert.deepEqual(call.batches.at(-1), [turn], `operation ${turn} sent in the turn it was issued`);
      // Its write completes in the next turn, before the next operation is issued.
      await nextTurn();
    }
    assert.equal(call.messages.length, 5);
  });

  it("the operations of one turn leave together", async () => {
    open();
    issue();
    issue();
    issue();
    await nextTurn();
    assert.deepEqual(call.batches, [[1, 2, 3]]);
  });

  it("while a write is outstanding, several turns of operations accumulate into one message", async () => {
    open();
    issue();
    await nextTurn();
    assert.deepEqual(call.batches, [[1]]);
    for (let turn = 0; turn < 4; turn++) {
      issue();
      issue();
      await nextTurn();
    }
    assert.equal(call.messages.length, 1, "nothing sent while the first write is outstanding");
    call.complete();
    assert.deepEqual(call.batches, [[1], [2, 3, 4, 5, 6, 7, 8, 9]]);
  });

  it("after write() asked for a drain, operations wait for 'drain', then leave as one message", async () => {
    open();
    call.accept = false;
    issue();
    await nextTurn();
    call.complete();
    for (let turn = 0; turn < 3; turn++) {
      issue();
      await nextTurn();
    }
    assert.equal(call.messages.length, 1, "nothing sent before the drain");
    call.accept = true;
    call.emit("drain");
    assert.deepEqual(call.batches, [[1], [2, 3, 4]]);
  });

  it("an accumulated batch is split at the batch caps", async () => {
    open({ maxBatchOperations: 4, maxBatchBytes: 256 * 1024, pollMicros: 0 });
    issue();
    await nextTurn();
    for (let i = 0; i < 10; i++) issue();
    await nextTurn();
    call.complete();
    assert.deepEqual(call.batches, [[1], [2, 3, 4, 5], [6, 7, 8, 9], [10, 11]]);
  });

  it("and at the byte cap", async () => {
    // Three operations of 1000 payload bytes (plus the per-operation allowance) fit, four do not.
    open({ maxBatchOperations: 256, maxBatchBytes: 3 * 1100, pollMicros: 0 });
    issue();
    await nextTurn();
    for (let i = 0; i < 7; i++) issue(1000);
    await nextTurn();
    call.complete();
    assert.deepEqual(call.batches, [[1], [2, 3, 4], [5, 6, 7], [8]]);
  });
});
