/**
 * Session payloads live in large slab pages, never in one Buffer per session: a Buffer object per
 * session costs about 600 B of overhead and makes full GCs slow at a million sessions, while a few
 * hundred big pages cost nothing per session. Memcached-style size classes: each class cuts its
 * pages into equal chunks; a session holds an integer handle (page id and chunk index).
 */

/** Handle of "no chunk" (empty payloads take no slab space). */
export const NO_CHUNK = -1;

/** Target size of a slab page; a class whose chunk is larger gets one chunk per page. */
const PAGE_BYTES = 1024 * 1024;
/** Chunk sizes up to this grow in 64-byte steps, then geometrically. */
const LINEAR_LIMIT = 1024;
const LINEAR_STEP = 64;
/** Geometric growth of chunk sizes above LINEAR_LIMIT: at most 12.5 % wasted per chunk. */
const GROWTH = 1.125;
/** Bits of a handle that hold the chunk index (a page has at most PAGE_BYTES / 64 = 16,384 chunks). */
const CHUNK_BITS = 14;
const CHUNK_MASK = (1 << CHUNK_BITS) - 1;
/** Page ids must fit in the remaining 17 bits of a positive int32 handle: 128 GiB of pages. */
const MAX_PAGES = 1 << (31 - CHUNK_BITS);

interface SlabPage {
  readonly id: number;
  readonly sizeClass: SizeClass;
  readonly buffer: Buffer;
  /** Stack of free chunk indexes. */
  readonly free: Int32Array;
  freeCount: number;
  /** Whether the page is on its class's `available` list. */
  available: boolean;
}

interface SizeClass {
  readonly chunkBytes: number;
  readonly chunksPerPage: number;
  /** Pages with at least one free chunk (allocation takes from the end). */
  readonly available: SlabPage[];
  /** Fully free pages kept so that alloc/free churn does not allocate a page each time. */
  emptyPages: number;
}

/** The slab allocator for payloads. Single-threaded; not shared between stores. */
export class PayloadSlabs {
  private readonly classes: SizeClass[] = [];
  private readonly pages: (SlabPage | undefined)[] = [];
  private readonly freePageIds: number[] = [];
  private pageBytesTotal = 0;

  /** @param maxItemBytes - the largest payload that must fit (decides the largest class). */
  constructor(maxItemBytes: number) {
    let size = LINEAR_STEP;
    for (;;) {
      this.classes.push({
        chunkBytes: size,
        chunksPerPage: Math.max(1, Math.floor(PAGE_BYTES / size)),
        available: [],
        emptyPages: 0,
      });
      if (size >= maxItemBytes) break;
      size = size < LINEAR_LIMIT ? size + LINEAR_STEP : Math.ceil((size * GROWTH) / LINEAR_STEP) * LINEAR_STEP;
      if (size > maxItemBytes) size = Math.ceil(maxItemBytes / LINEAR_STEP) * LINEAR_STEP;
    }
  }

  /** Bytes of all slab pages currently allocated (what the slabs cost in memory). */
  get pageBytes(): number {
    return this.pageBytesTotal;
  }

  /** Number of slab pages allocated. */
  get pageCount(): number {
    return this.pages.length - this.freePageIds.length;
  }

  /** The chunk size a payload of `length` bytes occupies (0 for an empty payload). */
  chunkBytesFor(length: number): number {
    return length === 0 ? 0 : this.classFor(length).chunkBytes;
  }

  /** Size of the chunk behind a handle (0 for NO_CHUNK). */
  chunkBytesOf(handle: number): number {
    return handle === NO_CHUNK ? 0 : this.pageOf(handle).sizeClass.chunkBytes;
  }

  /**
   * Stores `data` and returns its handle. If `previous` is a chunk of the same size class it is
   * overwritten in place; otherwise it is freed after the copy.
   */
  write(data: Uint8Array, previous: number): number {
    if (data.length === 0) {
      if (previous !== NO_CHUNK) this.free(previous);
      return NO_CHUNK;
    }
    const sizeClass = this.classFor(data.length);
    if (previous !== NO_CHUNK) {
      const page = this.pageOf(previous);
      if (page.sizeClass === sizeClass) {
        page.buffer.set(data, (previous & CHUNK_MASK) * sizeClass.chunkBytes);
        return previous;
      }
      this.free(previous);
    }
    const handle = this.allocate(sizeClass);
    const page = this.pageOf(handle);
    page.buffer.set(data, (handle & CHUNK_MASK) * sizeClass.chunkBytes);
    return handle;
  }

