import assert from "node:assert/strict";
import { NO_CHUNK, PayloadSlabs } from "../../src/store/payload-slabs";

describe("payload slabs", () => {
  it("stores and returns private copies, empty payloads take no chunk", () => {
    const slabs = new PayloadSlabs(1024 * 1024);
    const data = Buffer.from("hello world");
    const handle = slabs.write(data, NO_CHUNK);
    const copy = slabs.read(handle, data.length);
    assert.deepEqual(copy, data);
    copy[0] = 0;
    assert.deepEqual(slabs.read(handle, data.length), data, "a read returns a copy, not a view");
    assert.equal(slabs.write(Buffer.alloc(0), NO_CHUNK), NO_CHUNK);
    assert.equal(slabs.chunkBytesFor(0), 0);
  });

  it("rounds to 64-byte classes up to 1 KiB and wastes at most 12.5 % above", () => {
    const slabs = new PayloadSlabs(1024 * 1024);
    assert.equal(slabs.chunkBytesFor(1), 64);
    assert.equal(slabs.chunkBytesFor(64), 64);
    assert.equal(slabs.chunkBytesFor(65), 128);
    assert.equal(slabs.chunkBytesFor(1024), 1024);
    for (const size of [1025, 4000, 16 * 1024, 100_000, 1024 * 1024 - 1, 1024 * 1024]) {
      const chunk = slabs.chunkBytesFor(size);
      assert.ok(chunk >= size && chunk <= Math.ceil(size * 1.125) + 64, `${size} -> ${chunk}`);
    }
    assert.throws(() => slabs.chunkBytesFor(1024 * 1024 + 1), RangeError);
  });

  it("overwrites in place within a class and moves across classes", () => {
    const slabs = new PayloadSlabs(64 * 1024);
    const first = slabs.write(Buffer.alloc(100, 1), NO_CHUNK);
    const same = slabs.write(Buffer.alloc(120, 2), first);
    assert.equal(same, first, "same 128-byte class: in place");
    assert.deepEqual(slabs.read(same, 120), Buffer.alloc(120, 2));
    const moved = slabs.write(Buffer.alloc(5000, 3), same);
    assert.notEqual(moved, same);
    assert.deepEqual(slabs.read(moved, 5000), Buffer.alloc(5000, 3));
  });

  it("keeps distinct payloads apart and gives fully free pages back", () => {
    const slabs = new PayloadSlabs(1024 * 1024);
    const handles: number[] = [];
    // 3 pages' worth of 1 KiB chunks (1024 per 1 MiB page).
    for (let i = 0; i < 3 * 1024; i++) handles.push(slabs.write(Buffer.alloc(1000, i % 251), NO_CHUNK));
    assert.equal(slabs.pageCount, 3);
    for (let i = 0; i < handles.length; i += 997) {
      assert.deepEqual(slabs.read(handles[i] as number, 1000), Buffer.alloc(1000, i % 251));
    }
    for (const handle of handles) slabs.free(handle);
    assert.equal(slabs.pageCount, 1, "one empty page is kept as a cushion, the others are released");
    const again = slabs.write(Buffer.alloc(1000, 7), NO_CHUNK);
    assert.equal(slabs.pageCount, 1, "the cushion page is reused");
    assert.deepEqual(slabs.read(again, 1000), Buffer.alloc(1000, 7));
  });
});
