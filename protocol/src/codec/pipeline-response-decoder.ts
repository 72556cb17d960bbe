/**
 * A decoder of PipelineResponse for the client, equal in result to the generated
 * `PipelineResponse.decode` except that the `data` of Get and Lock results is a view into the
 * received message instead of a copy.
 *
 * Retention cost: a view keeps the whole buffer it points into alive, that is the received
 * message with every other result in it (and, for a message under 4 KiB, the 8 KiB pool chunk
 * grpc-js's `Buffer.concat` placed it in), for as long as the caller holds any one `data`. A
 * caller that keeps one session's data for long while the rest of the batch is dropped should copy
 * it (`Buffer.from(data)`). Operation errors (rare) and anything unexpected (unknown fields, other
 * wire types, a malformed message) go to the generated decoders.
 */
import {
  OperationError,
  PipelineResponse,
  type ExpireResponse,
  type GetResponse,
  type LockResponse,
  type PipelineResult,
  type ReleaseResponse,
  type RemoveResponse,
  type SetResponse,
} from "../gen/stateward/v1/session_state";
import { WireReader } from "./wire-primitives";

/** Thrown inside the decoder to hand the message to the generated one. */
class Unexpected extends Error {}
const UNEXPECTED = new Unexpected("unexpected field");

const EMPTY = Buffer.alloc(0);

/** Get and Lock results share fields 1-6; Lock adds created (7) and lease_ms (8). */
function dataResult(reader: WireReader, end: number, lock: boolean): GetResponse | LockResponse {
  const value: LockResponse = { outcome: 0, data: EMPTY, version: 0n, lockId: 0n, lockAgeMs: 0n, ttlSeconds: 0, created: false, leaseMs: 0 };
  while (reader.pos < end) {
    switch (reader.tag()) {
      case 8:
        value.outcome = reader.int32();
        break;
      case 18:
        value.data = reader.bytesView();
        break;
      case 24:
        value.version = reader.uint64();
        break;
      case 32:
        value.lockId = reader.uint64();
        break;
      case 40:
        value.lockAgeMs = reader.uint64();
        break;
      case 48:
        value.ttlSeconds = reader.uint32();
        break;
      case 56:
        if (!lock) throw UNEXPECTED;
        value.created = reader.bool();
        break;
      case 64:
        if (!lock) throw UNEXPECTED;
        value.leaseMs = reader.uint32();
        break;
      default:
        throw UNEXPECTED;
    }
  }
  if (lock) return value;
  return { outcome: value.outcome, data: value.data, version: value.version, lockId: value.lockId, lockAgeMs: value.lockAgeMs, ttlSeconds: value.ttlSeconds };
}

function setResult(reader: WireReader, end: number): SetResponse {
  const value: SetResponse = { version: 0n, written: false };
  while (reader.pos < end) {
    const tag = reader.tag();
    if (tag === 8) value.version = reader.uint64();
    else if (tag === 16) value.written = reader.bool();
    else throw UNEXPECTED;
  }
  return value;
}

/** Release and Remove: one bool, field 1. */
function flagResult(reader: WireReader, end: number): boolean {
  let flag = false;
  while (reader.pos < end) {
    if (reader.tag() !== 8) throw UNEXPECTED;
    flag = reader.bool();
  }
  return flag;
}

function expireResult(reader: WireReader, end: number): ExpireResponse {
  const value: ExpireResponse = { found: false, ttlSeconds: 0 };
  while (reader.pos < end) {
    const tag = reader.tag();
    if (tag === 8) value.found = reader.bool();
    else if (tag === 16) value.ttlSeconds = reader.uint32();
    else throw UNEXPECTED;
  }
  return value;
}

function result(reader: WireReader, end: number): PipelineResult {
  const value: PipelineResult = { id: 0n, result: undefined };
  while (reader.pos < end) {
    const tag = reader.tag();
    if (tag === 8) {
      value.id = reader.uint64();
      continue;
    }
    if ((tag & 7) !== 2) throw UNEXPECTED;
    const length = reader.length();
    const nestedEnd = reader.pos + length;
    switch (tag) {
      case 18:
        value.result = { $case: "get", value: dataResult(reader, nestedEnd, false) };
        break;
      case 26:
        value.result = { $case: "lock", value: dataResult(reader, nestedEnd, true) as LockResponse };
        break;
      case 34:
        value.result = { $case: "set", value: setResult(reader, nestedEnd) };
        break;
      case 42:
        value.result = { $case: "release", value: { released: flagResult(reader, nestedEnd) } satisfies ReleaseResponse };
        break;
      case 50:
        value.result = { $case: "expire", value: expireResult(reader, nestedEnd) };
        break;
      case 58:
        value.result = { $case: "remove", value: { removed: flagResult(reader, nestedEnd) } satisfies RemoveResponse };
        break;
      case 66:
        // Rare, and it has a map: the generated decoder, on its range.
        value.result = { $case: "error", value: OperationError.decode(reader.buffer.subarray(reader.pos, nestedEnd)) };
        reader.pos = nestedEnd;
        break;
      default:
        throw UNEXPECTED;
    }
    // A nested field that ran past its length is malformed.
    if (reader.pos !== nestedEnd) throw UNEXPECTED;
  }
  return value;
}

function decodeFast(buffer: Buffer): PipelineResponse {
  const reader = new WireReader(buffer);
  const response: PipelineResponse = { results: [] };
  const end = buffer.length;
  while (reader.pos < end) {
    if (reader.tag() !== 10) throw UNEXPECTED;
    const length = reader.length();
    const resultEnd = reader.pos + length;
    response.results.push(result(reader, resultEnd));
    if (reader.pos !== resultEnd) throw UNEXPECTED;
  }
  return response;
}

/**
 * Decodes a PipelineResponse: the generated decoder's result, with Get and Lock `data` as views
 * into `buffer` (see the module comment for what a view keeps alive).
 */
export function decodePipelineResponse(buffer: Buffer): PipelineResponse {
  try {
    return decodeFast(buffer);
  } catch {
    // Unexpected or malformed: the generated decoder decides (and throws what it throws).
    return PipelineResponse.decode(buffer);
  }
}