  /** A private copy of the first `length` bytes of a chunk. */
  read(handle: number, length: number): Buffer {
    if (handle === NO_CHUNK || length === 0) return Buffer.alloc(0);
    const page = this.pageOf(handle);
    const start = (handle & CHUNK_MASK) * page.sizeClass.chunkBytes;
    // allocUnsafe draws small copies from Node's shared pool: no Buffer-per-byte-array overhead.
    const copy = Buffer.allocUnsafe(length);
    page.buffer.copy(copy, 0, start, start + length);
    return copy;
  }

  /** Returns a chunk to its page. */
  free(handle: number): void {
    if (handle === NO_CHUNK) return;
    const page = this.pageOf(handle);
    const sizeClass = page.sizeClass;
    page.free[page.freeCount++] = handle & CHUNK_MASK;
    if (!page.available) {
      page.available = true;
      sizeClass.available.push(page);
    }
    if (page.freeCount === sizeClass.chunksPerPage) {
      // Keep one empty page per class as a cushion; give the rest back to the garbage collector.
      if (sizeClass.emptyPages >= 1) this.releasePage(page);
      else sizeClass.emptyPages++;
    }
  }

  private allocate(sizeClass: SizeClass): number {
    let page = sizeClass.available[sizeClass.available.length - 1];
    if (page === undefined) page = this.newPage(sizeClass);
    if (page.freeCount === sizeClass.chunksPerPage) sizeClass.emptyPages--;
    const chunk = page.free[--page.freeCount] as number;
    if (page.freeCount === 0) {
      page.available = false;
      sizeClass.available.pop();
    }
    return (page.id << CHUNK_BITS) | chunk;
  }

  private newPage(sizeClass: SizeClass): SlabPage {
    const id = this.freePageIds.pop() ?? this.pages.length;
    if (id >= MAX_PAGES) throw new RangeError("payload slabs exhausted the page id space");
    const chunks = sizeClass.chunksPerPage;
    const free = new Int32Array(chunks);
    // Hand out low chunk indexes first (the stack pops from the end).
    for (let i = 0; i < chunks; i++) free[i] = chunks - 1 - i;
    const page: SlabPage = {
      id,
      sizeClass,
      buffer: Buffer.allocUnsafeSlow(chunks * sizeClass.chunkBytes),
      free,
      freeCount: chunks,
      available: true,
    };
    this.pages[id] = page;
    sizeClass.available.push(page);
    sizeClass.emptyPages++;
    this.pageBytesTotal += page.buffer.length;
    return page;
  }

  private releasePage(page: SlabPage): void {
    const list = page.sizeClass.available;
    const at = list.lastIndexOf(page);
    if (at >= 0) list.splice(at, 1);
    page.available = false;
    this.pages[page.id] = undefined;
    this.freePageIds.push(page.id);
    this.pageBytesTotal -= page.buffer.length;
  }

  private pageOf(handle: number): SlabPage {
    const page = this.pages[handle >>> CHUNK_BITS];
    if (page === undefined) throw new Error("payload handle points to a released slab page");
    return page;
  }

  private classFor(length: number): SizeClass {
    if (length <= LINEAR_LIMIT) return this.classes[((length + LINEAR_STEP - 1) >> 6) - 1] as SizeClass;
    let lo = LINEAR_LIMIT / LINEAR_STEP;
    let hi = this.classes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.classes[mid] as SizeClass).chunkBytes >= length) hi = mid;
      else lo = mid + 1;
    }
    const sizeClass = this.classes[lo] as SizeClass;
    if (sizeClass.chunkBytes < length) throw new RangeError("payload larger than the largest slab class");
    return sizeClass;
  }
}
