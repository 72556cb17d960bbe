/**
 * Exact-size encoders for the server's responses that carry session data: GetResponse and
 * LockResponse (unary) and PipelineResponse. The generated encoder writes through a growing
 * BinaryWriter, forks and joins per nested message (a copy of each result, twice over for a
 * PipelineResponse) and copies the payload into its chunks and again into the finished buffer;
 * these compute the size first, allocate once and copy each payload once. Byte for byte the output
 * of the generated encoders (a property test checks it), which they fall back to for any value
 * they do not handle as a plain integer (a number field out of its type's range).
 */
import {
  GetResponse,
  LockResponse,
  PipelineResponse,
  type ExpireResponse,
  type OperationError,
  type PipelineResult,
  type SetResponse,
} from "../gen/stateward/v1/session_state";
import { Unencodable, i32, u32, u64, writeBytes, writeString, writeVarint64Field, writeVarintField } from "./checked-fields";
import type { EncodeScratch } from "./encode-scratch";
import { delimitedSize, utf8Size, varintSize, writeInt32, writeVarint } from "./wire-primitives";

/** GetResponse and LockResponse: the fields they share, and Lock's two more. */
interface DataResponse {
  readonly outcome: number;
  readonly data: Uint8Array;
  readonly version: bigint;
  readonly lockId: bigint;
  readonly lockAgeMs: bigint;
  readonly ttlSeconds: number;
  readonly created?: boolean;
  readonly leaseMs?: number;
}

function dataResponseSize(message: DataResponse): number {
  let size = 0;
  if (message.outcome !== 0) size += 1 + i32(message.outcome);
  const length = message.data.length;
  if (length !== 0) size += 1 + varintSize(length) + length;
  if (message.version !== 0n) size += 1 + u64(message.version);
  if (message.lockId !== 0n) size += 1 + u64(message.lockId);
  if (message.lockAgeMs !== 0n) size += 1 + u64(message.lockAgeMs);
  if (message.ttlSeconds !== 0) size += 1 + u32(message.ttlSeconds);
  if (message.created === true) size += 2;
  const leaseMs = message.leaseMs;
  if (leaseMs !== undefined && leaseMs !== 0) size += 1 + u32(leaseMs);
  return size;
}

function writeDataResponse(buffer: Buffer, start: number, message: DataResponse): number {
  let at = start;
  if (message.outcome !== 0) {
    buffer[at++] = 8;
    at = writeInt32(buffer, at, message.outcome);
  }
  at = writeBytes(buffer, at, 18, message.data);
  at = writeVarint64Field(buffer, at, 24, message.version);
  at = writeVarint64Field(buffer, at, 32, message.lockId);
  at = writeVarint64Field(buffer, at, 40, message.lockAgeMs);
  at = writeVarintField(buffer, at, 48, message.ttlSeconds);
  if (message.created === true) {
    buffer[at++] = 56;
    buffer[at++] = 1;
  }
  const leaseMs = message.leaseMs;
  if (leaseMs !== undefined) at = writeVarintField(buffer, at, 64, leaseMs);
  return at;
}

function encodeDataResponse(message: DataResponse, scratch: EncodeScratch | undefined): Buffer {
  const size = dataResponseSize(message);
  const buffer = scratch === undefined ? Buffer.allocUnsafe(size) : scratch.take(size);
  writeDataResponse(buffer, 0, message);
  return buffer;
}

/**
 * Encodes a GetResponse (the bytes of `GetResponse.encode(message).finish()`).
 * @param scratch - encode into its reused memory (only where the caller copies the result at once).
 */
export function encodeGetResponse(message: GetResponse, scratch?: EncodeScratch): Buffer {
  try {
    return encodeDataResponse(message, scratch);
  } catch (error) {
    if (!(error instanceof Unencodable)) throw error;
    return Buffer.from(GetResponse.encode(message).finish());
  }
}

/**
 * Encodes a LockResponse (the bytes of `LockResponse.encode(message).finish()`).
 * @param scratch - encode into its reused memory (only where the caller copies the result at once).
 */
export function encodeLockResponse(message: LockResponse, scratch?: EncodeScratch): Buffer {
  try {
    return encodeDataResponse(message, scratch);
  } catch (error) {
    if (!(error instanceof Unencodable)) throw error;
    return Buffer.from(LockResponse.encode(message).finish());
  }
}

function errorSize(error: OperationError): number {
  let size = 0;
  if (error.code !== 0) size += 1 + i32(error.code);
  if (error.message !== "") size += delimitedSize(utf8Size(error.message));
  if (error.reason !== "") size += delimitedSize(utf8Size(error.reason));
  for (const key of Object.keys(error.metadata)) size += delimitedSize(entrySize(key, error.metadata[key] as string));
  return size;
}

