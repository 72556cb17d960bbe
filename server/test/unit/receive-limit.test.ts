import assert from "node:assert/strict";
import { resolveConfig } from "../../src/config";
import { receiveLimitBytes } from "../../src/grpc/receive-limit";

const KIB = 1024;
const MIB = 1024 * KIB;
const INT32_MAX = 2 ** 31 - 1;

describe("receive cap (8 x --max-item-bytes + 64 KiB)", () => {
  it("is eight items plus 64 KiB of envelope: 8 MiB + 64 KiB with the default 1 MiB", () => {
    assert.equal(receiveLimitBytes(resolveConfig([], {}).limits.maxItemBytes), 8 * MIB + 64 * KIB);
    assert.equal(receiveLimitBytes(1), 8 + 64 * KIB);
    assert.equal(receiveLimitBytes(128 * MIB), 1024 * MIB + 64 * KIB);
  });

  it("stops at 2^31 - 1, which stays above the largest --max-item-bytes plus its envelope", () => {
    const largest = resolveConfig(["--max-item-bytes", "1GiB"], {}).limits.maxItemBytes;
    assert.equal(receiveLimitBytes(256 * MIB), INT32_MAX);
    assert.equal(receiveLimitBytes(largest), INT32_MAX);
    assert.ok(receiveLimitBytes(largest) >= largest + 64 * KIB);
  });
});
