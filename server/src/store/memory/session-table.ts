import type { PayloadSlabs } from "./payload-slabs";

/** Initial slots per shard; columns grow by half when full. */
const INITIAL_CAPACITY = 1024;
/** The key index doubles when it is this full (linear probing stays short below it). */
const MAX_LOAD = 0.7;

/**
 * The sessions of one shard as struct-of-arrays columns indexed by slot, with their keys in an
 * open-addressing hash table of typed arrays and the session ids in a byte slab. There is no
 * JavaScript object, string or Map entry per session: memory stays near 150 B per session and the
 * garbage collector has nothing per session to trace, so its pauses do not grow with the number of
 * resident sessions.
 *
 * Columns are replaced when the table grows: read them through the table, never cache them across
 * an {@link SessionTable.allocate}. The table assigns only a slot's identity (app, id, hash) and
 * index positions; the session's state columns are written by session-changes.ts alone.
 */
export class SessionTable {
  /** Slots available before the next growth. */
  capacity = 0;
  /** Live slots. */
  size = 0;

  /** Epoch ms at which the session expires unless touched (a locked session lives to its lease end). */
  expiresAt = new Float64Array(0);
  /** The deadline last journaled (`--data-dir`), so that touches are journaled only now and then. */
  loggedExpiresAt = new Float64Array(0);
  /** The sliding window, in seconds. */
  ttlSeconds = new Uint32Array(0);
  /** Version: 1 on creation, +1 per write. */
  version = new Float64Array(0);
  /** The holder's lock id; 0 = unlocked. */
  lockId = new Float64Array(0);
  /** Epoch ms when the current lock was granted. */
  lockedAt = new Float64Array(0);
  /** Epoch ms when the current lock's lease ends. */
  leaseEnd = new Float64Array(0);
  /** Position in the shard's lease heap; -1 when not there. */
  leaseHeapPosition = new Int32Array(0);
  /** The last lock id whose lease ran out on this session (to say "lease ended" on a late write). */
  lastLeaseExpiredLockId = new Float64Array(0);
  /** The last lock id released by its holder (to tell a released lock from one whose lease ended). */
  lastReleasedLockId = new Float64Array(0);
  /** The next lock id when this incarnation was created: a lower id is from before (SESSION_GONE). */
  firstLockId = new Float64Array(0);
  /** Payload chunk handle (NO_CHUNK for an empty payload). */
  payload = new Int32Array(0);
  /** Payload length in bytes. */
  payloadLength = new Uint32Array(0);
  /** The expiry bucket (second) the slot is filed under in the shard's expiry index. */
  expiryBucket = new Int32Array(0);
  /** Index of the session's app in the backend's app registry. */
  appIndex = new Int32Array(0);
  /** Hash of (app, session id), as given to {@link SessionTable.allocate} (unsigned 32-bit). */
  keyHash = new Uint32Array(0);
  /** Session id chunk in {@link keys}. */
  keyChunk = new Int32Array(0);
  /** Session id length in bytes; 0 marks a free slot (ids are at least one byte). */
  keyLength = new Uint16Array(0);
  /** Free-slot stack. */
  private freeSlots = new Int32Array(0);
  private freeCount = 0;

  /** Open-addressing index: slot + 1 per bucket, 0 = empty; linear probing. */
  private buckets = new Int32Array(0);
  private bucketShift = 32;

  /**
   * @param keys - the slabs holding the session ids (shared by all shards).
   * @param ownerOf - the owner number under which a slot's id chunk is filed in `keys` (compaction
   *   reports moves by owner; the shard set maps them back to the slot's `keyChunk`).
   */
  constructor(
    private readonly keys: PayloadSlabs,
    private readonly ownerOf: (slot: number) => number,
  ) {
    this.grow(INITIAL_CAPACITY);
    this.resizeIndex(INITIAL_CAPACITY * 2);
  }

  /** Whether `slot` holds a session. */
  isLive(slot: number): boolean {
    return this.keyLength[slot] !== 0;
  }

  /**
   * The slot of (appIndex, sessionId), or -1.
   * @param hash - the key's hash, as computed by `keyHash` in session-shard.ts.
   */
  find(appIndex: number, sessionId: string, hash: number): number {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    for (let at = this.homeOf(hash); ; at = (at + 1) & mask) {
      const entry = buckets[at] as number;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (
        this.keyHash[slot] === hash &&
        this.appIndex[slot] === appIndex &&
        this.keyLength[slot] === sessionId.length &&
        this.keys.equalsAscii(this.keyChunk[slot] as number, sessionId)
      ) {
        return slot;
      }
    }
  }

  /** The session id of a live slot (decoded from the slab: for events, not for the hot path). */
  sessionIdOf(slot: number): string {
    return this.keys.readAscii(this.keyChunk[slot] as number, this.keyLength[slot] as number);
  }

