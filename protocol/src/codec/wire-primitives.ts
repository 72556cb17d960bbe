/**
 * Protobuf wire primitives for the hand-written Pipeline codecs: varint sizes and writers into a
 * buffer of known size, and a reader over one received message. The generated ts-proto code stays
 * the contract; these exist because its BinaryWriter grows through chunks and joins (a copy per
 * nested message) and its reader copies every `bytes` field, which on the Pipeline's hot path
 * costs more than the operations themselves.
 */

const TWO_32 = 4294967296;
const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

/** Bytes of the varint of a non-negative safe integer. */
export function varintSize(value: number): number {
  if (value < 128) return 1;
  if (value < 16384) return 2;
  if (value < 2097152) return 3;
  if (value < 268435456) return 4;
  let size = 5;
  for (let rest = Math.floor(value / 34359738368); rest > 0; rest = Math.floor(rest / 128)) size++;
  return size;
}

/** Bytes of the varint of a uint64 (0 ≤ value < 2^64). */
export function varint64Size(value: bigint): number {
  if (value <= MAX_SAFE_BIGINT) return varintSize(Number(value));
  let size = 8;
  for (let rest = value >> 56n; rest > 0n; rest >>= 7n) size++;
  return size;
}

/** Bytes of the varint of an int32 (negative values take ten bytes, sign-extended as proto does). */
export function int32Size(value: number): number {
  return value < 0 ? 10 : varintSize(value);
}

/** Writes the varint of a non-negative safe integer at `at`; returns the position after it. */
export function writeVarint(buffer: Uint8Array, at: number, value: number): number {
  let position = at;
  let rest = value;
  // 32-bit arithmetic while it fits: most values (ids, sizes, ttls) take this path only.
  while (rest >= TWO_32) {
    buffer[position++] = (rest % 128) | 128;
    rest = Math.floor(rest / 128);
  }
  while (rest >= 128) {
    buffer[position++] = (rest & 127) | 128;
    rest >>>= 7;
  }
  buffer[position++] = rest;
  return position;
}

/** Writes the varint of a uint64; returns the position after it. */
export function writeVarint64(buffer: Uint8Array, at: number, value: bigint): number {
  if (value <= MAX_SAFE_BIGINT) return writeVarint(buffer, at, Number(value));
  let position = at;
  let rest = value;
  while (rest >= 128n) {
    buffer[position++] = Number(rest & 127n) | 128;
    rest >>= 7n;
  }
  buffer[position++] = Number(rest);
  return position;
}

/** Writes an int32 as proto does (a negative one as the ten-byte varint of its 64-bit two's complement). */
export function writeInt32(buffer: Uint8Array, at: number, value: number): number {
  if (value >= 0) return writeVarint(buffer, at, value);
  return writeVarint64(buffer, at, BigInt.asUintN(64, BigInt(value)));
}

/** UTF-8 length of a string. */
export function utf8Size(text: string): number {
  // Short ASCII strings (app names, session ids, reasons) are the common case: no native call.
  if (text.length <= 64) {
    let i = 0;
    while (i < text.length && text.charCodeAt(i) < 128) i++;
    if (i === text.length) return text.length;
  }
  return Buffer.byteLength(text, "utf8");
}

/** Writes `text` (of UTF-8 length `size`) at `at`; returns the position after it. */
export function writeUtf8(buffer: Buffer, at: number, text: string, size: number): number {
  if (size === text.length && size <= 64) {
    for (let i = 0; i < size; i++) buffer[at + i] = text.charCodeAt(i);
    return at + size;
  }
  return at + buffer.write(text, at, size, "utf8");
}

/** A length-delimited field of `size` content bytes, with its one-byte tag: its encoded size. */
export function delimitedSize(size: number): number {
  return 1 + varintSize(size) + size;
}

const utf8Decoder = new TextDecoder();

/**
 * Reads one protobuf message (or a sub-range of it) the way `@bufbuild/protobuf`'s BinaryReader
 * does, with the same results for every value it can express: uint32 takes the low 32 bits of a
 * longer varint, bool is any non-zero varint, strings decode invalid UTF-8 to U+FFFD. `bytes` are
 * returned as views into the message buffer (no copy). Throws on truncated input. It has no
 * `skip`: the codecs leave anything unexpected (unknown fields, other wire types) to the generated
 * decoder, which then decodes the whole message.
 */
export class WireReader {
  /** Position of the next byte to read. */
  pos: number;

  /**
   * @param buffer - the message.
   * @param start - where to start reading.
   * @param end - where the message ends.
   */
  constructor(
    readonly buffer: Buffer,
    start = 0,
    readonly end = buffer.length,
  ) {
    this.pos = start;
  }

  /** A varint as a number (exact up to 2^53; larger values only ever reach {@link uint64}'s slow path). */
  private varint(): number {
    const buffer = this.buffer;
    let byte = buffer[this.pos++] as number;
    if (byte < 128) {
      this.check();
      return byte;
    }
    let value = byte & 127;
    let scale = 128;
    for (let i = 1; i < 10; i++) {
      byte = buffer[this.pos++] as number;
      if (byte === undefined) throw new RangeError("premature EOF");
      value += (byte & 127) * scale;
      if (byte < 128) {
        this.check();
        return value;
      }
      scale *= 128;
    }
    throw new Error("invalid varint");
  }

  private check(): void {
    if (this.pos > this.end) throw new RangeError("premature EOF");
  }

  /** A tag (field number << 3 | wire type). */
  tag(): number {
    return this.uint32();
  }

  /** A uint32 field (the low 32 bits of the varint). */
  uint32(): number {
    const buffer = this.buffer;
    const byte = buffer[this.pos];
    if (byte !== undefined && byte < 128 && this.pos < this.end) {
      this.pos++;
      return byte;
    }
    const start = this.pos;
    const value = this.varint();
    if (value <= Number.MAX_SAFE_INTEGER) return value % TWO_32;
    this.pos = start;
    return Number(BigInt.asUintN(32, this.uint64()));
  }

  /** An int32 field. */
  int32(): number {
    return this.uint32() | 0;
  }

  /** A uint64 field. */
  uint64(): bigint {
    const start = this.pos;
    const value = this.varint();
    if (value <= Number.MAX_SAFE_INTEGER) return BigInt(value);
    // Beyond 2^53 the float sum is inexact: read it again exactly.
    const buffer = this.buffer;
    let result = 0n;
    let shift = 0n;
    for (let position = start; position < this.pos; position++) {
      result |= BigInt((buffer[position] as number) & 127) << shift;
      shift += 7n;
    }
    return BigInt.asUintN(64, result);
  }

  /** A bool field. */
  bool(): boolean {
    return this.varint() !== 0;
  }

  /** The length of a length-delimited field, checked against the message end. */
  length(): number {
    const length = this.uint32();
    if (this.pos + length > this.end) throw new RangeError("premature EOF");
    return length;
  }

  /** A bytes field, as a view into the message buffer. */
  bytesView(): Buffer {
    const length = this.length();
    const start = this.pos;
    this.pos += length;
    return this.buffer.subarray(start, start + length);
  }

  /** A string field. */
  string(): string {
    const length = this.length();
    const buffer = this.buffer;
    const start = this.pos;
    const end = start + length;
    this.pos = end;
    let i = start;
    while (i < end && (buffer[i] as number) < 128) i++;
    if (i === end) return buffer.toString("latin1", start, end);
    return utf8Decoder.decode(buffer.subarray(start, end));
  }
}
