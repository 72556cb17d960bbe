/**
 * A buffer that successive encodes reuse, for a caller that copies each encoded message before it
 * encodes the next one. grpc-js's server does: `serializeMessage` copies the serialized bytes into
 * the frame it allocates (5 bytes of prefix, then the message) before `sendMessage` returns, so a
 * response serializer may hand it a view of scratch memory, and each response costs one allocation
 * (grpc-js's frame) instead of two. Not for a client's requests or anything that keeps the buffer.
 */

/** Default cap of a scratch buffer: messages larger than this get a buffer of their own. */
export const DEFAULT_SCRATCH_BYTES = 4 * 1024 * 1024 + 64 * 1024;

/** Reusable memory for encodes whose output is copied at once (see the module comment). */
export class EncodeScratch {
  private buffer: Buffer = Buffer.allocUnsafeSlow(16 * 1024);

  /** @param maxBytes - the largest buffer kept for reuse; larger requests allocate. */
  constructor(private readonly maxBytes: number = DEFAULT_SCRATCH_BYTES) {}

  /**
   * `size` bytes to encode into: a view of the reused memory (valid until the next `take`), or, above
   * the cap, a buffer of its own.
   */
  take(size: number): Buffer {
    if (size > this.maxBytes) return Buffer.allocUnsafe(size);
    if (size > this.buffer.length) {
      // Grows by doubling (a steady load settles at one size), capped.
      let next = this.buffer.length;
      while (next < size) next *= 2;
      this.buffer = Buffer.allocUnsafeSlow(Math.min(next, this.maxBytes));
    }
    return this.buffer.subarray(0, size);
  }
}
