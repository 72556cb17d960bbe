/**
 * Exact-size encoders for the two unary responses that carry session data (Get and Lock). The
 * generated encoder writes through a growing BinaryWriter and copies the payload twice (into the
 * writer's chunks, then into the finished buffer); these compute the size first and copy the
 * payload once. Byte for byte the same output as the generated encoders (checked by a test), which
 * they fall back to for values they do not handle (uint64 above 2^53).
 */
import { GetResponse, LockResponse, SessionStateService } from "@stateward/protocol";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest >= 128; rest = Math.floor(rest / 128)) size++;
  return size;
}

/** Writes a one-byte tag (field numbers 1-15) and a varint; returns the next position. */
function writeTagged(buffer: Buffer, at: number, tag: number, value: number): number {
  buffer[at] = tag;
  return writeVarint(buffer, at + 1, value);
}

function writeVarint(buffer: Buffer, at: number, value: number): number {
  let position = at;
  let rest = value;
  while (rest >= 128) {
    buffer[position++] = (rest % 128) | 128;
    rest = Math.floor(rest / 128);
  }
  buffer[position++] = rest;
  return position;
}

/** The fields of a Get or Lock response, with uint64s as (safe) numbers. */
interface Fields {
  readonly outcome: number;
  readonly data: Buffer;
  readonly version: number;
  readonly lockId: number;
  readonly lockAgeMs: number;
  readonly ttlSeconds: number;
  readonly created: boolean;
  readonly leaseMs: number;
}

function encode(fields: Fields): Buffer {
  // Proto3: default values are not written; fields in ascending number order, as the generator does.
  const { outcome, data, version, lockId, lockAgeMs, ttlSeconds, created, leaseMs } = fields;
  let size = 0;
  if (outcome !== 0) size += 1 + varintSize(outcome);
  if (data.length !== 0) size += 1 + varintSize(data.length) + data.length;
  if (version !== 0) size += 1 + varintSize(version);
  if (lockId !== 0) size += 1 + varintSize(lockId);
  if (lockAgeMs !== 0) size += 1 + varintSize(lockAgeMs);
  if (ttlSeconds !== 0) size += 1 + varintSize(ttlSeconds);
  if (created) size += 2;
  if (leaseMs !== 0) size += 1 + varintSize(leaseMs);
  const buffer = Buffer.allocUnsafe(size);
  let at = 0;
  if (outcome !== 0) at = writeTagged(buffer, at, 8, outcome);
  if (data.length !== 0) {
    at = writeTagged(buffer, at, 18, data.length);
    at += data.copy(buffer, at);
  }
  if (version !== 0) at = writeTagged(buffer, at, 24, version);
  if (lockId !== 0) at = writeTagged(buffer, at, 32, lockId);
  if (lockAgeMs !== 0) at = writeTagged(buffer, at, 40, lockAgeMs);
  if (ttlSeconds !== 0) at = writeTagged(buffer, at, 48, ttlSeconds);
  if (created) {
    buffer[at++] = 56;
    buffer[at++] = 1;
  }
  if (leaseMs !== 0) writeTagged(buffer, at, 64, leaseMs);
  return buffer;
}

function inRange(...values: bigint[]): boolean {
  for (const value of values) if (value > MAX_SAFE) return false;
  return true;
}

/** Encodes a GetResponse (same bytes as `GetResponse.encode(message).finish()`). */
export function encodeGetResponse(message: GetResponse): Buffer {
  if (!inRange(message.version, message.lockId, message.lockAgeMs) || message.outcome < 0) {
    return Buffer.from(GetResponse.encode(message).finish());
  }
  return encode({
    outcome: message.outcome,
    data: message.data,
    version: Number(message.version),
    lockId: Number(message.lockId),
    lockAgeMs: Number(message.lockAgeMs),
    ttlSeconds: message.ttlSeconds,
    created: false,
    leaseMs: 0,
  });
}

/** Encodes a LockResponse (same bytes as `LockResponse.encode(message).finish()`). */
export function encodeLockResponse(message: LockResponse): Buffer {
  if (!inRange(message.version, message.lockId, message.lockAgeMs) || message.outcome < 0) {
    return Buffer.from(LockResponse.encode(message).finish());
  }
  return encode({
    outcome: message.outcome,
    data: message.data,
    version: Number(message.version),
    lockId: Number(message.lockId),
    lockAgeMs: Number(message.lockAgeMs),
    ttlSeconds: message.ttlSeconds,
    created: message.created,
    leaseMs: message.leaseMs,
  });
}

/** The SessionState definition the server registers: the generated one with these encoders. */
export const SESSION_STATE_SERVER_DEFINITION = {
  ...SessionStateService,
  get: { ...SessionStateService.get, responseSerialize: encodeGetResponse },
  lock: { ...SessionStateService.lock, responseSerialize: encodeLockResponse },
};
