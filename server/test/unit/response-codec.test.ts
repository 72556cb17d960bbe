import assert from "node:assert/strict";
import { GetResponse, LockResponse, Outcome } from "@stateward/protocol";
import { encodeGetResponse, encodeLockResponse } from "../../src/grpc/response-codec";

describe("response codec", () => {
  let seed = 11;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const uint64s = [0n, 1n, 127n, 128n, 16_383n, 16_384n, 2n ** 31n, 2n ** 32n, 1_838_603_926_773_760n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n];
  const uint32s = [0, 1, 127, 128, 1200, 110_000, 31_536_000, 2 ** 32 - 1];
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const data = (): Buffer => Buffer.alloc(pick([0, 1, 127, 128, 1024, 16_384, 100_000]), Math.floor(random() * 256));

  it("writes exactly what the generated GetResponse encoder writes", () => {
    for (let i = 0; i < 2000; i++) {
      const message: GetResponse = {
        outcome: pick([Outcome.OUTCOME_UNSPECIFIED, Outcome.OUTCOME_OK, Outcome.OUTCOME_NOT_FOUND, Outcome.OUTCOME_LOCKED]),
        data: data(),
        version: pick(uint64s),
        lockId: pick(uint64s),
        lockAgeMs: pick(uint64s),
        ttlSeconds: pick(uint32s),
      };
      assert.deepEqual(encodeGetResponse(message), Buffer.from(GetResponse.encode(message).finish()));
    }
  });

  it("writes exactly what the generated LockResponse encoder writes", () => {
    for (let i = 0; i < 2000; i++) {
      const message: LockResponse = {
        outcome: pick([Outcome.OUTCOME_UNSPECIFIED, Outcome.OUTCOME_OK, Outcome.OUTCOME_NOT_FOUND, Outcome.OUTCOME_LOCKED]),
        data: data(),
        version: pick(uint64s),
        lockId: pick(uint64s),
        lockAgeMs: pick(uint64s),
        ttlSeconds: pick(uint32s),
        created: random() < 0.5,
        leaseMs: pick(uint32s),
      };
      assert.deepEqual(encodeLockResponse(message), Buffer.from(LockResponse.encode(message).finish()));
    }
  });
});
