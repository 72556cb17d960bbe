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

  it("varint and string edges: every varint length, lone surrogates, the ASCII fast path's cut-off, long and foreign payloads", () => {
    const uint32s = [16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1];
    const uint64s = [2n ** 49n - 1n, 2n ** 56n - 1n, 2n ** 56n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
    const strings = ["\uD800", "a\uDFFFb", "é".repeat(64), "é".repeat(65), "a".repeat(63) + "é", "ü".repeat(63), "ü".repeat(64), "x".repeat(200)];
    const big = Buffer.alloc(2 * 1024 * 1024 + 3, 7);
    // Buffer in the types; a plain Uint8Array (a JavaScript caller) and an offset view too.
    const datas: Uint8Array[] = [new Uint8Array([1, 2, 3]), new Uint8Array(big.buffer, big.byteOffset + 1, 1000), big];
    const operations: PipelineOperation[] = [];
    for (let i = 0; i < 40; i++) {
      const app = strings[i % strings.length] as string;
      const sessionId = strings[(i + 3) % strings.length] as string;
      const u32 = uint32s[i % uint32s.length] as number;
      const u64 = uint64s[i % uint64s.length] as bigint;
      operations.push({
        id: u64,
        timeoutMs: u32,
        request:
          i % 2 === 0
            ? { $case: "set", value: { app, sessionId, data: datas[i % datas.length] as Buffer, ttlSeconds: u32, lockId: u64, keepLock: true, expectedVersion: u64, onlyIfAbsent: true } }
            : { $case: "lock", value: { app, sessionId, waitMs: u32, leaseMs: u32, create: true, ttlSeconds: u32 } },
        traceparent: strings[i % strings.length],
        tracestate: undefined,
      });
    }
    for (const message of [{ operations, cancelIds: uint64s }, ...operations.map((operation) => ({ operations: [operation], cancelIds: [] }))]) {
      assert.deepEqual(encodePipelineRequest(message), Buffer.from(PipelineRequest.encode(message).finish()));
    }
  });

  it("a getter that answers differently on each read gets the generated encoder's bytes, never a torn buffer", () => {
    let reads = 0;
    const operation = {
      id: 3n,
      timeoutMs: 0,
      request: { $case: "get" as const, value: { app: "a", sessionId: "s", waitMs: 0 } },
      get traceparent(): string {
        return "t".repeat(++reads * 10);
      },
      tracestate: undefined,
    };
    const bytes = encodePipelineRequest({ operations: [operation], cancelIds: [] });
    const decoded = PipelineRequest.decode(bytes).operations[0];
    assert.equal(decoded?.traceparent, "t".repeat(reads * 10), "the last read, encoded whole");
    assert.ok(reads > 3, `the size and write passes disagreed, and the generated encoder answered (${reads} reads)`);
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
    const set = (fields: Record<string, unknown>): PipelineOperation =>
      ({
        ...get(0),
        request: { $case: "set", value: { app: "a", sessionId: "s", data: Buffer.from("d"), ttlSeconds: 0, lockId: 0n, keepLock: false, expectedVersion: 0n, onlyIfAbsent: false, ...fields } },
      }) as PipelineOperation;
    const lock = (fields: Record<string, unknown>): PipelineOperation =>
      ({ ...get(0), request: { $case: "lock", value: { app: "a", sessionId: "s", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0, ...fields } } }) as PipelineOperation;
    // Values a JavaScript caller may pass past the types: numbers for uint64s, NaN, ±Infinity,
    // undefined bools, a null trace field, an unknown operation kind.
    const cases: PipelineRequest[] = [
      { operations: [], cancelIds: [2n ** 64n] },
      { operations: [], cancelIds: [5 as unknown as bigint] },
      { operations: [{ ...get(0), id: -1n }], cancelIds: [] },
      { operations: [{ ...get(0), id: 5 as unknown as bigint }], cancelIds: [] },
      { operations: [{ ...get(0), id: 0 as unknown as bigint }], cancelIds: [] },
      { operations: [get(2 ** 32)], cancelIds: [] },
      { operations: [get(1.5)], cancelIds: [] },
      { operations: [get(Number.NaN)], cancelIds: [] },
      { operations: [get(Number.POSITIVE_INFINITY)], cancelIds: [] },
      { operations: [get(-0)], cancelIds: [] },
      { operations: [{ ...get(0), timeoutMs: -1 }], cancelIds: [] },
      { operations: [lock({ leaseMs: 2 ** 32 })], cancelIds: [] },
      { operations: [lock({ ttlSeconds: -5 })], cancelIds: [] },
      { operations: [lock({ create: undefined })], cancelIds: [] },
      { operations: [set({ lockId: 2n ** 64n })], cancelIds: [] },
      { operations: [set({ expectedVersion: -2n })], cancelIds: [] },
      { operations: [set({ expectedVersion: 7 })], cancelIds: [] },
      { operations: [set({ keepLock: undefined, onlyIfAbsent: 0 })], cancelIds: [] },
      { operations: [{ ...get(0), traceparent: null as unknown as string }], cancelIds: [] },
      { operations: [{ ...get(0), request: { $case: "watch", value: {} } as unknown as PipelineOperation["request"] }], cancelIds: [] },
    ];
    for (const message of cases) assert.deepEqual(outcome(message), generated(message));
    assert.match(String(outcome(cases[0] as PipelineRequest)), /too large/);
  });
});
