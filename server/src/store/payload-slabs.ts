/**
 * Session payloads live in large slab pages, never in one Buffer per session: a Buffer object per
 * session costs about 600 B of overhead and makes full GCs slow at a million sessions, while a few
 * hundred big pages cost nothing per session. Memcached-style size classes: each class cuts its
 * pages into equal chunks; a session holds an integer handle (page id and chunk index).
 */

/** Handle of "no chunk" (empty payloads take no slab space). */
export const NO_CHUNK = -1;

/** How a slab allocator cuts its pages. */
export interface SlabLayout {
  /** Target size of a slab page; a class whose chunk is larger gets one chunk per page. */
  readonly pageBytes: number;
  /** Chunk sizes grow in steps of this many bytes up to `linearLimit` (also the smallest chunk). */
  readonly linearStep: number;
  /** Above this, chunk sizes grow geometrically (at most 12.5 % wasted per chunk). */
  readonly linearLimit: number;
}

/** Session payloads: 1 MiB pages, 64-byte steps up to 1 KiB. */
export const PAYLOAD_LAYOUT: SlabLayout = { pageBytes: 1024 * 1024, linearStep: 64, linearLimit: 1024 };

/** Session ids (1-256 bytes): 256 KiB pages, 16-byte steps. */
export const KEY_LAYOUT: SlabLayout = { pageBytes: 256 * 1024, linearStep: 16, linearLimit: 256 };

/** Geometric growth of chunk sizes above the linear limit: at most 12.5 % wasted per chunk. */
const GROWTH = 1.125;
/** Bits of a handle that hold the chunk index: a page may have at most 16,384 chunks. */
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

/** A slab allocator (for payloads or session ids). Single-threaded; not shared between stores. */
export class PayloadSlabs {
  private readonly classes: SizeClass[] = [];
  private readonly pages: (SlabPage | undefined)[] = [];
  private readonly freePageIds: number[] = [];
  private pageBytesTotal = 0;
  private readonly linearStep: number;
  private readonly linearLimit: number;

  /**
   * @param maxItemBytes - the largest item that must fit (decides the largest class).
   * @param layout - page size and size classes.
   */
  constructor(maxItemBytes: number, layout: SlabLayout = PAYLOAD_LAYOUT) {
    const step = layout.linearStep;
    if (layout.pageBytes / step > 1 << CHUNK_BITS) throw new RangeError("slab pages would hold too many chunks");
    this.linearStep = step;
    this.linearLimit = layout.linearLimit;
    let size = step;
    for (;;) {
      this.classes.push({
        chunkBytes: size,
        chunksPerPage: Math.max(1, Math.floor(layout.pageBytes / size)),
        available: [],
        emptyPages: 0,
      });
      if (size >= maxItemBytes) break;
      size = size < layout.linearLimit ? size + step : Math.ceil((size * GROWTH) / step) * step;
      if (size > maxItemBytes) size = Math.ceil(maxItemBytes / step) * step;
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

  /** Stores an ASCII string (one byte per char) and returns its handle. */
  writeAscii(text: string): number {
    const handle = this.allocate(this.classFor(text.length));
    const page = this.pageOf(handle);
    page.buffer.write(text, (handle & CHUNK_MASK) * page.sizeClass.chunkBytes, text.length, "latin1");
    return handle;
  }

  /** Whether the chunk holds exactly the ASCII string `text` in its first `text.length` bytes. */
  equalsAscii(handle: number, text: string): boolean {
    const page = this.pageOf(handle);
    const buffer = page.buffer;
    const start = (handle & CHUNK_MASK) * page.sizeClass.chunkBytes;
    for (let i = 0; i < text.length; i++) {
      if (buffer[start + i] !== text.charCodeAt(i)) return false;
    }
    return true;
  }

  /** The first `length` bytes of a chunk as an ASCII string. */
  readAscii(handle: number, length: number): string {
    const page = this.pageOf(handle);
    const start = (handle & CHUNK_MASK) * page.sizeClass.chunkBytes;
    return page.buffer.toString("latin1", start, start + length);
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
    const step = this.linearStep;
    if (length <= this.linearLimit) return this.classes[Math.max(0, Math.ceil(length / step) - 1)] as SizeClass;
    let lo = this.linearLimit / step;
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
