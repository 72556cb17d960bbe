import assert from "node:assert/strict";
import { FakeClock } from "../../src/store/fake-clock";
import { MemoryBackend } from "../../src/store/memory/memory-backend";
import { NO_CHUNK, PayloadSlabs } from "../../src/store/memory/payload-slabs";

/** Slabs whose owners are indexes into `handles`, kept current through the relocation callback. */
function tracked(maxItemBytes: number): { slabs: PayloadSlabs; handles: number[] } {
  const handles: number[] = [];
  const slabs = new PayloadSlabs(maxItemBytes, undefined, (owner, handle) => {
    handles[owner] = handle;
  });
  return { slabs, handles };
}

describe("payload slabs", () => {
  it("stores and returns private copies, empty payloads take no chunk", () => {
    const slabs = new PayloadSlabs(1024 * 1024);
    const data = Buffer.from("hello world");
    const handle = slabs.write(data, NO_CHUNK, 0);
    const copy = slabs.read(handle, data.length);
    assert.deepEqual(copy, data);
    copy[0] = 0;
    assert.deepEqual(slabs.read(handle, data.length), data, "a read returns a copy, not a view");
    assert.equal(slabs.write(Buffer.alloc(0), NO_CHUNK, 1), NO_CHUNK);
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
    const first = slabs.write(Buffer.alloc(100, 1), NO_CHUNK, 0);
    const same = slabs.write(Buffer.alloc(120, 2), first, 0);
    assert.equal(same, first, "same 128-byte class: in place");
    assert.deepEqual(slabs.read(same, 120), Buffer.alloc(120, 2));
    const moved = slabs.write(Buffer.alloc(5000, 3), same, 0);
    assert.notEqual(moved, same);
    assert.deepEqual(slabs.read(moved, 5000), Buffer.alloc(5000, 3));
  });

  it("keeps distinct payloads apart and gives empty pages back at once", () => {
    const { slabs, handles } = tracked(1024 * 1024);
    // 3 pages' worth of 1 KiB chunks (63 per page just under 64 KiB).
    for (let i = 0; i < 3 * 63; i++) handles.push(slabs.write(Buffer.alloc(1000, i % 251), NO_CHUNK, i));
    assert.equal(slabs.pageCount, 3);
    for (let i = 0; i < handles.length; i += 17) {
      assert.deepEqual(slabs.read(handles[i] as number, 1000), Buffer.alloc(1000, i % 251));
    }
    for (const handle of [...handles]) slabs.free(handle);
    assert.equal(slabs.pageCount, 0);
    assert.equal(slabs.pageBytes, 0);
  });

  it("compacts: one survivor per page does not keep the pages (the audit's adversarial pattern)", () => {
    const { slabs, handles } = tracked(1024 * 1024);
    const count = 63 * 200;
    for (let i = 0; i < count; i++) handles.push(slabs.write(Buffer.alloc(1000, i % 251), NO_CHUNK, i));
    const held = slabs.pageBytes;
    const survivors = new Set<number>();
    for (let i = 0; i < count; i++) {
      if (i % 63 === 0) survivors.add(i);
      else slabs.free(handles[i] as number);
    }
    assert.ok(slabs.compactionPending);
    assert.equal(slabs.compact(() => false), true);
    assert.ok(slabs.moves > 0);
    // 200 survivors of 1 KiB fit in 4 pages; the class may keep a page plus 1/8 of its use free.
    assert.ok(slabs.pageCount <= 6, `${slabs.pageCount} pages for ${survivors.size} chunks (was ${held} bytes)`);
    for (const i of survivors) assert.deepEqual(slabs.read(handles[i] as number, 1000), Buffer.alloc(1000, i % 251), `survivor ${i} intact after moves`);
  });

  it("holds at most 1/8 plus a page per class beyond what is used, under random writes and frees", () => {
    const { slabs, handles } = tracked(256 * 1024);
    const lengths: number[] = [];
    let seed = 11;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const owners = 3000;
    for (let i = 0; i < owners; i++) handles.push(NO_CHUNK);
    for (let step = 0; step < 60_000; step++) {
      const owner = Math.floor(random() * owners);
      const previous = handles[owner] as number;
      if (random() < 0.3) {
        slabs.free(previous);
        handles[owner] = NO_CHUNK;
        lengths[owner] = 0;
        continue;
      }
      // Sizes spread over every class: 1 B to 256 KiB, log-uniform.
      const length = Math.max(1, Math.floor(Math.exp(random() * Math.log(256 * 1024))));
      handles[owner] = slabs.write(Buffer.alloc(length, owner % 251), previous, owner);
      lengths[owner] = length;
      // The store runs a compaction slice every expiry cycle; here every 50 steps, 1 page each.
      if (step % 50 === 0) slabs.compact(() => true);
      if (step % 1000 === 0) {
        slabs.compact(() => false);
        const used = slabs.usedBytes;
        // Partly filled pages: at most about two pages (64 KiB each) per class in use.
        assert.ok(slabs.pageBytes <= used * 1.125 + 80 * 2 * 64 * 1024, `held ${slabs.pageBytes} for ${used} used`);
      }
    }
    for (let owner = 0; owner < owners; owner++) {
      const length = lengths[owner] ?? 0;
      if (length > 0) assert.deepEqual(slabs.read(handles[owner] as number, length), Buffer.alloc(length, owner % 251));
    }
  });
});

describe("payload slabs compaction through the memory backend", () => {
  it("the backend's cycle compacts after removals, within its slices", async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const backend = new MemoryBackend({}, { maxItemBytes: 64 * 1024 }, clock);
    const fail = (error: unknown): never => assert.fail(String(error));
    const ignore = { resolve: () => undefined, reject: fail };
    const input = (sessionId: string, data: Uint8Array) => ({
      app: "a",
      sessionId,
      data,
      ttlSeconds: 0,
      createTtlSeconds: 1200,
      lockId: 0,
      keepLock: false,
      expectedVersion: 0,
      onlyIfAbsent: false,
    });
    for (let i = 0; i < 63 * 100; i++) backend.set(input(`s-${i}`, Buffer.alloc(1000, i % 251)), ignore);
    const full = backend.stats().slabBytes;
    for (let i = 0; i < 63 * 100; i++) if (i % 63 !== 0) backend.remove({ app: "a", sessionId: `s-${i}`, lockId: 0 }, ignore);
    for (let cycle = 0; cycle < 50; cycle++) {
      clock.advance(100);
      backend.runDueWork();
    }
    const after = backend.stats().slabBytes;
    assert.ok(after < full / 10, `slabs ${after} of ${full} after compaction`);
    for (let i = 0; i < 63 * 100; i += 63) {
      const answer = await new Promise<unknown>((resolve) => backend.get({ app: "a", sessionId: `s-${i}`, waitMs: 0 }, { resolve, reject: resolve }));
      assert.deepEqual((answer as { data: Buffer }).data, Buffer.alloc(1000, i % 251));
    }
    await backend.close();
  });
});
