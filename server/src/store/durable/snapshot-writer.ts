import fs from "node:fs";
import { performance } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { JournalTarget, ScanCursor, SessionRow } from "../memory/session-journal";
import { SNAPSHOT_MAGIC, fileHeader } from "./data-dir";
import { RECORD_LOCK_IDS, RECORD_SNAPSHOT_END, RECORD_STATE, RecordEncoder } from "./log-records";

/** A scan slice yields to requests after this long. */
const SLICE_MS = 2;
/** Sessions visited between looks at the slice's clock. */
const SLICE_STEP = 64;
/** Encoded bytes written at once (the memory a snapshot costs beyond the sessions); a slice encodes no more. */
const WRITE_BYTES = 256 * 1024;

/** What a finished snapshot wrote. */
export interface SnapshotResult {
  /** Sessions in it. */
  readonly sessions: number;
  /** The file's size. */
  readonly bytes: number;
  /** The longest scan slice, in ms (the longest time requests waited for the snapshot). */
  readonly longestSliceMs: number;
}

/**
 * Writes a snapshot of `target` to `file` (new, synced before this resolves) in slices of about
 * {@link SLICE_MS} between which requests run; changes made meanwhile go to the log of the
 * snapshot's generation, which replay applies over it (records are absolute, so a session written
 * after the scan passed it is simply written again). Memory: one write buffer, not a copy of the data.
 * @param stopped - asked between slices; true abandons the snapshot (the server is closing).
 * @throws the file system's error, or an Error("snapshot abandoned"); the caller deletes the file.
 */
export async function writeSnapshot(target: JournalTarget, file: string, generation: number, stopped: () => boolean): Promise<SnapshotResult> {
  const fd = fs.openSync(file, "w", 0o600);
  try {
    let position = 0;
    const write = async (bytes: Uint8Array): Promise<void> => {
      for (let at = 0; at < bytes.length; ) {
        const { bytesWritten } = await writeAt(fd, bytes.subarray(at), position);
        at += bytesWritten;
        position += bytesWritten;
      }
    };
    await write(fileHeader(SNAPSHOT_MAGIC, generation));
    const encoder = new RecordEncoder();
    const cursor: ScanCursor = { shard: 0, slot: 0 };
    let sessions = 0;
    let longestSliceMs = 0;
    const visit = (app: string, sessionId: string, row: SessionRow, data: Uint8Array): void => {
      encoder.row(RECORD_STATE, app, sessionId, row, data, true);
      sessions++;
    };
    for (let more = true; more; ) {
      const start = performance.now();
      do more = target.scan(cursor, SLICE_STEP, visit);
      while (more && encoder.size < WRITE_BYTES && performance.now() - start < SLICE_MS);
      longestSliceMs = Math.max(longestSliceMs, performance.now() - start);
      if (encoder.size > 0) {
        // Not copied: the next slice encodes only once this write is done.
        await write(encoder.parts()[0] as Uint8Array);
        encoder.clear();
      } else {
        await nextTurn();
      }
      if (stopped()) throw new Error("snapshot abandoned: the server is closing");
    }
    encoder.mark(RECORD_LOCK_IDS, target.nextLockId);
    encoder.mark(RECORD_SNAPSHOT_END, sessions);
    await write(Buffer.from(encoder.parts()[0] as Uint8Array));
    await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (error) => (error === null ? resolve() : reject(error))));
    return { sessions, bytes: position, longestSliceMs };
  } finally {
    fs.closeSync(fd);
  }
}

function writeAt(fd: number, bytes: Uint8Array, position: number): Promise<{ bytesWritten: number }> {
  return new Promise((resolve, reject) =>
    fs.write(fd, bytes, 0, bytes.length, position, (error, bytesWritten) => (error === null ? resolve({ bytesWritten }) : reject(error))),
  );
}
