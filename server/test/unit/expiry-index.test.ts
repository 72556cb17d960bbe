import assert from "node:assert/strict";
import { ExpiryIndex } from "../../src/store/memory/expiry-index";

describe("expiry index", () => {
  it("visits only due buckets, in deadline order", () => {
    const index = new ExpiryIndex();
    index.add(1, 12);
    index.add(2, 10);
    index.add(3, 11);
    index.add(4, 30);
    assert.equal(index.nextDueAt(), 11_000);
    const seen: number[] = [];
    index.sweep(12_999, (slot) => seen.push(slot), () => false);
    assert.deepEqual(seen, [2, 3], "bucket 12 is due only once 13,000 ms is reached");
    index.sweep(13_000, (slot) => seen.push(slot), () => false);
    assert.deepEqual(seen, [2, 3, 1]);
    assert.equal(index.nextDueAt(), 31_000);
  });

  it("stops when the budget runs out and resumes where it stopped", () => {
    const index = new ExpiryIndex();
    for (let slot = 0; slot < 1000; slot++) index.add(slot, 5);
    const seen: number[] = [];
    let checks = 0;
    const finished = index.sweep(10_000, (slot) => seen.push(slot), () => ++checks >= 2);
    assert.equal(finished, false, "stopped for the budget");
    assert.equal(seen.length, 128, "the budget is checked every 64 entries");
    assert.equal(index.sweep(10_000, (slot) => seen.push(slot), () => false), true, "nothing due any more");
    assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i));
    assert.equal(index.nextDueAt(), Infinity);
  });

  it("lets a visit file entries again without losing the bucket being swept", () => {
    const index = new ExpiryIndex();
    index.add(1, 5);
    index.add(2, 5);
    const seen: number[] = [];
    index.sweep(
      6_000,
      (slot, second) => {
        seen.push(slot);
        if (slot === 1) index.add(9, second + 100);
      },
      () => false,
    );
    assert.deepEqual(seen, [1, 2]);
    assert.equal(index.nextDueAt(), 106_000);
  });
});
