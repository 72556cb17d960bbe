import { crc32 } from "node:zlib";
import type { SessionRow } from "../memory/session-journal";

/**
 * The records of the append-only log and the snapshot, and their binary form (little-endian):
 *
 * ```
 * record  = u32 length · u32 ~length · u32 crc32(payload) · payload[length]
 * payload = u8 type · u8 appLength · app · u16 idLength · sessionId · body
 * ```
 *
 * Every record is absolute (it sets state, it never adds to it), so replaying one twice is harmless:
 * a snapshot taken while changes go on is exact once the log written meanwhile is replayed over it.
 * The length is stored twice so that a damaged length is told from a record cut short by a crash.
 */

/** The session's whole state, data included (created or written). */
export const RECORD_STATE = 1;
/** The session's state without its data, which stays as it is (locked, released, expiry changed). */
export const RECORD_META = 2;
/** The session's sliding window restarted (best effort: a lost one costs a little of its ttl). */
export const RECORD_TOUCH = 3;
/** The session was removed. */
export const RECORD_REMOVE = 4;
/** Every lock id issued from now on is at least this (the key is empty). */
export const RECORD_LOCK_IDS = 5;
/** The last record of a snapshot: how many state records it holds (the key is empty). */
export const RECORD_SNAPSHOT_END = 6;

/** Bytes before a record's payload. */
export const RECORD_HEADER_BYTES = 12;
/** Bytes of the state columns in a state or meta record. */
const ROW_BYTES = 8 * 8 + 4;
/** A length above this is damage, not a record (the largest item is 1 GiB). */
export const MAX_RECORD_BYTES = 2 ** 31;

/** One decoded record. `data` is a view into the buffer it was read from: copy it to keep it. */
export interface LogRecord {
  readonly type: number;
  readonly app: string;
  readonly sessionId: string;
  /** State and meta records. */
  readonly row?: SessionRow;
  /** State records. */
  readonly data?: Uint8Array;
  /** Touch records: the new deadline. Lock-id records: the next id. Snapshot ends: the count. */
  readonly value?: number;
}

/**
 * Encodes records into one reusable buffer: {@link begin} a record, add its parts, {@link end} it
 * (which fills in the header), then take {@link bytes}. The data of a state record is not copied:
 * it is returned as a second part for a gathered write, its checksum folded in.
 */
export class RecordEncoder {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  private length = 0;
  private start = 0;
  private at = 0;
  /** Data parts to write after the buffer's bytes so far (zero or one per record). */
  private tail: Uint8Array | undefined;

  /** The encoded bytes, ready to write (a view: valid until the next {@link clear}). */
  parts(): readonly Uint8Array[] {
    const head = this.buffer.subarray(0, this.length);
    return this.tail === undefined ? [head] : [head, this.tail];
  }

  /** Bytes encoded. */
  get size(): number {
    return this.length + (this.tail?.length ?? 0);
  }

  /** Whether a data part is pending (then no other record may follow before the write). */
  get hasTail(): boolean {
    return this.tail !== undefined;
  }

  /** Forgets what was encoded. */
  clear(): void {
    this.length = 0;
    this.tail = undefined;
  }

  /**
   * A state or meta record (`data` only for state records). The data is not copied but written
   * after the buffer, unless `copy` (a snapshot, whose write is asynchronous).
   */
  row(type: number, app: string, sessionId: string, row: SessionRow, data?: Uint8Array, copy = false): void {
    this.begin(type, app, sessionId, ROW_BYTES + (data === undefined ? 0 : 4 + (copy ? data.length : 0)));
    const buffer = this.buffer;
    let at = this.at;
    at = buffer.writeDoubleLE(row.version, at);
    at = buffer.writeUInt32LE(row.ttlSeconds, at);
    at = buffer.writeDoubleLE(row.expiresAt, at);
    at = buffer.writeDoubleLE(row.lockId, at);
    at = buffer.writeDoubleLE(row.lockedAt, at);
    at = buffer.writeDoubleLE(row.leaseEnd, at);
    at = buffer.writeDoubleLE(row.lastReleasedLockId, at);
    at = buffer.writeDoubleLE(row.lastLeaseExpiredLockId, at);
    at = buffer.writeDoubleLE(row.firstLockId, at);
    if (data !== undefined) at = buffer.writeUInt32LE(data.length, at);
    if (copy && data !== undefined) {
      buffer.set(data, at);
      at += data.length;
    }
    this.at = at;
    this.end(copy ? undefined : data);
  }

  /** A touch record. */
  touch(app: string, sessionId: string, expiresAt: number): void {
    this.begin(RECORD_TOUCH, app, sessionId, 8);
    this.at = this.buffer.writeDoubleLE(expiresAt, this.at);
    this.end(undefined);
  }

  /** A remove record. */
  remove(app: string, sessionId: string): void {
    this.begin(RECORD_REMOVE, app, sessionId, 0);
    this.end(undefined);
  }

  /** A lock-id record or a snapshot end (an empty key and one number). */
  mark(type: typeof RECORD_LOCK_IDS | typeof RECORD_SNAPSHOT_END, value: number): void {
    this.begin(type, "", "", 8);
    this.at = this.buffer.writeDoubleLE(value, this.at);
    this.end(undefined);
  }

