import assert from "node:assert/strict";
import { keyHash } from "../../src/store/memory/session-shard";
import { KEY_LAYOUT, PayloadSlabs } from "../../src/store/memory/payload-slabs";
import { SessionTable } from "../../src/store/memory/session-table";

/** A table with its own id slabs; compaction moves are applied to its keyChunk column. */
function newTable(): SessionTable {
  const holder: { table?: SessionTable } = {};
  const keys = new PayloadSlabs(256, KEY_LAYOUT, (slot, handle) => {
    if (holder.table !== undefined) holder.table.keyChunk[slot] = handle;
  });
  holder.table = new SessionTable(keys, (slot) => slot);
  return holder.table;
}

describe("session table key index", () => {
  let seed = 7;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };

  it("agrees with a Map under random inserts and deletes, across growth", () => {
    const table = newTable();
    const model = new Map<string, number>();
    for (let step = 0; step < 60_000; step++) {
      const id = `id-${Math.floor(random() * 20_000)}`;
      const app = random() < 0.5 ? "a" : "b";
      const appIndex = app === "a" ? 0 : 1;
      const key = `${app}/${id}`;
      const hash = keyHash(app, id);
      const found = table.find(appIndex, id, hash);
      assert.equal(found, model.get(key) ?? -1, `lookup of ${key} at step ${step}`);
      if (found < 0) {
        const slot = table.allocate(appIndex, id, hash);
        model.set(key, slot);
        assert.equal(table.sessionIdOf(slot), id);
      } else if (random() < 0.6) {
        table.free(found);
        model.delete(key);
      }
    }
    assert.equal(table.size, model.size);
    for (const [key, slot] of model) {
      const [app, id] = key.split("/") as [string, string];
      assert.equal(table.find(app === "a" ? 0 : 1, id, keyHash(app, id)), slot);
    }
  });

  it("keeps colliding keys reachable when one in the middle of a probe run is deleted", () => {
    const table = newTable();
    // The same hash for every key forces one long probe run; deletions must shift entries back.
    const hash = 0xdeadbeef;
    const slots = Array.from({ length: 50 }, (_, i) => table.allocate(0, `k${i}`, hash));
    for (let i = 0; i < 50; i += 3) table.free(slots[i] as number);
    for (let i = 0; i < 50; i++) {
      assert.equal(table.find(0, `k${i}`, hash), i % 3 === 0 ? -1 : slots[i], `k${i}`);
    }
  });

  it("tells apps apart and compares ids byte for byte", () => {
    const table = newTable();
    const slot = table.allocate(0, "same", keyHash("x", "same"));
    assert.equal(table.find(1, "same", keyHash("x", "same")), -1, "another app index");
    assert.equal(table.find(0, "samf", keyHash("x", "same")), -1, "same hash, other bytes");
    assert.equal(table.find(0, "same", keyHash("x", "same")), slot);
  });
});
