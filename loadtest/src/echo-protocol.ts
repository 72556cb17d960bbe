/**
 * The echo baseline's wire contract (loadtest/proto/echo.proto) for grpc-js, with a hand-written
 * codec of its single bytes field: the baseline must cost as little as a unary method can.
 */
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** Full method path of Echo. */
export const ECHO_METHOD_PATH = "/stateward.bench.v1.Echo/Echo";

/** Encodes `EchoMessage { bytes data = 1; }`. */
export function encodeEcho(data: Buffer): Buffer {
  if (data.length === 0) return Buffer.alloc(0);
  const header: number[] = [0x0a];
  let length = data.length;
  while (length >= 0x80) {
    header.push((length & 0x7f) | 0x80);
    length >>>= 7;
  }
  header.push(length);
  return Buffer.concat([Buffer.from(header), data]);
}

/** Decodes `EchoMessage`, returning its data (a view, not a copy); unknown fields are an error. */
export function decodeEcho(message: Buffer): Buffer {
  if (message.length === 0) return message;
  if (message[0] !== 0x0a) throw new Error("EchoMessage: expected field 1 (bytes)");
  let offset = 1;
  let length = 0;
  let shift = 0;
  for (;;) {
    const byte = message[offset++];
    if (byte === undefined) throw new Error("EchoMessage: truncated length");
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  if (offset + length !== message.length) throw new Error("EchoMessage: bad length");
  return message.subarray(offset);
}

const echoMethod: MethodDefinition<Buffer, Buffer> = {
  path: ECHO_METHOD_PATH,
  requestStream: false,
  responseStream: false,
  requestSerialize: encodeEcho,
  requestDeserialize: decodeEcho,
  responseSerialize: encodeEcho,
  responseDeserialize: decodeEcho,
};

/** grpc-js service definition of the Echo service. */
export const EchoService: ServiceDefinition = { echo: echoMethod };