  private begin(type: number, app: string, sessionId: string, bodyBytes: number): void {
    if (this.tail !== undefined) throw new Error("a record with data must be written before the next one");
    const need = this.length + RECORD_HEADER_BYTES + 1 + 1 + app.length + 2 + sessionId.length + bodyBytes;
    if (need > this.buffer.length) this.grow(Math.max(need, this.buffer.length * 2));
    const buffer = this.buffer;
    this.start = this.length;
    let at = this.start + RECORD_HEADER_BYTES;
    buffer[at++] = type;
    buffer[at++] = app.length;
    at += buffer.write(app, at, "latin1");
    at = buffer.writeUInt16LE(sessionId.length, at);
    at += buffer.write(sessionId, at, "latin1");
    this.at = at;
  }

  private end(data: Uint8Array | undefined): void {
    const buffer = this.buffer;
    const start = this.start;
    const payloadStart = start + RECORD_HEADER_BYTES;
    const payloadLength = this.at - payloadStart + (data?.length ?? 0);
    let crc = crc32(buffer.subarray(payloadStart, this.at));
    if (data !== undefined && data.length > 0) crc = crc32(data, crc);
    buffer.writeUInt32LE(payloadLength, start);
    buffer.writeUInt32LE(~payloadLength >>> 0, start + 4);
    buffer.writeUInt32LE(crc >>> 0, start + 8);
    this.length = this.at;
    if (data !== undefined && data.length > 0) this.tail = data;
  }

  private grow(size: number): void {
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

/** What reading a record at an offset found. */
export type RecordRead =
  | { readonly kind: "record"; readonly record: LogRecord; readonly bytes: number }
  /** The buffer ends inside the record: read more, or (at the end of the file) the record is cut short. */
  | { readonly kind: "short"; readonly need: number }
  /** The header's two lengths disagree, or the checksum or the payload's form is wrong. */
  | { readonly kind: "damaged"; readonly why: string; readonly bytes?: number };

/**
 * Reads the record at `offset` of `buffer`.
 * @param end - where the valid bytes of `buffer` end.
 */
export function readRecord(buffer: Buffer, offset: number, end: number): RecordRead {
  if (end - offset < RECORD_HEADER_BYTES) return { kind: "short", need: RECORD_HEADER_BYTES };
  const length = buffer.readUInt32LE(offset);
  if ((~buffer.readUInt32LE(offset + 4) >>> 0) !== length || length > MAX_RECORD_BYTES || length < 4) {
    return { kind: "damaged", why: "the record header is damaged" };
  }
  const total = RECORD_HEADER_BYTES + length;
  if (end - offset < total) return { kind: "short", need: total };
  const payloadStart = offset + RECORD_HEADER_BYTES;
  const payload = buffer.subarray(payloadStart, payloadStart + length);
  // A whole record with a bad checksum or form says how long it is (the header checked out).
  if ((crc32(payload) >>> 0) !== buffer.readUInt32LE(offset + 8)) return { kind: "damaged", why: "the record checksum does not match", bytes: total };
  const record = decodePayload(payload);
  if (record === undefined) return { kind: "damaged", why: "the record is malformed", bytes: total };
  return { kind: "record", record, bytes: total };
}

function decodePayload(payload: Buffer): LogRecord | undefined {
  const length = payload.length;
  let at = 0;
  const type = payload[at++] as number;
  const appLength = payload[at++] as number;
  if (at + appLength + 2 > length) return undefined;
  const app = payload.toString("latin1", at, at + appLength);
  at += appLength;
  const idLength = payload.readUInt16LE(at);
  at += 2;
  if (at + idLength > length) return undefined;
  const sessionId = payload.toString("latin1", at, at + idLength);
  at += idLength;
  switch (type) {
    case RECORD_STATE:
    case RECORD_META: {
      const withData = type === RECORD_STATE;
      if (at + ROW_BYTES + (withData ? 4 : 0) > length || idLength === 0) return undefined;
      const row: SessionRow = {
        version: payload.readDoubleLE(at),
        ttlSeconds: payload.readUInt32LE(at + 8),
        expiresAt: payload.readDoubleLE(at + 12),
        lockId: payload.readDoubleLE(at + 20),
        lockedAt: payload.readDoubleLE(at + 28),
        leaseEnd: payload.readDoubleLE(at + 36),
        lastReleasedLockId: payload.readDoubleLE(at + 44),
        lastLeaseExpiredLockId: payload.readDoubleLE(at + 52),
        firstLockId: payload.readDoubleLE(at + 60),
      };
      at += ROW_BYTES;
      if (!withData) return at === length ? { type, app, sessionId, row } : undefined;
      const dataLength = payload.readUInt32LE(at);
      at += 4;
      if (at + dataLength !== length) return undefined;
      return { type, app, sessionId, row, data: payload.subarray(at, length) };
    }
    case RECORD_TOUCH:
      if (at + 8 !== length || idLength === 0) return undefined;
      return { type, app, sessionId, value: payload.readDoubleLE(at) };
    case RECORD_REMOVE:
      return at === length && idLength !== 0 ? { type, app, sessionId } : undefined;
    case RECORD_LOCK_IDS:
    case RECORD_SNAPSHOT_END:
      if (at + 8 !== length) return undefined;
      return { type, app, sessionId, value: payload.readDoubleLE(at) };
    default:
      return undefined;
  }
}

/** Bytes a state record of this key and data takes (for the snapshot's size estimate). */
export function stateRecordBytes(appLength: number, idLength: number, dataLength: number): number {
  return RECORD_HEADER_BYTES + 1 + 1 + appLength + 2 + idLength + ROW_BYTES + 4 + dataLength;
}
