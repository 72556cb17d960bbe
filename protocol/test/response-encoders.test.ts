import assert from "node:assert/strict";
import {
  EncodeScratch,
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

describe("EncodeScratch (reused memory for encodes copied at once)", () => {
  it("hands out views of one buffer, grows it by doubling up to the cap, and allocates above the cap", () => {
    const scratch = new EncodeScratch(64 * 1024);
    const a = scratch.take(100);
    const b = scratch.take(200);
    assert.equal(a.length, 100);
    assert.equal(b.length, 200);
    assert.equal(a.buffer, b.buffer, "the same memory twice");
    const grown = scratch.take(20 * 1024);
    assert.equal(grown.length, 20 * 1024);
    assert.notEqual(grown.buffer, a.buffer, "a larger request grows it");
    assert.equal(scratch.take(30 * 1024).buffer, grown.buffer, "doubled: 32 KiB holds 30 KiB");
    const large = scratch.take(65 * 1024);
    assert.notEqual(large.buffer, grown.buffer, "above the cap: a buffer of its own");
    assert.equal(scratch.take(10).buffer, grown.buffer, "and the kept one is unchanged");
  });

  it("the encoders write the same bytes into scratch memory as without it", () => {
    const random = new RandomMessages(12);
    const scratch = new EncodeScratch(8 * 1024);
    for (let i = 0; i < 2000; i++) {
      const message = random.response();
      assert.deepEqual(encodePipelineResponse(message, scratch), Buffer.from(PipelineResponse.encode(message).finish()));
      const result = message.results[0]?.result;
      if (result?.$case === "get") assert.deepEqual(encodeGetResponse(result.value, scratch), Buffer.from(GetResponse.encode(result.value).finish()));
      if (result?.$case === "lock") assert.deepEqual(encodeLockResponse(result.value, scratch), Buffer.from(LockResponse.encode(result.value).finish()));
    }
  });
});
