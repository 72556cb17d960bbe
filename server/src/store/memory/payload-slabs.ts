/** The view of an empty payload (shared). */
const EMPTY_VIEW = new Uint8Array(0);

/**
 * Session payloads (and session ids) live in slab pages, never in one Buffer per session: a Buffer
 * object per session costs about 600 B of overhead and makes full GCs slow at a million sessions,
 * while a few thousand pages cost nothing per session. Memcached-style size classes: each class
 * cuts its pages into equal chunks; a session holds an integer handle (page id and chunk index).
 *
 * Unlike memcached, the slabs compact themselves, so that the memory held stays close to the memory
 * charged whatever the pattern of writes and removals (an adversary who keeps one session per page
 * cannot make the process hold more than a few pages per class beyond what is in use):
 * - every chunk records its owner (an opaque number the caller gives), so a chunk can be moved and
 *   its owner told its new handle;
 * - allocation takes from the fullest pages first, so that sparse pages drain;
 * - a page is released as soon as it is empty;
 * - a class that holds more than one page plus 1/8 of its used chunks free is compacted: its
 *   sparsest pages are evacuated into the others and released (Redis's active defragmentation does
 *   the same for jemalloc's pages). Compaction runs in time-boxed slices ({@link compact}, called
 *   by the backend's timer like the expiry sweep), not on the free itself: while sessions are being
 *   removed or expired en masse their pages empty by themselves, and moving chunks that are about
 *   to be freed would be wasted work. Each evacuation moves at most one page of chunks.
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

/**
 * Pages just under 64 KiB: small enough that a class's partly filled pages cost little (the bound on
 * what the slabs hold beyond what is used is a few pages per class), and, with malloc's allocation
 * header, exactly one 64 KiB mapping when the process runs with `MALLOC_MMAP_THRESHOLD_=65536` (as
 * the `stateward` command does), so that a released page goes back to the OS at once.
 */
const PAGE_BYTES = 64 * 1024 - 64;

/** Session payloads: 64-byte steps up to 1 KiB, then geometric. */
export const PAYLOAD_LAYOUT: SlabLayout = { pageBytes: PAGE_BYTES, linearStep: 64, linearLimit: 1024 };

/** Session ids (1-256 bytes): 16-byte steps. */
export const KEY_LAYOUT: SlabLayout = { pageBytes: PAGE_BYTES, linearStep: 16, linearLimit: 256 };

/** Told the new handle of a chunk that compaction moved. */
export type Relocate = (owner: number, handle: number) => void;

/** Geometric growth of chunk sizes above the linear limit: at most 12.5 % wasted per chunk. */
const GROWTH = 1.125;
/** Bits of a handle that hold the chunk index: a page may have at most 4,096 chunks. */
const CHUNK_BITS = 12;
const CHUNK_MASK = (1 << CHUNK_BITS) - 1;
/** Page ids must fit in the remaining 19 bits of a positive int32 handle. */
const MAX_PAGES = 1 << (31 - CHUNK_BITS);
/** Fill levels by which non-full pages are grouped (allocation takes from the fullest). */
const BINS = 8;
/** A class may hold this share of its used chunks free (beyond one page) before it is compacted. */
const SLACK_FRACTION = 1 / 8;

interface SlabPage {
  readonly id: number;
  readonly sizeClass: SizeClass;
  readonly buffer: Buffer;
  /**
   * Per chunk: its owner (>= 0) when in use; when free, -(next free chunk + 2), so -1 ends the
   * page's free list.
   */
  readonly owners: Float64Array;
  /** First free chunk, or -1. */
  freeHead: number;
  /** Chunks in use. */
  used: number;
  /** The fill bin the page is in (-1: full, or being evacuated), and its position there. */
  bin: number;
  binPosition: number;
  /** Being emptied by compaction: never an allocation target. */
  evacuating: boolean;
}

interface SizeClass {
  readonly chunkBytes: number;
  readonly chunksPerPage: number;
  /** Non-full pages by fill level (bin i holds pages with used * BINS / chunksPerPage in [i, i+1)). */
  readonly bins: SlabPage[][];
  pages: number;
  usedChunks: number;
}

/** A compacting slab allocator (for payloads or session ids). Single-threaded. */
export class PayloadSlabs {
  private readonly classes: SizeClass[] = [];
  private readonly pages: (SlabPage | undefined)[] = [];
  private readonly freePageIds: number[] = [];
  private pageBytesTotal = 0;
  private releasedBytesTotal = 0;
  private readonly linearStep: number;
  private readonly linearLimit: number;
  private movedChunks = 0;
  /** Classes that hold too much free space, to compact in the next slice. */
  private readonly toCompact = new Set<SizeClass>();

