/**
 * Seeded random Pipeline messages for the codec property tests: every oneof case, field values at
 * the varint size boundaries and beyond 2^53, empty and absent fields, non-ASCII strings.
 */
import {
  Outcome,
  type OperationError,
  type PipelineOperation,
  type PipelineRequest,
  type PipelineResponse,
  type PipelineResult,
} from "@stateward/protocol";

/** A deterministic generator (an LCG: the same seed, the same messages). */
export class RandomMessages {
  constructor(private seed: number) {}

  /** A float in [0, 1). */
  next(): number {
    this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
    return this.seed / 2 ** 32;
  }

  pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.next() * values.length)] as T;
  }

  uint64(): bigint {
    return this.pick([0n, 1n, 127n, 128n, 16_383n, 16_384n, 2n ** 31n, 2n ** 32n, 1_838_603_926_773_760n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]);
  }

  uint32(): number {
    return this.pick([0, 1, 127, 128, 1200, 110_000, 31_536_000, 2 ** 31, 2 ** 32 - 1]);
  }

  bool(): boolean {
    return this.next() < 0.5;
  }

  string(): string {
    return this.pick(["", "app", "shop-eu", "a".repeat(128), "0123456789abcdef0123456789abcdef", "sessión-ü", "日本語", "emoji 😀", "x".repeat(70) + "é"]);
  }

  data(): Buffer {
    const length = this.pick([0, 1, 127, 128, 1024, 16_384, 70_000]);
    const data = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) data[i] = Math.floor(this.next() * 256);
    return data;
  }

  outcome(): number {
    return this.pick([Outcome.OUTCOME_UNSPECIFIED, Outcome.OUTCOME_OK, Outcome.OUTCOME_NOT_FOUND, Outcome.OUTCOME_LOCKED]);
  }

  operation(): PipelineOperation {
    const key = { app: this.string(), sessionId: this.string() };
    const request = this.pick<PipelineOperation["request"]>([
      undefined,
      { $case: "get", value: { ...key, waitMs: this.uint32() } },
      { $case: "lock", value: { ...key, waitMs: this.uint32(), leaseMs: this.uint32(), create: this.bool(), ttlSeconds: this.uint32() } },
      {
        $case: "set",
        value: {
          ...key,
          data: this.data(),
          ttlSeconds: this.uint32(),
          lockId: this.uint64(),
          keepLock: this.bool(),
          expectedVersion: this.uint64(),
          onlyIfAbsent: this.bool(),
        },
      },
      { $case: "release", value: { ...key, lockId: this.uint64() } },
      { $case: "expire", value: { ...key, ttlSeconds: this.uint32() } },
      { $case: "remove", value: { ...key, lockId: this.uint64() } },
    ]);
    return {
      id: this.uint64(),
      timeoutMs: this.uint32(),
      request,
      traceparent: this.bool() ? undefined : this.pick(["", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]),
      tracestate: this.bool() ? undefined : this.string(),
    };
  }

  request(): PipelineRequest {
    const operations: PipelineOperation[] = [];
    for (let i = Math.floor(this.next() * 6); i > 0; i--) operations.push(this.operation());
    const cancelIds: bigint[] = [];
    for (let i = this.pick([0, 0, 1, 3]); i > 0; i--) cancelIds.push(this.uint64());
    return { operations, cancelIds };
  }

  error(): OperationError {
    const metadata: Record<string, string> = {};
    for (let i = this.pick([0, 1, 2]); i > 0; i--) metadata[this.pick(["field", "limit", "", "clé"])] = this.string();
    return { code: this.pick([0, 1, 3, 5, 8, 14, 16, -1]), message: this.string(), reason: this.string(), metadata };
  }

  result(): PipelineResult {
    const data = { outcome: this.outcome(), data: this.data(), version: this.uint64(), lockId: this.uint64(), lockAgeMs: this.uint64(), ttlSeconds: this.uint32() };
    const result = this.pick<PipelineResult["result"]>([
      undefined,
      { $case: "get", value: data },
      { $case: "lock", value: { ...data, created: this.bool(), leaseMs: this.uint32() } },
      { $case: "set", value: { version: this.uint64(), written: this.bool() } },
      { $case: "release", value: { released: this.bool() } },
      { $case: "expire", value: { found: this.bool(), ttlSeconds: this.uint32() } },
      { $case: "remove", value: { removed: this.bool() } },
      { $case: "error", value: this.error() },
    ]);
    return { id: this.uint64(), result };
  }

  response(): PipelineResponse {
    const results: PipelineResult[] = [];
    for (let i = Math.floor(this.next() * 8); i > 0; i--) results.push(this.result());
    return { results };
  }
}
