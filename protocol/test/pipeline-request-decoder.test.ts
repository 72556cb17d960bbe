import assert from "node:assert/strict";
import { PipelineRequest, decodePipelineRequest, type PipelineOperation } from "@stateward/protocol";
import { RandomMessages } from "./random-messages";

describe("PipelineRequest decoder (the generated decoder's result, payloads as views)", () => {
  const random = new RandomMessages(29);

  it("decodes random requests of every operation kind exactly as the generated decoder", () => {
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(PipelineRequest.encode(random.request()).finish());
      assert.deepEqual(decodePipelineRequest(bytes), PipelineRequest.decode(bytes));
    }
  });

  it("returns Set payloads as views into the message, not copies", () => {
    const data = Buffer.from("payload bytes");
    const operation: PipelineOperation = {
      id: 7n,
      timeoutMs: 0,
      request: { $case: "set", value: { app: "a", sessionId: "s", data, ttlSeconds: 0, lockId: 0n, keepLock: false, expectedVersion: 0n, onlyIfAbsent: false } },
      traceparent: undefined,
      tracestate: undefined,
    };
    const bytes = Buffer.from(PipelineRequest.encode({ operations: [operation], cancelIds: [] }).finish());
    const decoded = decodePipelineRequest(bytes).operations[0]?.request;
    assert.equal(decoded?.$case, "set");
    const view = decoded.value.data;
    assert.deepEqual(view, data);
    assert.equal(view.buffer, bytes.buffer);
    bytes[bytes.indexOf(data)] = 0x50 ^ 0x20;
    assert.equal(view[0], 0x70);
  });

  it("leaves unknown fields, unpacked ids and other wire types to the generated decoder", () => {
    const known = Buffer.from(PipelineRequest.encode(random.request()).finish());
    // Field 15 (varint) is unknown to this contract; field 2 unpacked (tag 16) is valid proto.
    const variants = [Buffer.concat([known, Buffer.from([0x78, 0x05])]), Buffer.concat([known, Buffer.from([0x10, 0x96, 0x01])])];
    for (const bytes of variants) assert.deepEqual(decodePipelineRequest(bytes), PipelineRequest.decode(bytes));
  });

  it("refuses a truncated message as the generated decoder does", () => {
    let tested = 0;
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(PipelineRequest.encode(random.request()).finish());
      if (bytes.length < 4) continue;
      const cut = bytes.subarray(0, bytes.length - 1 - Math.floor(random.next() * 3));
      let expected: unknown;
      try {
        expected = PipelineRequest.decode(cut);
      } catch (error) {
        expected = error;
      }
      if (expected instanceof Error) {
        assert.throws(() => decodePipelineRequest(cut), { message: expected.message });
      } else {
        assert.deepEqual(decodePipelineRequest(cut), expected);
      }
      tested++;
    }
    assert.ok(tested > 100);
  });
});
