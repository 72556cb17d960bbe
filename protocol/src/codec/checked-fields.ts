/**
 * Field sizes for the hand-written encoders, checked against the field's type, and their field
 * writers. A value the generated encoder would refuse or encode differently (a number out of its
 * type's range, a value of the wrong type) throws
 * {@link UNENCODABLE}, and the encoder hands the whole message to the generated code, which then
 * refuses it (or encodes it) exactly as it always did.
 */
import { int32Size, utf8Size, varint64Size, varintSize, writeUtf8, writeVarint, writeVarint64 } from "./wire-primitives";

/** Thrown by a size pass to hand the message to the generated encoder. */
export class Unencodable extends Error {}

/** The one instance thrown (no stack captured per message). */
export const UNENCODABLE = new Unencodable("value outside the fast path");

const TWO_32 = 4294967296;
const TWO_64 = 1n << 64n;

/** Size of a uint32 field's varint (the tag byte not included); throws for a non-uint32. */
export function u32(value: number): number {
  if (!(value >= 0 && value < TWO_32 && Number.isInteger(value))) throw UNENCODABLE;
  return varintSize(value);
}

/** Size of an int32 (enum) field's varint; throws for a non-int32. */
export function i32(value: number): number {
  if (!Number.isInteger(value) || value < -2147483648 || value >= 2147483648) throw UNENCODABLE;
  return int32Size(value);
}

/** Size of a uint64 field's varint; throws for a value outside [0, 2^64). */
export function u64(value: bigint): number {
  // A number where a bigint belongs (a JavaScript caller past the types) is the generated code's to refuse.
  if (typeof value !== "bigint" || value < 0n || value >= TWO_64) throw UNENCODABLE;
  return varint64Size(value);
}

/** Writes a string field (tag byte, length, UTF-8) at `at`; returns the position after it. */
export function writeString(buffer: Buffer, at: number, tag: number, text: string): number {
  const size = utf8Size(text);
  buffer[at] = tag;
  return writeUtf8(buffer, writeVarint(buffer, at + 1, size), text, size);
}

/** Writes a bytes field (tag byte, length, the bytes) unless empty; returns the position after it. */
export function writeBytes(buffer: Buffer, at: number, tag: number, data: Uint8Array): number {
  if (data.length === 0) return at;
  buffer[at] = tag;
  const start = writeVarint(buffer, at + 1, data.length);
  buffer.set(data, start);
  return start + data.length;
}

/** Writes a uint32 field (tag byte, varint) unless 0; returns the position after it. */
export function writeVarintField(buffer: Buffer, at: number, tag: number, value: number): number {
  if (value === 0) return at;
  buffer[at] = tag;
  return writeVarint(buffer, at + 1, value);
}

/** Writes a uint64 field (tag byte, varint) unless 0; returns the position after it. */
export function writeVarint64Field(buffer: Buffer, at: number, tag: number, value: bigint): number {
  if (value === 0n) return at;
  buffer[at] = tag;
  return writeVarint64(buffer, at + 1, value);
}
