/** gRPC's length-prefixed message framing, for pre-framed request bodies of the native generator. */

/** Frames one uncompressed gRPC message: flag byte 0, 4-byte big-endian length, message. */
export function frameGrpcMessage(message: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}
