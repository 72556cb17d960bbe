import fs from "node:fs";
import { FILE_HEADER_BYTES } from "./data-dir";
import { readRecord, type LogRecord } from "./log-records";

/** Damage found in a data file. */
export interface FileDamage {
  /** Where the first bad record starts (everything before it is whole records). */
  readonly offset: number;
  /** What is wrong, for the message. */
  readonly why: string;
  /**
   * The damage is a last record cut short or garbled by a crash mid-write: it reaches the end of
   * the file (or only zeros follow it), so nothing valid comes after it.
   */
  readonly tornTail: boolean;
}

/** What reading a data file found. */
export interface FileScan {
  /** The file's size. */
  readonly size: number;
  /** Whole records read. */
  readonly records: number;
  /** The first damage, if any (the records before it were all delivered). */
  readonly damage?: FileDamage;
}

const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Reads the records of a log or snapshot file in order, in chunks (memory stays near one chunk, or
 * one record if it is larger), handing each to `onRecord`; a record's data is a view valid only
 * during the call. Stops at the first damage.
 * @param magic - the file kind's first 8 bytes.
 * @param generation - the generation its name gives (the header must say the same).
 */
export function scanDataFile(path: string, magic: Buffer, generation: number, onRecord: (record: LogRecord, offset: number, end: number) => void): FileScan {
  const fd = fs.openSync(path, "r");
  try {
    const size = fs.fstatSync(fd).size;
    if (size < FILE_HEADER_BYTES) return { size, records: 0, damage: { offset: 0, why: "the file header is cut short", tornTail: true } };
    const header = Buffer.alloc(FILE_HEADER_BYTES);
    fs.readSync(fd, header, 0, FILE_HEADER_BYTES, 0);
    if (!header.subarray(0, 8).equals(magic)) return { size, records: 0, damage: { offset: 0, why: "the file does not start as a Stateward data file of its kind", tornTail: false } };
    if (header.readDoubleLE(8) !== generation) return { size, records: 0, damage: { offset: 0, why: "the generation in the header does not match the file name", tornTail: false } };

    let buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let bufferStart = FILE_HEADER_BYTES; // file offset of buffer[0]
    let bufferEnd = 0; // valid bytes in buffer
    let offset = FILE_HEADER_BYTES;
    let records = 0;
    const fill = (need: number): void => {
      // Keep the unread bytes, make room for `need` of them, and read as much as fits.
      const keep = bufferStart + bufferEnd - offset;
      if (need > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, buffer.length * 2));
        buffer.copy(grown, 0, offset - bufferStart, bufferEnd);
        buffer = grown;
      } else {
        buffer.copy(buffer, 0, offset - bufferStart, bufferEnd);
      }
      bufferStart = offset;
      bufferEnd = keep;
      while (bufferEnd < buffer.length && bufferStart + bufferEnd < size) {
        const read = fs.readSync(fd, buffer, bufferEnd, buffer.length - bufferEnd, bufferStart + bufferEnd);
        if (read === 0) break;
        bufferEnd += read;
      }
    };
    fill(0);
    while (offset < size) {
      const result = readRecord(buffer, offset - bufferStart, bufferEnd);
      if (result.kind === "record") {
        onRecord(result.record, offset, offset + result.bytes);
        offset += result.bytes;
        records++;
        continue;
      }
      if (result.kind === "short") {
        if (offset + result.need > size) return { size, records, damage: { offset, why: "the last record is cut short", tornTail: true } };
        fill(result.need);
        continue;
      }
      // Torn: nothing but zeros after the bad record (a crashed machine's unwritten pages), or from it on.
      const tornTail = (result.bytes !== undefined && zerosFrom(fd, offset + result.bytes, size)) || zerosFrom(fd, offset, size);
      return { size, records, damage: { offset, why: result.why, tornTail } };
    }
    return { size, records };
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether every byte of the file from `offset` on is zero (a crashed machine's unwritten tail). */
function zerosFrom(fd: number, offset: number, size: number): boolean {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (let at = offset; at < size; ) {
    const read = fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
    if (read === 0) break;
    for (let i = 0; i < read; i++) if (chunk[i] !== 0) return false;
    at += read;
  }
  return true;
}