function entrySize(key: string, value: string): number {
  return (key === "" ? 0 : delimitedSize(utf8Size(key))) + (value === "" ? 0 : delimitedSize(utf8Size(value)));
}

function writeError(buffer: Buffer, start: number, error: OperationError): number {
  let at = start;
  if (error.code !== 0) {
    buffer[at++] = 8;
    at = writeInt32(buffer, at, error.code);
  }
  if (error.message !== "") at = writeString(buffer, at, 18, error.message);
  if (error.reason !== "") at = writeString(buffer, at, 26, error.reason);
  for (const key of Object.keys(error.metadata)) {
    const value = error.metadata[key] as string;
    buffer[at++] = 34;
    at = writeVarint(buffer, at, entrySize(key, value));
    if (key !== "") at = writeString(buffer, at, 10, key);
    if (value !== "") at = writeString(buffer, at, 18, value);
  }
  return at;
}

function scalarResultSize(result: NonNullable<PipelineResult["result"]>): number {
  switch (result.$case) {
    case "get":
    case "lock":
      return dataResponseSize(result.value);
    case "set": {
      const value: SetResponse = result.value;
      return (value.version !== 0n ? 1 + u64(value.version) : 0) + (value.written ? 2 : 0);
    }
    case "release":
      return result.value.released ? 2 : 0;
    case "expire": {
      const value: ExpireResponse = result.value;
      return (value.found ? 2 : 0) + (value.ttlSeconds !== 0 ? 1 + u32(value.ttlSeconds) : 0);
    }
    case "remove":
      return result.value.removed ? 2 : 0;
    case "error":
      return errorSize(result.value);
  }
}

const RESULT_TAGS = { get: 18, lock: 26, set: 34, release: 42, expire: 50, remove: 58, error: 66 } as const;

function writeResultValue(buffer: Buffer, start: number, result: NonNullable<PipelineResult["result"]>): number {
  let at = start;
  switch (result.$case) {
    case "get":
    case "lock":
      return writeDataResponse(buffer, at, result.value);
    case "set":
      at = writeVarint64Field(buffer, at, 8, result.value.version);
      if (result.value.written) {
        buffer[at++] = 16;
        buffer[at++] = 1;
      }
      return at;
    case "release":
    case "remove":
      if (result.$case === "release" ? result.value.released : result.value.removed) {
        buffer[at++] = 8;
        buffer[at++] = 1;
      }
      return at;
    case "expire":
      if (result.value.found) {
        buffer[at++] = 8;
        buffer[at++] = 1;
      }
      return writeVarintField(buffer, at, 16, result.value.ttlSeconds);
    case "error":
      return writeError(buffer, at, result.value);
  }
}

/** Per result of the message being encoded: its PipelineResult size, and its inner message's. */
let sizes = new Float64Array(512);

function encodePipelineResponseFast(message: PipelineResponse, scratch: EncodeScratch | undefined): Buffer {
  const results = message.results;
  const count = results.length;
  if (sizes.length < count * 2) sizes = new Float64Array(count * 2);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const entry = results[i] as PipelineResult;
    let size = entry.id !== 0n ? 1 + u64(entry.id) : 0;
    const result = entry.result;
    let inner = 0;
    if (result !== undefined) {
      inner = scalarResultSize(result);
      size += delimitedSize(inner);
    }
    sizes[2 * i] = size;
    sizes[2 * i + 1] = inner;
    total += delimitedSize(size);
  }
  const buffer = scratch === undefined ? Buffer.allocUnsafe(total) : scratch.take(total);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const entry = results[i] as PipelineResult;
    buffer[at++] = 10;
    at = writeVarint(buffer, at, sizes[2 * i] as number);
    at = writeVarint64Field(buffer, at, 8, entry.id);
    const result = entry.result;
    if (result !== undefined) {
      buffer[at++] = RESULT_TAGS[result.$case];
      at = writeVarint(buffer, at, sizes[2 * i + 1] as number);
      at = writeResultValue(buffer, at, result);
    }
  }
  return buffer;
}

/**
 * Encodes a PipelineResponse (the bytes of `PipelineResponse.encode(message).finish()`).
 * @param scratch - encode into its reused memory (only where the caller copies the result at once).
 */
export function encodePipelineResponse(message: PipelineResponse, scratch?: EncodeScratch): Buffer {
  try {
    return encodePipelineResponseFast(message, scratch);
  } catch (error) {
    if (!(error instanceof Unencodable)) throw error;
    return Buffer.from(PipelineResponse.encode(message).finish());
  }
}
