import assert from "node:assert/strict";
import { PipelineRequest, encodePipelineRequest, type PipelineOperation } from "@stateward/protocol";
import { RandomMessages } from "./random-messages";

describe("PipelineRequest encoder (byte for byte the generated encoder)", () => {
  const random = new RandomMessages(41);

  it("every operation kind, optional trace fields, cancel ids, values at the varint boundaries", () => {
    for (let i = 0; i < 4000; i++) {
      const message = random.request();
      assert.deepEqual(encodePipelineRequest(message), Buffer.from(PipelineRequest.encode(message).finish()));
    }
  });

  it("a batch of many operations (more than its size table starts with)", () => {
    const operations: PipelineOperation[] = [];
    for (let i = 0; i < 1500; i++) operations.push(random.operation());
    const message = { operations, cancelIds: [1n, 2n ** 64n - 1n] };
    assert.deepEqual(encodePipelineRequest(message), Buffer.from(PipelineRequest.encode(message).finish()));
    const empty = { operations: [], cancelIds: [] };
    assert.deepEqual(encodePipelineRequest(empty), Buffer.from(PipelineRequest.encode(empty).finish()));
  });

  it("values outside their type go to the generated encoder, which refuses or encodes them the same way", () => {
    const get = (waitMs: number): PipelineOperation => ({ id: 1n, timeoutMs: 0, request: { $case: "get", value: { app: "a", sessionId: "s", waitMs } }, traceparent: undefined, tracestate: undefined });
    const outcome = (message: PipelineRequest): unknown => {
      try {
        return encodePipelineRequest(message);
      } catch (error) {
        return (error as Error).message;
      }
    };
    const generated = (message: PipelineRequest): unknown => {
      try {
        return Buffer.from(PipelineRequest.encode(message).finish());
      } catch (error) {
        return (error as Error).message;
      }
    };
    const cases: PipelineRequest[] = [
      { operations: [], cancelIds: [2n ** 64n] },
      { operations: [{ ...get(0), id: -1n }], cancelIds: [] },
      { operations: [get(2 ** 32)], cancelIds: [] },
      { operations: [get(1.5)], cancelIds: [] },
      { operations: [{ ...get(0), timeoutMs: -1 }], cancelIds: [] },
    ];
    for (const message of cases) assert.deepEqual(outcome(message), generated(message));
    assert.match(String(outcome(cases[0] as PipelineRequest)), /too large/);
  });
});
