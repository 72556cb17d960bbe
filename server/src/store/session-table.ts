import { NO_CHUNK } from "./payload-slabs";

/** Initial slots per shard; columns grow by half when full. */
const INITIAL_CAPACITY = 1024;

/**
 * The sessions of one shard as struct-of-arrays columns indexed by slot. Keeping per-session state
 * in typed arrays (instead of one object per session) keeps memory near 200 B per session and
 * leaves the garbage collector almost nothing to trace, whatever the number of resident sessions.
 *
 * Columns are replaced when the table grows: read them through the table, never cache them across
 * an {@link SessionTable.allocate}.
 */
export class SessionTable {
  /** Slots available before the next growth. */
  capacity = 0;
  /** Live slots. */
  size = 0;

  /** Epoch ms at which the session expires unless touched (a locked session lives to its lease end). */
  expiresAt = new Float64Array(0);
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
  /** Payload chunk handle (NO_CHUNK for an empty payload). */
  payload = new Int32Array(0);
  /** Payload length in bytes. */
  payloadLength = new Uint32Array(0);
  /** The expiry bucket (second) the slot is filed under in the shard's expiry index. */
  expiryBucket = new Int32Array(0);
  /** Index of the session's app in the store's app registry. */
  appIndex = new Int32Array(0);
  /** The session id; undefined marks a free slot. */
  sessionIds: (string | undefined)[] = [];
  /** Free-slot stack. */
  private freeSlots = new Int32Array(0);
  private freeCount = 0;

  constructor() {
    this.grow(INITIAL_CAPACITY);
  }

  /** Whether `slot` holds a session. */
  isLive(slot: number): boolean {
    return this.sessionIds[slot] !== undefined;
  }

  /** Takes a free slot for a new session (columns are reset to an unlocked, empty session). */
  allocate(sessionId: string, appIndex: number): number {
    if (this.freeCount === 0) this.grow(Math.ceil(this.capacity * 1.5));
    const slot = this.freeSlots[--this.freeCount] as number;
    this.sessionIds[slot] = sessionId;
    this.appIndex[slot] = appIndex;
    this.lockId[slot] = 0;
    this.lastLeaseExpiredLockId[slot] = 0;
    this.leaseHeapPosition[slot] = -1;
    this.payload[slot] = NO_CHUNK;
    this.payloadLength[slot] = 0;
    this.size++;
    return slot;
  }

  /** Returns a slot to the free stack (its payload must have been freed by the caller). */
  release(slot: number): void {
    this.sessionIds[slot] = undefined;
    this.freeSlots[this.freeCount++] = slot;
    this.size--;
  }

  private grow(capacity: number): void {
    const old = this.capacity;
    this.expiresAt = growFloat64(this.expiresAt, capacity);
    this.ttlSeconds = growUint32(this.ttlSeconds, capacity);
    this.version = growFloat64(this.version, capacity);
    this.lockId = growFloat64(this.lockId, capacity);
    this.lockedAt = growFloat64(this.lockedAt, capacity);
    this.leaseEnd = growFloat64(this.leaseEnd, capacity);
    this.leaseHeapPosition = growInt32(this.leaseHeapPosition, capacity);
    this.lastLeaseExpiredLockId = growFloat64(this.lastLeaseExpiredLockId, capacity);
    this.payload = growInt32(this.payload, capacity);
    this.payloadLength = growUint32(this.payloadLength, capacity);
    this.expiryBucket = growInt32(this.expiryBucket, capacity);
    this.appIndex = growInt32(this.appIndex, capacity);
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
