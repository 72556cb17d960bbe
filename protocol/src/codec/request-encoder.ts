/**
 * Exact-size encoder for the PipelineRequest a client sends. The generated encoder writes through
 * a growing BinaryWriter and forks and joins twice per operation (the PipelineOperation, then its
 * request): each Set's payload is copied into the writer, moved again at each join and copied out
 * at the end; this one computes the size first, allocates once and copies each payload once.
 * Byte for byte the output of `PipelineRequest.encode(message).finish()` (a property test checks
 * it), which it falls back to for any value outside its fast path (a number out of its field's
 * range, a value of the wrong type from a JavaScript caller, passes that disagree).
 */
import { PipelineRequest, type PipelineOperation } from "../gen/stateward/v1/session_state";
import { UNENCODABLE, Unencodable, u32, u64, writeBytes, writeString, writeVarint64Field, writeVarintField } from "./checked-fields";
import { delimitedSize, utf8Size, varintSize, writeVarint, writeVarint64 } from "./wire-primitives";

type Request = NonNullable<PipelineOperation["request"]>;

/** Size of a string field with its one-byte tag, 0 for the empty string (proto3 leaves it out). */
function stringSize(text: string): number {
  if (typeof text !== "string") throw UNENCODABLE;
  return text === "" ? 0 : delimitedSize(utf8Size(text));
}

/** Size of an optional string field: present (even when empty) unless undefined, as the generated encoder writes it. */
function optionalStringSize(text: string | undefined): number {
  if (text === undefined) return 0;
  if (typeof text !== "string") throw UNENCODABLE;
  return delimitedSize(utf8Size(text));
}

/** Size of a bool field: written unless false, as the generated encoder does (so also for a stray undefined). */
function boolSize(value: boolean): number {
  return value !== false ? 2 : 0;
}

/** Size of a uint32 field with its tag, 0 for 0. */
function u32Field(value: number): number {
  return value === 0 ? 0 : 1 + u32(value);
}

/** Size of a uint64 field with its tag, 0 for 0. */
function u64Field(value: bigint): number {
  return value === 0n ? 0 : 1 + u64(value);
}

/** Size of the operation's request message (without its own tag and length). */
function requestSize(request: Request): number {
  const value = request.value;
  const base = stringSize(value.app) + stringSize(value.sessionId);
  switch (request.$case) {
    case "get":
      return base + u32Field(request.value.waitMs);
    case "lock": {
      const lock = request.value;
      return base + u32Field(lock.waitMs) + u32Field(lock.leaseMs) + boolSize(lock.create) + u32Field(lock.ttlSeconds);
    }
    case "set": {
      const set = request.value;
      const length = set.data.length;
      return (
        base +
        (length === 0 ? 0 : delimitedSize(length)) +
        u32Field(set.ttlSeconds) +
        u64Field(set.lockId) +
        boolSize(set.keepLock) +
        u64Field(set.expectedVersion) +
        boolSize(set.onlyIfAbsent)
      );
    }
    case "release":
    case "remove":
      return base + u64Field(request.value.lockId);
    case "expire":
      return base + u32Field(request.value.ttlSeconds);
    default:
      throw UNENCODABLE;
  }
}

const REQUEST_TAGS = { get: 26, lock: 34, set: 42, release: 50, expire: 58, remove: 66 } as const;

function writeBool(buffer: Buffer, at: number, tag: number, value: boolean): number {
  if (value === false) return at;
  buffer[at] = tag;
  buffer[at + 1] = value ? 1 : 0;
  return at + 2;
}

function writeRequest(buffer: Buffer, start: number, request: Request): number {
  const value = request.value;
  let at = start;
  if (value.app !== "") at = writeString(buffer, at, 10, value.app);
  if (value.sessionId !== "") at = writeString(buffer, at, 18, value.sessionId);
  switch (request.$case) {
    case "get":
      return writeVarintField(buffer, at, 24, request.value.waitMs);
    case "lock": {
      const lock = request.value;
      at = writeVarintField(buffer, at, 24, lock.waitMs);
      at = writeVarintField(buffer, at, 32, lock.leaseMs);
      at = writeBool(buffer, at, 40, lock.create);
      return writeVarintField(buffer, at, 48, lock.ttlSeconds);
    }
    case "set": {
      const set = request.value;
      at = writeBytes(buffer, at, 26, set.data);
      at = writeVarintField(buffer, at, 32, set.ttlSeconds);
      at = writeVarint64Field(buffer, at, 40, set.lockId);
      at = writeBool(buffer, at, 48, set.keepLock);
      at = writeVarint64Field(buffer, at, 56, set.expectedVersion);
      return writeBool(buffer, at, 64, set.onlyIfAbsent);
    }
    case "release":
    case "remove":
      return writeVarint64Field(buffer, at, 24, request.value.lockId);
    case "expire":
      return writeVarintField(buffer, at, 24, request.value.ttlSeconds);
  }
}

/** Per operation of the message being encoded: its PipelineOperation size, and its request's. */
let sizes = new Float64Array(512);

function encodePipelineRequestFast(message: PipelineRequest): Buffer {
  const operations = message.operations;
  const count = operations.length;
  if (sizes.length < count * 2) sizes = new Float64Array(count * 2);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const operation = operations[i] as PipelineOperation;
    let size = u64Field(operation.id) + u32Field(operation.timeoutMs);
    const request = operation.request;
    let inner = 0;
    if (request !== undefined) {
      inner = requestSize(request);
      size += delimitedSize(inner);
    }
    size += optionalStringSize(operation.traceparent) + optionalStringSize(operation.tracestate);
    sizes[2 * i] = size;
    sizes[2 * i + 1] = inner;
    total += delimitedSize(size);
  }
  const cancelIds = message.cancelIds;
  let cancelBytes = 0;
  for (const id of cancelIds) cancelBytes += u64(id);
  if (cancelIds.length !== 0) total += 1 + varintSize(cancelBytes) + cancelBytes;
  const buffer = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const operation = operations[i] as PipelineOperation;
    buffer[at++] = 10;
    at = writeVarint(buffer, at, sizes[2 * i] as number);
    at = writeVarint64Field(buffer, at, 8, operation.id);
    at = writeVarintField(buffer, at, 16, operation.timeoutMs);
    const request = operation.request;
    if (request !== undefined) {
      buffer[at++] = REQUEST_TAGS[request.$case];
      at = writeVarint(buffer, at, sizes[2 * i + 1] as number);
      at = writeRequest(buffer, at, request);
    }
    if (operation.traceparent !== undefined) at = writeString(buffer, at, 74, operation.traceparent);
    if (operation.tracestate !== undefined) at = writeString(buffer, at, 82, operation.tracestate);
  }
  if (cancelIds.length !== 0) {
    buffer[at++] = 18;
    at = writeVarint(buffer, at, cancelBytes);
    for (const id of cancelIds) at = writeVarint64(buffer, at, id);
  }
  // Both passes read the same fields; should they ever disagree (a getter that changes its value,
  // a re-entrant call through one), the generated encoder is the answer, never a torn buffer.
  if (at !== total) throw UNENCODABLE;
  return buffer;
}

/** Encodes a PipelineRequest (the bytes of `PipelineRequest.encode(message).finish()`). */
export function encodePipelineRequest(message: PipelineRequest): Buffer {
  try {
    return encodePipelineRequestFast(message);
  } catch (error) {
    if (!(error instanceof Unencodable)) throw error;
    return Buffer.from(PipelineRequest.encode(message).finish());
  }
}
