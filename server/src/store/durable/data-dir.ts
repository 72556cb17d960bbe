import fs from "node:fs";
import net from "node:net";
import path from "node:path";

/**
 * The data directory: its files and its lock.
 *
 * ```
 * DIR/snapshot-<generation>.swsnap   the sessions as of the start of that generation
 * DIR/log-<generation>.swlog         the changes since (one file per generation, oldest first)
 * ```
 *
 * A snapshot of generation g is written next to the log of generation g, which takes every change
 * made after the snapshot began; once the snapshot is complete (synced and renamed into place) the
 * snapshots and logs of older generations are deleted. Start-up replays the newest complete
 * snapshot, then the logs of its generation and later ones in order.
 */

/** The first bytes of a log file (8), followed by its generation as a float64. */
export const LOG_MAGIC = Buffer.from("SWLOG\u0000v1", "latin1");
/** The first bytes of a snapshot file (8), followed by its generation as a float64. */
export const SNAPSHOT_MAGIC = Buffer.from("SWSNAPv1", "latin1");
/** Bytes of a file header: magic and generation. */
export const FILE_HEADER_BYTES = 16;

const LOG_FILE = /^log-(\d{16})\.swlog$/;
const SNAPSHOT_FILE = /^snapshot-(\d{16})\.swsnap$/;

/** The file name of generation `generation`'s log. */
export function logFileName(generation: number): string {
  return `log-${String(generation).padStart(16, "0")}.swlog`;
}

/** The file name of generation `generation`'s snapshot. */
export function snapshotFileName(generation: number): string {
  return `snapshot-${String(generation).padStart(16, "0")}.swsnap`;
}

/** The header of a log or snapshot file. */
export function fileHeader(magic: Buffer, generation: number): Buffer {
  const header = Buffer.alloc(FILE_HEADER_BYTES);
  magic.copy(header, 0);
  header.writeDoubleLE(generation, 8);
  return header;
}

/** What the directory holds: the newest snapshot and the logs replayed after it. */
export interface DataFiles {
  /** Generation of the newest complete snapshot; 0 when there is none. */
  readonly snapshotGeneration: number;
  /** Generations of the logs to replay, ascending (those at or after the snapshot's). */
  readonly logGenerations: readonly number[];
  /** Older snapshots and logs a finished snapshot left behind (a crash before their deletion). */
  readonly obsolete: readonly string[];
  /** Snapshots that were being written when the server stopped (never complete). */
  readonly partial: readonly string[];
}

/** Lists the data files of `dir`. */
export function listDataFiles(dir: string): DataFiles {
  const logs: number[] = [];
  const snapshots: number[] = [];
  const partial: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const log = LOG_FILE.exec(name);
    if (log !== null) logs.push(Number(log[1]));
    const snapshot = SNAPSHOT_FILE.exec(name);
    if (snapshot !== null) snapshots.push(Number(snapshot[1]));
    if (name.endsWith(".swsnap.tmp")) partial.push(name);
  }
  const snapshotGeneration = snapshots.length === 0 ? 0 : Math.max(...snapshots);
  const obsolete = [
    ...snapshots.filter((generation) => generation < snapshotGeneration).map(snapshotFileName),
    ...logs.filter((generation) => generation < snapshotGeneration).map(logFileName),
  ];
  return {
    snapshotGeneration,
    logGenerations: logs.filter((generation) => generation >= snapshotGeneration).sort((a, b) => a - b),
    obsolete,
    partial,
  };
}

/** Thrown when another process holds the data directory. */
export class DataDirInUseError extends Error {
  override readonly name = "DataDirInUseError";
}

/**
 * Holds the data directory exclusively for this process. The lock is an abstract Unix socket (Linux)
 * named after the directory's device and inode: the kernel releases it when the process dies,
 * however it dies, so a crash never leaves a stale lock behind, and two processes can never both
 * hold it. A process that finds it taken asks the holder for its pid, for the message.
 */
export class DataDirLock {
  private constructor(
    private readonly server: net.Server,
    /** The directory, resolved. */
    readonly dir: string,
  ) {}

  /** Takes the lock of `dir` (which must exist), or throws {@link DataDirInUseError}. */
  static async acquire(dir: string): Promise<DataDirLock> {
    const resolved = fs.realpathSync(dir);
    const stat = fs.statSync(resolved);
    const name = `\u0000stateward-data-dir:${stat.dev}:${stat.ino}`;
    const server = net.createServer((socket) => socket.end(`${process.pid}\n`));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(name, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
      const pid = await holderPid(name);
      throw new DataDirInUseError(
        `the data directory ${resolved} is in use by another Stateward process${pid === undefined ? "" : ` (pid ${pid})`}: one server per data directory`,
      );
    }
    server.unref();
    return new DataDirLock(server, resolved);
  }

  /** Lets the directory go. */
  release(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The path of a file in the directory. */
  file(name: string): string {
    return path.join(this.dir, name);
  }
}

function holderPid(name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = "";
    const socket = net.connect(name);
    socket.setTimeout(1000, () => socket.destroy());
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    socket.on("error", () => resolve(undefined));
    socket.on("close", () => resolve(/^\d+$/.test(text.trim()) ? text.trim() : undefined));
  });
}

/** fsyncs a directory, so that a rename or a new file in it survives a machine crash. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** {@link syncDir} in the thread pool: for the steps of a snapshot, which must not block requests. */
export async function syncDirInBackground(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