  /**
   * @param maxItemBytes - the largest item that must fit (decides the largest class).
   * @param layout - page size and size classes.
   * @param relocate - told every move compaction makes (owner, new handle); the old handle is then
   *   invalid. Called only from {@link compact}, never from write, free or read.
   */
  constructor(
    maxItemBytes: number,
    layout: SlabLayout = PAYLOAD_LAYOUT,
    private readonly relocate: Relocate = () => undefined,
  ) {
    const step = layout.linearStep;
    if (layout.pageBytes / step > 1 << CHUNK_BITS) throw new RangeError("slab pages would hold too many chunks");
    this.linearStep = step;
    this.linearLimit = layout.linearLimit;
    let size = step;
    for (;;) {
      this.classes.push({
        chunkBytes: size,
        chunksPerPage: Math.max(1, Math.floor(layout.pageBytes / size)),
        bins: Array.from({ length: BINS }, () => []),
        pages: 0,
        usedChunks: 0,
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

  /** Bytes of slab pages released so far (monotonic): what can go back to the OS after a GC. */
  get releasedBytes(): number {
    return this.releasedBytesTotal;
  }

  /** Number of slab pages allocated. */
  get pageCount(): number {
    return this.pages.length - this.freePageIds.length;
  }

  /** Bytes of the chunks in use (what is charged; {@link pageBytes} is what is held). */
  get usedBytes(): number {
    let bytes = 0;
    for (const sizeClass of this.classes) bytes += sizeClass.usedChunks * sizeClass.chunkBytes;
    return bytes;
  }

  /** Chunks moved by compaction so far. */
  get moves(): number {
    return this.movedChunks;
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
   * Stores `data` for `owner` and returns its handle. If `previous` is a chunk of the same size
   * class it is overwritten in place; otherwise it is freed after the copy.
   */
  write(data: Uint8Array, previous: number, owner: number): number {
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
    }
    // Allocate before freeing: the new chunk then never lands in the page the free may release.
    const handle = this.allocate(sizeClass, owner);
    const page = this.pageOf(handle);
    page.buffer.set(data, (handle & CHUNK_MASK) * sizeClass.chunkBytes);
    if (previous !== NO_CHUNK) this.free(previous);
    return handle;
  }

  /** Stores an ASCII string (one byte per char) for `owner` and returns its handle. */
  writeAscii(text: string, owner: number): number {
    const handle = this.allocate(this.classFor(text.length), owner);
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

  /** The first `length` bytes of a chunk, not copied: valid until the chunk is written, freed or moved. */
  view(handle: number, length: number): Uint8Array {
    if (handle === NO_CHUNK || length === 0) return EMPTY_VIEW;
    const page = this.pageOf(handle);
    const start = (handle & CHUNK_MASK) * page.sizeClass.chunkBytes;
    return page.buffer.subarray(start, start + length);
  }

  /** Returns a chunk to its page (an empty page is released at once). */
  free(handle: number): void {
    if (handle === NO_CHUNK) return;
    const page = this.pageOf(handle);
    this.release(page, handle & CHUNK_MASK);
    const sizeClass = page.sizeClass;
    if (page.used === 0) {
      this.dropPage(page);
    } else if (this.needsCompaction(sizeClass)) {
      this.toCompact.add(sizeClass);
    }
  }

  /** Whether some class waits for {@link compact}. */
  get compactionPending(): boolean {
    return this.toCompact.size > 0;
  }

  /**
   * Evacuates sparse pages of the classes that hold too much free space, until none does or
   * `outOfBudget` says stop (checked after each page). Moves are reported through `relocate`.
   * @returns true if nothing is left to compact.
   */
  compact(outOfBudget: () => boolean): boolean {
    for (const sizeClass of this.toCompact) {
      while (this.needsCompaction(sizeClass)) {
        // Progress is certain: more than a page of free chunks means a non-full page to evacuate.
        this.evacuateSparsest(sizeClass);
        if (outOfBudget()) {
          if (!this.needsCompaction(sizeClass)) this.toCompact.delete(sizeClass);
          return this.toCompact.size === 0;
        }
      }
      this.toCompact.delete(sizeClass);
    }
    return true;
  }

  private needsCompaction(sizeClass: SizeClass): boolean {
    const perPage = sizeClass.chunksPerPage;
    const freeChunks = sizeClass.pages * perPage - sizeClass.usedChunks;
    return perPage > 1 && freeChunks > perPage + sizeClass.usedChunks * SLACK_FRACTION;
  }

  /** Moves every chunk of the class's sparsest page into its other pages, and releases it. */
  private evacuateSparsest(sizeClass: SizeClass): void {
    let victim: SlabPage | undefined;
    for (const bin of sizeClass.bins) {
      victim = bin[bin.length - 1];
      if (victim !== undefined) break;
    }
    if (victim === undefined) return;
    this.unbin(victim);
    victim.evacuating = true;
    const owners = victim.owners;
    const chunkBytes = sizeClass.chunkBytes;
    for (let chunk = 0; chunk < owners.length; chunk++) {
      const owner = owners[chunk] as number;
      if (owner < 0) continue;
      // The other pages have room: the class holds more than a page of free chunks beyond the victim's.
      const handle = this.allocate(sizeClass, owner);
      const target = this.pageOf(handle);
      victim.buffer.copy(target.buffer, (handle & CHUNK_MASK) * chunkBytes, chunk * chunkBytes, (chunk + 1) * chunkBytes);
      this.release(victim, chunk);
      this.movedChunks++;
      this.relocate(owner, handle);
    }
    this.dropPage(victim);
  }

  private allocate(sizeClass: SizeClass, owner: number): number {
    let page: SlabPage | undefined;
    for (let bin = BINS - 1; bin >= 0 && page === undefined; bin--) {
      const pages = sizeClass.bins[bin] as SlabPage[];
      page = pages[pages.length - 1];
    }
    page ??= this.newPage(sizeClass);
    const chunk = page.freeHead;
    page.freeHead = -(page.owners[chunk] as number) - 2;
    page.owners[chunk] = owner;
    page.used++;
    sizeClass.usedChunks++;
    this.rebin(page);
    return (page.id << CHUNK_BITS) | chunk;
  }

  /** Marks a chunk free (no compaction, no page release). */
  private release(page: SlabPage, chunk: number): void {
    page.owners[chunk] = -(page.freeHead + 2);
    page.freeHead = chunk;
    page.used--;
    page.sizeClass.usedChunks--;
    if (!page.evacuating) this.rebin(page);
  }

  /** Files a page in the bin of its fill level (full pages are in none). */
  private rebin(page: SlabPage): void {
    const perPage = page.sizeClass.chunksPerPage;
    const bin = page.used >= perPage ? -1 : Math.floor((page.used * BINS) / perPage);
    if (bin === page.bin) return;
    this.unbin(page);
    if (bin === -1) return;
    const pages = page.sizeClass.bins[bin] as SlabPage[];
    page.bin = bin;
    page.binPosition = pages.length;
    pages.push(page);
  }

  private unbin(page: SlabPage): void {
    if (page.bin === -1) return;
    const pages = page.sizeClass.bins[page.bin] as SlabPage[];
    const last = pages.pop() as SlabPage;
    if (last !== page) {
      pages[page.binPosition] = last;
      last.binPosition = page.binPosition;
    }
    page.bin = -1;
    page.binPosition = -1;
  }

  private newPage(sizeClass: SizeClass): SlabPage {
    const id = this.freePageIds.pop() ?? this.pages.length;
    if (id >= MAX_PAGES) throw new RangeError("payload slabs exhausted the page id space");
    const chunks = sizeClass.chunksPerPage;
    const owners = new Float64Array(chunks);
    // Free list in chunk order: low chunk indexes are handed out first.
    for (let i = 0; i < chunks; i++) owners[i] = -(i + 1 + 2);
    owners[chunks - 1] = -1;
    const page: SlabPage = {
      id,
      sizeClass,
      buffer: Buffer.allocUnsafeSlow(chunks * sizeClass.chunkBytes),
      owners,
      freeHead: 0,
      used: 0,
      bin: -1,
      binPosition: -1,
      evacuating: false,
    };
    this.pages[id] = page;
    sizeClass.pages++;
    this.pageBytesTotal += page.buffer.length;
    return page;
  }

  /** Gives an empty page back (to the garbage collector, and through it to malloc). */
  private dropPage(page: SlabPage): void {
    this.unbin(page);
    this.pages[page.id] = undefined;
    this.freePageIds.push(page.id);
    page.sizeClass.pages--;
    this.pageBytesTotal -= page.buffer.length;
    this.releasedBytesTotal += page.buffer.length;
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