  /**
   * Takes a free slot for a new session that {@link find} did not find, and indexes it under its
   * key. Its state columns still hold what the slot's last session left: the caller sets them.
   */
  allocate(appIndex: number, sessionId: string, hash: number): number {
    if (this.freeCount === 0) this.grow(Math.ceil(this.capacity * 1.5));
    if ((this.size + 1) > this.buckets.length * MAX_LOAD) this.resizeIndex(this.buckets.length * 2);
    const slot = this.freeSlots[--this.freeCount] as number;
    this.appIndex[slot] = appIndex;
    this.keyHash[slot] = hash;
    this.keyChunk[slot] = this.keys.writeAscii(sessionId, this.ownerOf(slot));
    this.keyLength[slot] = sessionId.length;
    this.leaseHeapPosition[slot] = -1;
    this.insert(slot);
    this.size++;
    return slot;
  }

  /** Removes a live slot from the index and frees it (its payload must have been freed by the caller). */
  free(slot: number): void {
    this.unindex(slot);
    this.keys.free(this.keyChunk[slot] as number);
    this.keyLength[slot] = 0;
    this.freeSlots[this.freeCount++] = slot;
    this.size--;
  }

  /** Fibonacci hashing: the high bits, so keys that share their low bits (one shard's) spread. */
  private homeOf(hash: number): number {
    return Math.imul(hash, 0x9e3779b1) >>> this.bucketShift;
  }

  private insert(slot: number): void {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    let at = this.homeOf(this.keyHash[slot] as number);
    while (buckets[at] !== 0) at = (at + 1) & mask;
    buckets[at] = slot + 1;
  }

  /** Linear-probing deletion by backward shift: no tombstones, so probes stay short. */
  private unindex(slot: number): void {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    let hole = this.homeOf(this.keyHash[slot] as number);
    while (buckets[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let at = (hole + 1) & mask; buckets[at] !== 0; at = (at + 1) & mask) {
      const entry = buckets[at] as number;
      const home = this.homeOf(this.keyHash[entry - 1] as number);
      // The entry may move into the hole unless its home lies cyclically in (hole, at].
      const stays = hole <= at ? home > hole && home <= at : home > hole || home <= at;
      if (!stays) {
        buckets[hole] = entry;
        hole = at;
      }
    }
    buckets[hole] = 0;
  }

  private resizeIndex(size: number): void {
    this.buckets = new Int32Array(size);
    this.bucketShift = 32 - Math.log2(size);
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.keyLength[slot] !== 0) this.insert(slot);
    }
  }

  private grow(capacity: number): void {
    const old = this.capacity;
    this.expiresAt = growFloat64(this.expiresAt, capacity);
    this.loggedExpiresAt = growFloat64(this.loggedExpiresAt, capacity);
    this.ttlSeconds = growUint32(this.ttlSeconds, capacity);
    this.version = growFloat64(this.version, capacity);
    this.lockId = growFloat64(this.lockId, capacity);
    this.lockedAt = growFloat64(this.lockedAt, capacity);
    this.leaseEnd = growFloat64(this.leaseEnd, capacity);
    this.leaseHeapPosition = growInt32(this.leaseHeapPosition, capacity);
    this.lastLeaseExpiredLockId = growFloat64(this.lastLeaseExpiredLockId, capacity);
    this.lastReleasedLockId = growFloat64(this.lastReleasedLockId, capacity);
    this.firstLockId = growFloat64(this.firstLockId, capacity);
    this.payload = growInt32(this.payload, capacity);
    this.payloadLength = growUint32(this.payloadLength, capacity);
    this.expiryBucket = growInt32(this.expiryBucket, capacity);
    this.appIndex = growInt32(this.appIndex, capacity);
    this.keyHash = growUint32(this.keyHash, capacity);
    this.keyChunk = growInt32(this.keyChunk, capacity);
    const keyLength = new Uint16Array(capacity);
    keyLength.set(this.keyLength);
    this.keyLength = keyLength;
    const freeSlots = new Int32Array(capacity);
    freeSlots.set(this.freeSlots.subarray(0, this.freeCount));
    // New slots are pushed so that the lowest index is handed out first.
    let count = this.freeCount;
    for (let slot = capacity - 1; slot >= old; slot--) freeSlots[count++] = slot;
    this.freeSlots = freeSlots;
    this.freeCount = count;
    this.capacity = capacity;
  }
}

function growFloat64(column: Float64Array, capacity: number) {
  const grown = new Float64Array(capacity);
  grown.set(column);
  return grown;
}

function growInt32(column: Int32Array, capacity: number) {
  const grown = new Int32Array(capacity);
  grown.set(column);
  return grown;
}

function growUint32(column: Uint32Array, capacity: number) {
  const grown = new Uint32Array(capacity);
  grown.set(column);
  return grown;
}
