import fs from "node:fs";
import { DataDirLock, FILE_HEADER_BYTES, LOG_MAGIC, SNAPSHOT_MAGIC, fileHeader, listDataFiles, logFileName, snapshotFileName } from "./data-dir";
import { scanDataFile } from "./log-reader";
import { RECORD_SNAPSHOT_END, RECORD_STATE, RecordEncoder } from "./log-records";
import { scanSnapshot } from "./replay";

/** What `stateward repair` did to one file. */
export interface RepairAction {
  /** The file's name in the data directory. */
  readonly file: string;
  /** What was done, for the operator. */
  readonly what: string;
}

/** What `stateward repair` found and did. */
export interface RepairReport {
  /** The data directory, resolved. */
  readonly dir: string;
  /** One entry per file changed or removed; empty: nothing was damaged. */
  readonly actions: readonly RepairAction[];
}

/**
 * Repairs a data directory as redis-check-aof --fix does: keeps the valid prefix of the history.
 * A damaged log is cut at its first bad record and every log after it is deleted, since it
 * continues a history whose middle is lost. A damaged snapshot is cut so too and closed with a new
 * end record, and the logs after it are kept: they hold every change made since the snapshot
 * began, as absolute records, so every session written since comes back exactly; the sessions of
 * the snapshot's lost part that were not written since are gone.
 * Takes the directory's lock, so it refuses to run beside a server on it.
 */
export async function repairDataDir(dir: string): Promise<RepairReport> {
  const lock = await DataDirLock.acquire(dir);
  try {
    const actions: RepairAction[] = [];
    const files = listDataFiles(lock.dir);
    for (const name of files.partial) {
      fs.rmSync(lock.file(name), { force: true });
      actions.push({ file: name, what: "deleted: a snapshot that was never finished" });
    }
    let damaged = false;
    if (files.snapshotGeneration > 0) {
      const name = snapshotFileName(files.snapshotGeneration);
      let states = 0;
      let keep = FILE_HEADER_BYTES;
      // Only the whole state records before any damage come here.
      const scan = scanSnapshot(lock.file(name), files.snapshotGeneration, (record, _offset, end) => {
        if (record.type === RECORD_STATE) states++;
        keep = end;
      });
      if (scan.damage !== undefined) {
        // A damaged header is written anew (cutting after it would leave it bad: the server would
        // refuse the "repaired" snapshot again); otherwise the whole records before the damage stay.
        if (scan.damage.offset < FILE_HEADER_BYTES) fs.writeFileSync(lock.file(name), fileHeader(SNAPSHOT_MAGIC, files.snapshotGeneration));
        else fs.truncateSync(lock.file(name), keep);
        const encoder = new RecordEncoder();
        encoder.mark(RECORD_SNAPSHOT_END, states);
        fs.appendFileSync(lock.file(name), encoder.parts()[0] as Uint8Array);
        actions.push({
          file: name,
          what: `damaged at offset ${scan.damage.offset} (${scan.damage.why}): cut to ${keep} bytes (${scan.size - keep} dropped) and closed; ${states} sessions kept`,
        });
      }
    }
    for (const generation of files.logGenerations) {
      const name = logFileName(generation);
      const file = lock.file(name);
      if (damaged) {
        fs.rmSync(file, { force: true });
        actions.push({ file: name, what: "deleted: it follows a damaged log" });
        continue;
      }
      const scan = scanDataFile(file, LOG_MAGIC, generation, () => undefined);
      if (scan.damage === undefined) continue;
      damaged = true;
      if (scan.damage.offset < 16) {
        fs.rmSync(file, { force: true });
        actions.push({ file: name, what: `deleted: its header is damaged (${scan.damage.why})` });
        continue;
      }
      fs.truncateSync(file, scan.damage.offset);
      actions.push({
        file: name,
        what: `damaged at offset ${scan.damage.offset} (${scan.damage.why}): cut to ${scan.damage.offset} bytes (${scan.size - scan.damage.offset} dropped), ${scan.records} records kept`,
      });
    }
    return { dir: lock.dir, actions };
  } finally {
    await lock.release();
  }
}

