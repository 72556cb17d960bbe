import assert from "node:assert/strict";
import { OperationError, PipelineResponse, decodePipelineResponse, type PipelineResult } from "@stateward/protocol";
import { RandomMessages } from "./random-messages";

describe("PipelineResponse decoder (the generated decoder's result, session data as views)", () => {
  const random = new RandomMessages(31);

  it("decodes random responses of every result kind exactly as the generated decoder", () => {
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(PipelineResponse.encode(random.response()).finish());
      assert.deepEqual(decodePipelineResponse(bytes), PipelineResponse.decode(bytes));
    }
  });

  it("returns Get and Lock data as views into the message, not copies", () => {
    const data = Buffer.from("session bytes");
    const base = { outcome: 1, data, version: 3n, lockId: 4n, lockAgeMs: 5n, ttlSeconds: 6 };
    const results: PipelineResult[] = [
      { id: 1n, result: { $case: "get", value: base } },
      { id: 2n, result: { $case: "lock", value: { ...base, created: true, leaseMs: 9 } } },
    ];
    const bytes = Buffer.from(PipelineResponse.encode({ results }).finish());
    const decoded = decodePipelineResponse(bytes);
    for (const entry of decoded.results) {
      const outcome = entry.result;
      assert.ok(outcome?.$case === "get" || outcome?.$case === "lock");
      assert.deepEqual(outcome.value.data, data);
      const view = outcome.value.data;
      assert.ok(view.buffer === bytes.buffer && view.byteOffset >= bytes.byteOffset && view.byteOffset + view.length <= bytes.byteOffset + bytes.length, "a view of the received message");
    }
    // Writing into the message shows through both views.
    bytes[bytes.indexOf(data)] = 0x21;
    bytes[bytes.lastIndexOf(data)] = 0x21;
    for (const entry of decoded.results) {
      const outcome = entry.result;
      assert.ok(outcome?.$case === "get" || outcome?.$case === "lock");
      assert.equal(outcome.value.data[0], 0x21);
    }
  });

  it("decodes an operation error with its metadata", () => {
    const error: OperationError = { code: 8, message: "full", reason: "TOO_MANY_WAITERS", metadata: { limit: "50", clé: "é" } };
    const bytes = Buffer.from(PipelineResponse.encode({ results: [{ id: 5n, result: { $case: "error", value: error } }] }).finish());
    assert.deepEqual(decodePipelineResponse(bytes), { results: [{ id: 5n, result: { $case: "error", value: error } }] });
  });

  it("leaves unknown fields, other wire types and malformed messages to the generated decoder", () => {
    const known = Buffer.from(PipelineResponse.encode(random.response()).finish());
    const get = Buffer.from(PipelineResponse.encode({ results: [{ id: 1n, result: { $case: "get", value: { outcome: 1, data: Buffer.from("x"), version: 1n, lockId: 0n, lockAgeMs: 0n, ttlSeconds: 0 } } }] }).finish());
    // Field 15 (varint) unknown at the top; a Get result with field 7 (Lock's `created`), unknown to GetResponse.
    const getWithCreated = Buffer.from(get);
    const variants = [Buffer.concat([known, Buffer.from([0x78, 0x05])]), rewriteGet(getWithCreated)];
    for (const bytes of variants) assert.deepEqual(decodePipelineResponse(bytes), PipelineResponse.decode(bytes));
    // Truncated: both throw.
    const truncated = get.subarray(0, get.length - 1);
    assert.throws(() => PipelineResponse.decode(truncated));
    assert.throws(() => decodePipelineResponse(truncated));
  });
});

/** A one-Get response with `created: true` (field 7) appended inside the GetResponse. */
function rewriteGet(bytes: Buffer): Buffer {
  // Layout: 0a <len> 08 01 12 <getLen> <get...>; append 38 01 to the get and fix both lengths.
  const inner = bytes.subarray(4 + 2, bytes.length);
  const get = Buffer.concat([inner.subarray(2), Buffer.from([0x38, 0x01])]);
  const result = Buffer.concat([bytes.subarray(2, 4), Buffer.from([0x12, get.length]), get]);
  return Buffer.concat([Buffer.from([0x0a, result.length]), result]);
}
