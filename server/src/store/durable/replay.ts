import fs from "node:fs";
import path from "node:path";
import type { JournalTarget } from "../memory/session-journal";
import { LOG_MAGIC, SNAPSHOT_MAGIC, logFileName, snapshotFileName, type DataFiles } from "./data-dir";
import { scanDataFile, type FileDamage } from "./log-reader";
import {
  RECORD_LOCK_IDS,
  RECORD_META,
  RECORD_REMOVE,
  RECORD_SNAPSHOT_END,
  RECORD_STATE,
  RECORD_TOUCH,
  type LogRecord,
} from "./log-records";

/** A data file is damaged where a crash cannot have left it: start-up refuses, `stateward repair` fixes it. */
export class DataDamageError extends Error {
  override readonly name = "DataDamageError";

  constructor(
    /** The damaged file. */
    readonly file: string,
    /** Where its first bad record starts. */
    readonly offset: number,
    why: string,
    dir: string,
  ) {
    super(
      `the data file ${file} is damaged at offset ${offset} (${why}), where a crash cannot have left it, so the server does not start on it. ` +
        `Run "stateward repair --data-dir ${dir}" to keep every valid record before the damage (${file.endsWith(".swsnap") ? "the rest of the snapshot is dropped; the log after it is kept" : "the rest of that log and any later log are dropped"}), then start again.`,
    );
  }
}

/** What replay found. */
export interface ReplayResult {
  /** The newest log's generation (0: no log yet). */
  readonly lastGeneration: number;
  /** The newest log's size after a torn tail was cut off. */
  readonly lastLogBytes: number;
  /** Bytes of the logs before the newest one that are replayed after the snapshot. */
  readonly olderLogBytes: number;
  /** Bytes of the snapshot file (0: none). */
  readonly snapshotBytes: number;
  /** Records replayed. */
  readonly records: number;
  /** A torn last record that was cut off, if any. */
  readonly cutTail?: { readonly file: string; readonly offset: number; readonly bytes: number; readonly why: string };
}

/** Hands one record to the backend. */
function apply(target: JournalTarget, record: LogRecord): void {
  switch (record.type) {
    case RECORD_STATE:
    case RECORD_META:
      if (record.row !== undefined) target.restore({ app: record.app, sessionId: record.sessionId, row: record.row, data: record.data });
      return;
    case RECORD_TOUCH:
      target.restoreTouch(record.app, record.sessionId, record.value ?? 0);
      return;
    case RECORD_REMOVE:
      target.restoreRemoval(record.app, record.sessionId);
      return;
    case RECORD_LOCK_IDS:
      target.restoreLockIds(record.value ?? 0);
      return;
  }
}

/**
 * Replays the newest snapshot, then the logs after it, into `target`. A torn last record of the
 * newest log (a crash mid-write) is cut off and reported in the result; any other damage throws
 * {@link DataDamageError}.
 */
export function replayDataDir(dir: string, files: DataFiles, target: JournalTarget): ReplayResult {
  let records = 0;
  let snapshotBytes = 0;
  if (files.snapshotGeneration > 0) {
    const file = path.join(dir, snapshotFileName(files.snapshotGeneration));
    const scan = scanSnapshot(file, files.snapshotGeneration, (record) => apply(target, record));
    if (scan.damage !== undefined) throw new DataDamageError(file, scan.damage.offset, scan.damage.why, dir);
    records += scan.records;
    snapshotBytes = scan.size;
  }
  let olderLogBytes = 0;
  let lastLogBytes = 0;
  let cutTail: ReplayResult["cutTail"];
  const generations = files.logGenerations;
  for (let i = 0; i < generations.length; i++) {
    const generation = generations[i] as number;
    const file = path.join(dir, logFileName(generation));
    const scan = scanDataFile(file, LOG_MAGIC, generation, (record) => apply(target, record));
    records += scan.records;
    const last = i === generations.length - 1;
    let size = scan.size;
    if (scan.damage !== undefined) {
      if (!last || !scan.damage.tornTail) throw new DataDamageError(file, scan.damage.offset, scan.damage.why, dir);
      cutTail = { file, offset: scan.damage.offset, bytes: scan.size - scan.damage.offset, why: scan.damage.why };
      // A log whose header itself was cut short is started again by the caller.
      fs.truncateSync(file, scan.damage.offset);
      size = scan.damage.offset;
    }
    if (last) lastLogBytes = size;
    else olderLogBytes += size;
  }
  target.finishRestore();
  return {
    lastGeneration: generations.length === 0 ? 0 : (generations[generations.length - 1] as number),
    lastLogBytes,
    olderLogBytes,
    snapshotBytes,
    records,
    ...(cutTail === undefined ? {} : { cutTail }),
  };
}

/**
 * Reads a snapshot: state and lock-id records, then one end record with their count, then nothing.
 * A snapshot is synced before it is renamed into place, so it is never torn: any damage is damage.
 */
export function scanSnapshot(file: string, generation: number, onRecord: (record: LogRecord, offset: number, end: number) => void): { size: number; records: number; damage?: FileDamage } {
  let states = 0;
  let ended = -1;
  let problem: FileDamage | undefined;
  const scan = scanDataFile(file, SNAPSHOT_MAGIC, generation, (record, offset, end) => {
    if (problem !== undefined) return;
    if (ended >= 0) {
      problem = { offset, why: "a record follows the snapshot's end", tornTail: false };
      return;
    }
    if (record.type === RECORD_SNAPSHOT_END) {
      if (record.value !== states) problem = { offset, why: `the snapshot's end counts ${record.value} sessions, it holds ${states}`, tornTail: false };
      ended = offset;
      return;
    }
    if (record.type !== RECORD_STATE && record.type !== RECORD_LOCK_IDS) {
      problem = { offset, why: "a snapshot holds only session states", tornTail: false };
      return;
    }
    if (record.type === RECORD_STATE) states++;
    onRecord(record, offset, end);
  });
  const damage =
    problem ??
    (scan.damage === undefined ? undefined : { ...scan.damage, tornTail: false }) ??
    (ended < 0 ? { offset: scan.size, why: "the snapshot has no end record", tornTail: false } : undefined);
  return { size: scan.size, records: scan.records, ...(damage === undefined ? {} : { damage }) };
}
