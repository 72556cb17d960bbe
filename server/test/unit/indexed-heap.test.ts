import assert from "node:assert/strict";
import { IndexedHeap } from "../../src/store/memory/indexed-heap";

interface Item {
  key: number;
  position: number;
}

describe("indexed heap", () => {
  it("pops in key order across random pushes and removals", () => {
    let seed = 42;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const heap = new IndexedHeap<Item>(
      (item) => item.key,
      (item, position) => {
        item.position = position;
      },
    );
    const live = new Set<Item>();
    for (let i = 0; i < 5000; i++) {
      const item = { key: Math.floor(random() * 1000), position: -1 };
      heap.push(item);
      live.add(item);
      if (random() < 0.3) {
        const victim = [...live][Math.floor(random() * live.size)] as Item;
        heap.removeAt(victim.position);
        assert.equal(victim.position, -1);
        live.delete(victim);
      }
    }
    assert.equal(heap.size, live.size);
    const expected = [...live].map((item) => item.key).sort((a, b) => a - b);
    const popped: number[] = [];
    while (heap.size > 0) popped.push((heap.pop() as Item).key);
    assert.deepEqual(popped, expected);
    assert.equal(heap.peekKey(), Infinity);
  });
});
