/**
 * A decoder of PipelineRequest for the server, equal in result to the generated
 * `PipelineRequest.decode` except that SetRequest.data is a view into the received message instead
 * of a copy. The view lives as long as the operation: the memory store copies it into its slabs as
 * the Set runs, the Redis backend hands it to its connection's write, so a request message is held
 * no longer than its operations are in flight. Anything it does not expect (unknown fields, other
 * wire types, a malformed message) goes to the generated decoder, which decodes the whole message.
 */
import {
  PipelineRequest,
  type ExpireRequest,
  type GetRequest,
  type LockRequest,
  type PipelineOperation,
  type ReleaseRequest,
  type RemoveRequest,
  type SetRequest,
} from "../gen/stateward/v1/session_state";
import { WireReader } from "./wire-primitives";

/** Thrown inside the decoder to hand the message to the generated one. */
class Unexpected extends Error {}
const UNEXPECTED = new Unexpected("unexpected field");

const EMPTY = Buffer.alloc(0);

function getRequest(reader: WireReader, end: number): GetRequest {
  const value: GetRequest = { app: "", sessionId: "", waitMs: 0 };
  while (reader.pos < end) {
    switch (reader.tag()) {
      case 10:
        value.app = reader.string();
        break;
      case 18:
        value.sessionId = reader.string();
        break;
      case 24:
        value.waitMs = reader.uint32();
        break;
      default:
        throw UNEXPECTED;
    }
  }
  return value;
}

function lockRequest(reader: WireReader, end: number): LockRequest {
  const value: LockRequest = { app: "", sessionId: "", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 };
  while (reader.pos < end) {
    switch (reader.tag()) {
      case 10:
        value.app = reader.string();
        break;
      case 18:
        value.sessionId = reader.string();
        break;
      case 24:
        value.waitMs = reader.uint32();
        break;
      case 32:
        value.leaseMs = reader.uint32();
        break;
      case 40:
        value.create = reader.bool();
        break;
      case 48:
        value.ttlSeconds = reader.uint32();
        break;
      default:
        throw UNEXPECTED;
    }
  }
  return value;
}

function setRequest(reader: WireReader, end: number): SetRequest {
  const value: SetRequest = {
    app: "",
    sessionId: "",
    data: EMPTY,
    ttlSeconds: 0,
    lockId: 0n,
    keepLock: false,
    expectedVersion: 0n,
    onlyIfAbsent: false,
  };
  while (reader.pos < end) {
    switch (reader.tag()) {
      case 10:
        value.app = reader.string();
        break;
      case 18:
        value.sessionId = reader.string();
        break;
      case 26:
        value.data = reader.bytesView();
        break;
      case 32:
        value.ttlSeconds = reader.uint32();
        break;
      case 40:
        value.lockId = reader.uint64();
        break;
      case 48:
        value.keepLock = reader.bool();
        break;
      case 56:
        value.expectedVersion = reader.uint64();
        break;
      case 64:
        value.onlyIfAbsent = reader.bool();
        break;
      default:
        throw UNEXPECTED;
    }
  }
  return value;
}

/** Release and Remove share their shape (app, session_id, lock_id). */
function keyAndLock(reader: WireReader, end: number): ReleaseRequest & RemoveRequest {
  const value = { app: "", sessionId: "", lockId: 0n };
  while (reader.pos < end) {
    switch (reader.tag()) {
      case 10:
        value.app = reader.string();
        break;
      case 18:
        value.sessionId = reader.string();
        break;
      case 24:
        value.lockId = reader.uint64();
        break;
      default:
        throw UNEXPECTED;
    }
  }
  return value;
}

function expireRequest(reader: WireReader, end: number): ExpireRequest {
  const value: ExpireRequest = { app: "", sessionId: "", ttlSeconds: 0 };
  while (reader.pos < end) {
    switch (reader.tag()) {
      case 10:
        value.app = reader.string();
        break;
      case 18:
        value.sessionId = reader.string();
        break;
      case 24:
        value.ttlSeconds = reader.uint32();
        break;
      default:
        throw UNEXPECTED;
    }
  }
  return value;
}

function operation(reader: WireReader, end: number): PipelineOperation {
  const value: PipelineOperation = { id: 0n, timeoutMs: 0, request: undefined, traceparent: undefined, tracestate: undefined };
  while (reader.pos < end) {
    const tag = reader.tag();
    if (tag === 8) {
      value.id = reader.uint64();
      continue;
    }
    if (tag === 16) {
      value.timeoutMs = reader.uint32();
      continue;
    }
    if (tag === 74) {
      value.traceparent = reader.string();
      continue;
    }
    if (tag === 82) {
      value.tracestate = reader.string();
      continue;
    }
    if ((tag & 7) !== 2) throw UNEXPECTED;
    const length = reader.length();
    const nestedEnd = reader.pos + length;
    switch (tag) {
      case 26:
        value.request = { $case: "get", value: getRequest(reader, nestedEnd) };
        break;
      case 34:
        value.request = { $case: "lock", value: lockRequest(reader, nestedEnd) };
        break;
      case 42:
        value.request = { $case: "set", value: setRequest(reader, nestedEnd) };
        break;
      case 50:
        value.request = { $case: "release", value: keyAndLock(reader, nestedEnd) };
        break;
      case 58:
        value.request = { $case: "expire", value: expireRequest(reader, nestedEnd) };
        break;
      case 66:
        value.request = { $case: "remove", value: keyAndLock(reader, nestedEnd) };
        break;
      default:
        throw UNEXPECTED;
    }
    // A nested field that ran past its length is malformed.
    if (reader.pos !== nestedEnd) throw UNEXPECTED;
  }
  return value;
}

function decodeFast(buffer: Buffer): PipelineRequest {
  const reader = new WireReader(buffer);
  const request: PipelineRequest = { operations: [], cancelIds: [] };
  const end = buffer.length;
  while (reader.pos < end) {
    const tag = reader.tag();
    if (tag === 10) {
      const length = reader.length();
      const operationEnd = reader.pos + length;
      request.operations.push(operation(reader, operationEnd));
      if (reader.pos !== operationEnd) throw UNEXPECTED;
    } else if (tag === 18) {
      // Packed, as proto3 writes repeated scalars.
      const length = reader.length();
      const idsEnd = reader.pos + length;
      while (reader.pos < idsEnd) request.cancelIds.push(reader.uint64());
      if (reader.pos !== idsEnd) throw UNEXPECTED;
    } else if (tag === 16) {
      request.cancelIds.push(reader.uint64());
    } else {
      throw UNEXPECTED;
    }
  }
  return request;
}

/**
 * Decodes a PipelineRequest: the generated decoder's result, with SetRequest.data as views into
 * `buffer` (see the module comment for how long they live).
 */
export function decodePipelineRequest(buffer: Buffer): PipelineRequest {
  try {
    return decodeFast(buffer);
  } catch {
    // Unexpected or malformed: the generated decoder decides (and throws what it throws).
    return PipelineRequest.decode(buffer);
  }
}
