import assert from "node:assert/strict";
import {
  GetResponse,
  LockResponse,
  PipelineResponse,
  encodeGetResponse,
  encodeLockResponse,
  encodePipelineResponse,
  type PipelineResult,
} from "@stateward/protocol";
import { RandomMessages } from "./random-messages";

describe("response encoders (byte for byte the generated encoders)", () => {
  const random = new RandomMessages(11);

  it("GetResponse", () => {
    for (let i = 0; i < 2000; i++) {
      const result = random.result().result;
      if (result?.$case !== "get") continue;
      assert.deepEqual(encodeGetResponse(result.value), Buffer.from(GetResponse.encode(result.value).finish()));
    }
  });

  it("LockResponse", () => {
    for (let i = 0; i < 2000; i++) {
      const result = random.result().result;
      if (result?.$case !== "lock") continue;
      assert.deepEqual(encodeLockResponse(result.value), Buffer.from(LockResponse.encode(result.value).finish()));
    }
  });

  it("PipelineResponse, every result kind, ids and values at the varint boundaries", () => {
    for (let i = 0; i < 3000; i++) {
      const message = random.response();
      assert.deepEqual(encodePipelineResponse(message), Buffer.from(PipelineResponse.encode(message).finish()));
    }
  });

  it("a batch larger than the encoder's scratch space", () => {
    const results: PipelineResult[] = [];
    for (let i = 0; i < 2000; i++) results.push(random.result());
    const message = { results };
    assert.deepEqual(encodePipelineResponse(message), Buffer.from(PipelineResponse.encode(message).finish()));
  });

  it("values outside their type go to the generated encoder, which refuses them the same way", () => {
    const outOfRange: PipelineResult = { id: 2n ** 64n, result: { $case: "release", value: { released: true } } };
    assert.throws(() => PipelineResponse.encode({ results: [outOfRange] }).finish(), /too large/);
    assert.throws(() => encodePipelineResponse({ results: [outOfRange] }), /too large/);
    const badTtl: PipelineResult = { id: 1n, result: { $case: "expire", value: { found: true, ttlSeconds: 2 ** 32 } } };
    const generated = ((): unknown => {
      try {
        return Buffer.from(PipelineResponse.encode({ results: [badTtl] }).finish());
      } catch (error) {
        return (error as Error).message;
      }
    })();
    const ours = ((): unknown => {
      try {
        return encodePipelineResponse({ results: [badTtl] });
      } catch (error) {
        return (error as Error).message;
      }
    })();
    assert.deepEqual(ours, generated);
  });
});
