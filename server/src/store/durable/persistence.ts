import fs from "node:fs";
import type { DurableJournal, JournalStats, JournalTarget, SessionRow } from "../memory/session-journal";
import { StoreError } from "../store-error";
import { DataDirLock, FILE_HEADER_BYTES, LOG_MAGIC, fileHeader, listDataFiles, logFileName, snapshotFileName, syncDir, syncDirInBackground } from "./data-dir";
import { LogWriteError, LogWriter, errorCode } from "./log-writer";
import { RECORD_LOCK_IDS, RECORD_META, RECORD_STATE, RecordEncoder } from "./log-records";
import { DEFAULT_PERSISTENCE_OPTIONS, type PersistenceOptions } from "./persistence-options";
import { replayDataDir } from "./replay";
import { writeSnapshot, type SnapshotResult } from "./snapshot-writer";

/** What persistence reports (the server routes it to the log, the metrics and health). */
export interface PersistenceEvents {
  /** Changes can (true) or cannot (false) be written; called on changes only. `cause`: the error code. */
  readonly onWritable?: (writable: boolean, cause: string) => void;
  /** An fdatasync of the log took `seconds` and made `records` records durable. */
  readonly onSync?: (seconds: number, records: number) => void;
  /** A snapshot finished. */
  readonly onSnapshot?: (seconds: number, result: SnapshotResult) => void;
  /** Something worth a line in the log (a torn record cut off, a snapshot that failed). Never carries session ids or data. */
  readonly onNotice?: (level: "info" | "warn" | "error", message: string, details: Readonly<Record<string, unknown>>, error?: unknown) => void;
}

/** How often a log that cannot be written is tried again, in ms. */
const RETRY_MS = 1000;
/** Free space the retry wants to see before it calls the log writable again (a write may still succeed with less). */
const RETRY_MIN_FREE_BYTES = 256 * 1024;
/** How long after a failed snapshot the next one may start, in ms. */
const SNAPSHOT_RETRY_MS = 10_000;

/**
 * The answer to a change that was made but whose record's sync failed, when the server shuts down
 * before a snapshot could rewrite the log: it may or may not survive a crash.
 */
function persistenceUncertain(code: string): StoreError {
  return new StoreError(
    "unavailable",
    "PERSISTENCE_FAILED",
    `the change was made, but its log record could not be synced (${code}) and the server shut down before the log was rewritten: it may be lost on a crash`,
    { cause: code },
  );
}

/** The refusal of a change the log could not take. */
function persistenceFailed(code: string): StoreError {
  return new StoreError(
    "unavailable",
    "PERSISTENCE_FAILED",
    `the change could not be written to the server's append-only log (${code}): nothing changed; reads go on; retry once the disk recovers`,
    { cause: code },
  );
}

/**
 * The memory backend's journal on disk (`--data-dir`): an append-only log of every change, written
 * before the change is made, fdatasynced by the `--fsync` policy, compacted into snapshots in the
 * background, and replayed at start. Redis's AOF, with its policies, for the embedded store.
 *
 * When the log cannot be written (disk full, I/O error), the change is refused with
 * PERSISTENCE_FAILED and not made, and {@link PersistenceEvents.onWritable} says so (health turns
 * NOT_SERVING); the log is tried again every second and with every write, and writes work again
 * as soon as one goes through. A log that could not be put back to its last whole record, or whose
 * sync failed (its last records may be lost on a crash), is not appended to again: a snapshot into
 * a fresh generation makes the disk match memory first.
 */
export class Persistence implements DurableJournal {
  /** The resolved options. */
  readonly options: PersistenceOptions;
  readonly syncsBeforeAnswer: boolean;
  private bytesWritten = 0;
  private readonly encoder = new RecordEncoder();
  private readonly touches = new RecordEncoder();
  private pendingTouches = 0;
  private touchFlushScheduled = false;
  private lock: DataDirLock | undefined;
  private target: JournalTarget | undefined;
  private writer: LogWriter | undefined;
  private generation = 0;
  private olderLogBytes = 0;
  private snapshotBytes = 0;
  private lastSnapshotAt = 0;
  private replaySeconds = 0;
  private syncs = 0;
  private syncedRecords = 0;
  private writable = true;
  /** The current log must not be appended to (a failed ftruncate or sync): a snapshot starts a fresh one. */
  private broken = false;
  /**
   * The disk may lack something already acknowledged (a sync failed): a snapshot must rewrite the
   * state, and is tried every second until one succeeds.
   */
  private needsSnapshot = false;
  /** Sync failures so far: a snapshot clears {@link needsSnapshot} only if none came while it ran. */
  private syncFailures = 0;
  /** Answers of changes whose sync failed: they are answered once a snapshot holds them. */
  private awaitingRewrite: ((error?: unknown) => void)[] = [];
  /** A snapshot failure was logged since the last success (so the retries do not fill the log). */
  private snapshotFailureLogged = false;
  private lastCause = "";
  private snapshotting: Promise<void> | undefined;
  private nextSnapshotAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closing = false;

  /**
   * @param options - the options; omitted fields take {@link DEFAULT_PERSISTENCE_OPTIONS}.
   * @param events - what it reports.
   */
  constructor(
    options: Partial<PersistenceOptions>,
    private readonly events: PersistenceEvents = {},
  ) {
    this.options = Object.freeze({ ...DEFAULT_PERSISTENCE_OPTIONS, ...options });
    if (this.options.dataDir === "") throw new RangeError("persistence needs a data directory");
    this.syncsBeforeAnswer = this.options.fsync === "always";
  }

  get written(): number {
    return this.bytesWritten;
  }

  async open(target: JournalTarget): Promise<void> {
    const dir = this.options.dataDir;
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new Error(`--data-dir ${dir} is not a directory`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const lock = await DataDirLock.acquire(dir);
    try {
      const started = process.hrtime.bigint();
      const files = listDataFiles(lock.dir);
      // A snapshot that was being written when the server stopped is incomplete.
      for (const name of files.partial) fs.rmSync(lock.file(name), { force: true });
      const replay = replayDataDir(lock.dir, files, target);
      // Files older than the newest snapshot are left over from a crash before their deletion; only
      // once that snapshot has been read whole (a refused start deletes nothing).
      for (const name of files.obsolete) fs.rmSync(lock.file(name), { force: true });
      this.replaySeconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (replay.cutTail !== undefined) {
        this.events.onNotice?.("warn", "the last record of the log was cut short by a crash and is cut off (that change was never answered)", {
          file: replay.cutTail.file,
          offset: replay.cutTail.offset,
          bytes: replay.cutTail.bytes,
          why: replay.cutTail.why,
        });
      }
      this.snapshotBytes = replay.snapshotBytes;
      this.olderLogBytes = replay.olderLogBytes;
      this.lock = lock;
      this.target = target;
      if (replay.lastGeneration === 0 || replay.lastLogBytes === 0) {
        this.generation = Math.max(replay.lastGeneration, files.snapshotGeneration, 1);
        this.writer = this.createLog(this.generation);
      } else {
        this.generation = replay.lastGeneration;
        this.writer = this.openLog(this.generation, replay.lastLogBytes);
      }
      this.events.onNotice?.("info", "replayed the data directory", {
        dataDir: lock.dir,
        records: replay.records,
        replaySeconds: this.replaySeconds,
        fsync: this.options.fsync,
      });
    } catch (error) {
      this.lock = undefined;
      this.target = undefined;
      await lock.release();
      throw error;
    }
  }

  state(app: string, sessionId: string, row: SessionRow, data: Uint8Array): void {
    this.encoder.row(RECORD_STATE, app, sessionId, row, data);
    this.commit();
  }

  meta(app: string, sessionId: string, row: SessionRow): void {
    this.encoder.row(RECORD_META, app, sessionId, row);
    this.commit();
  }

  remove(app: string, sessionId: string): void {
    this.encoder.remove(app, sessionId);
    this.commit();
  }

  touch(app: string, sessionId: string, expiresAt: number): void {
    if (!this.writable || this.writer === undefined) return;
    this.touches.touch(app, sessionId, expiresAt);
    this.pendingTouches++;
    if (this.touchFlushScheduled) return;
    // Touches go with the next change, or at the end of this turn.
    this.touchFlushScheduled = true;
    setImmediate(() => {
      this.touchFlushScheduled = false;
      this.flushTouches();
    });
  }

  whenDurable(done: (error?: unknown) => void): void {
    const writer = this.writer;
    if (writer === undefined) {
      done();
      return;
    }
    writer.whenDurable((error) => {
      if (error === undefined) {
        done();
        return;
      }
      // The change is made (in memory, and maybe on disk): not a refusal. The snapshot that
      // rewrites the log holds it; the answer waits for that.
      if (this.closing) done(persistenceUncertain(error.code));
      else this.awaitingRewrite.push(done);
    });
  }

  stats(): JournalStats {
    return {
      logBytes: this.olderLogBytes + (this.writer?.size ?? 0),
      snapshotBytes: this.snapshotBytes,
      lastSnapshotAt: this.lastSnapshotAt,
      replaySeconds: this.replaySeconds,
      writable: this.writable,
      syncs: this.syncs,
      syncedRecords: this.syncedRecords,
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.retryTimer !== undefined) clearInterval(this.retryTimer);
    await this.snapshotting;
    this.flushTouches();
    for (const done of this.awaitingRewrite.splice(0)) done(persistenceUncertain(this.lastCause || "EIO"));
    try {
      await this.writer?.close();
    } catch (error) {
      this.events.onNotice?.("error", "the log could not be synced at shutdown", { cause: errorCode(error) }, error);
    } finally {
      this.writer = undefined;
      await this.lock?.release();
      this.lock = undefined;
    }
  }

  /** Starts a snapshot now (for tests and tools); resolves when it is done (or failed, which is logged). */
  snapshotNow(): Promise<void> {
    return this.snapshotting ?? this.startSnapshot();
  }

  // ---- writing ----------------------------------------------------------------------------------

  /** Appends the encoded record (after any pending touches), or throws PERSISTENCE_FAILED. */
  private commit(): void {
    const writer = this.writer;
    if (writer === undefined || this.broken || this.closing) {
      this.encoder.clear();
      throw persistenceFailed(this.closing ? "ESHUTDOWN" : this.lastCause || "EIO");
    }
    const size = this.encoder.size;
    const parts = this.pendingTouches > 0 ? [...this.touches.parts(), ...this.encoder.parts()] : this.encoder.parts();
    const records = this.pendingTouches + 1;
    try {
      writer.append(parts, records);
    } catch (error) {
      this.dropTouches();
      throw this.writeFailed(error);
    } finally {
      this.encoder.clear();
    }
    this.dropTouches();
    this.bytesWritten += size;
    if (!this.writable) this.setWritable(true, "");
    this.maybeSnapshot();
  }

  private flushTouches(): void {
    if (this.pendingTouches === 0) return;
    const writer = this.writer;
    if (writer !== undefined && !this.broken && this.writable) {
      try {
        writer.append(this.touches.parts(), this.pendingTouches);
      } catch (error) {
        this.writeFailed(error);
      }
    }
    this.dropTouches();
  }

  private dropTouches(): void {
    this.touches.clear();
    this.pendingTouches = 0;
  }

  /** A write failed: the state turns unwritable, and the refusal to answer with. */
  private writeFailed(error: unknown): StoreError {
    const code = error instanceof LogWriteError ? error.code : errorCode(error);
    if (error instanceof LogWriteError && !error.recoverable) this.broken = true;
    this.lastCause = code;
    if (this.writable) {
      this.events.onNotice?.("error", "a change could not be written to the log: writes fail with PERSISTENCE_FAILED until it can", { cause: code }, error);
      this.setWritable(false, code);
    }
    return persistenceFailed(code);
  }

  private setWritable(writable: boolean, cause: string): void {
    if (this.writable !== writable) {
      this.writable = writable;
      this.events.onWritable?.(writable, cause);
    }
    this.updateRetry();
  }

  /** The retry timer runs while the log cannot be written or a snapshot must rewrite it. */
  private updateRetry(): void {
    const needed = !this.closing && (!this.writable || this.needsSnapshot);
    if (!needed && this.retryTimer !== undefined) {
      clearInterval(this.retryTimer);
      this.retryTimer = undefined;
    } else if (needed && this.retryTimer === undefined) {
      this.retryTimer = setInterval(() => this.retry(), RETRY_MS);
      this.retryTimer.unref();
    }
  }

  /** Tries the log again: a small record, or (a broken log, a lost sync) a snapshot into a fresh generation. */
  private retry(): void {
    if (this.closing || this.snapshotting !== undefined) return;
    if (this.broken || this.needsSnapshot) {
      void this.startSnapshot();
      return;
    }
    const writer = this.writer;
    const lock = this.lock;
    if (writer === undefined || this.target === undefined || lock === undefined) return;
    // The small record below may still fit in the log's last block of a full disk: it says the
    // log is writable only with some room besides (else health would flap while writes fail).
    if (freeBytes(lock.dir) < RETRY_MIN_FREE_BYTES) return;
    this.encoder.mark(RECORD_LOCK_IDS, this.target.nextLockId);
    try {
      writer.append(this.encoder.parts(), 1);
      this.events.onNotice?.("info", "the log can be written again: writes are accepted", {});
      this.setWritable(true, "");
    } catch (error) {
      this.lastCause = error instanceof LogWriteError ? error.code : errorCode(error);
      if (error instanceof LogWriteError && !error.recoverable) this.broken = true;
    } finally {
      this.encoder.clear();
    }
  }

  /**
   * A sync of `writer` failed. The kernel may have dropped the dirty pages, so the file cannot be
   * trusted: the current log is not appended to again, and a snapshot must rewrite the state (at
   * once). A rotated-out log's failure needs the snapshot only.
   */
  private syncFailed(writer: LogWriter, error: LogWriteError): void {
    this.lastCause = error.code;
    this.needsSnapshot = true;
    this.syncFailures++;
    if (this.closing) return;
    this.events.onNotice?.("error", "the log could not be synced: a snapshot rewrites the state", { cause: error.code, current: writer === this.writer }, error);
    if (writer === this.writer) {
      this.broken = true;
      this.setWritable(false, error.code);
    } else {
      this.updateRetry();
    }
    // After this turn: the writer hands the failed answers over (to awaitingRewrite) after this call.
    setImmediate(() => {
      if (this.snapshotting === undefined && !this.closing) void this.startSnapshot();
    });
  }

  private createLog(generation: number): LogWriter {
    const lock = this.requireLock();
    const file = lock.file(logFileName(generation));
    const fd = fs.openSync(file, "w", 0o600);
    try {
      const header = fileHeader(LOG_MAGIC, generation);
      fs.writeSync(fd, header, 0, header.length, 0);
      fs.fdatasyncSync(fd);
      syncDir(lock.dir);
    } catch (error) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw error;
    }
    return this.writerOf(fd, file, FILE_HEADER_BYTES);
  }

  private openLog(generation: number, size: number): LogWriter {
    const lock = this.requireLock();
    const file = lock.file(logFileName(generation));
    return this.writerOf(fs.openSync(file, "r+"), file, size);
  }

  private writerOf(fd: number, file: string, size: number): LogWriter {
    const writer: LogWriter = new LogWriter(fd, file, size, this.options.fsync, {
      onSync: (seconds, records) => {
        this.syncs++;
        this.syncedRecords += records;
        this.events.onSync?.(seconds, records);
      },
      onSyncError: (error) => this.syncFailed(writer, error),
    });
    return writer;
  }

  private requireLock(): DataDirLock {
    if (this.lock === undefined) throw new Error("persistence is not open");
    return this.lock;
  }

  // ---- snapshots --------------------------------------------------------------------------------

  private maybeSnapshot(): void {
    if (this.snapshotting !== undefined || this.target === undefined) return;
    const logBytes = this.olderLogBytes + (this.writer?.size ?? 0);
    const threshold = Math.max(this.options.snapshotMinLogBytes, this.options.snapshotLogRatio * this.target.liveBytes);
    if (logBytes < threshold || Date.now() < this.nextSnapshotAt) return;
    // Not now: the change being written may still wait for this log's sync (fsync always).
    this.launchSnapshot(new Promise<void>((resolve) => setImmediate(resolve)));
  }

  private startSnapshot(): Promise<void> {
    return this.snapshotting ?? this.launchSnapshot(Promise.resolve());
  }

  /**
   * Runs a snapshot once `after` settles: later than this turn, since runSnapshot clears
   * `snapshotting` when it ends, which must come after the assignment here.
   */
  private launchSnapshot(after: Promise<void>): Promise<void> {
    const run: Promise<void> = after
      .then(() => this.runSnapshot())
      .catch((error: unknown) => {
        // runSnapshot handles its failures: this is a bug, which must not end the process.
        if (this.snapshotting === run) this.snapshotting = undefined;
        this.events.onNotice?.("error", "a snapshot failed unexpectedly", { cause: errorCode(error) }, error);
      });
    this.snapshotting = run;
    return run;
  }

  /**
   * Rotates to a new generation's log (every change from now on goes there), writes the snapshot of
   * that generation beside it, and once the snapshot is in place deletes the older files.
   */
  private async runSnapshot(): Promise<void> {
    const target = this.target;
    const lock = this.lock;
    if (target === undefined || lock === undefined || this.closing) {
      this.snapshotting = undefined;
      return;
    }
    const started = process.hrtime.bigint();
    const generation = this.generation + 1;
    const temporary = lock.file(`${snapshotFileName(generation)}.tmp`);
    let rotated = false;
    let closedOld: Promise<void> | undefined;
    // Once this snapshot is in place, the changes made so far are on disk: the answers waiting for
    // that go out, and unless another sync failed meanwhile nothing needs rewriting any more.
    const failures = this.syncFailures;
    const answered = this.awaitingRewrite.splice(0);
    try {
      this.flushTouches();
      const old = this.writer;
      // The old log is synced before the next one exists, so that a crash cannot leave an older
      // log torn behind a newer one (replay accepts a torn tail in the newest log only): in the
      // pool while appends go on, then what came during the last of those syncs on this thread,
      // with nothing appended in between (under load on a slow disk the pool never catches up).
      if (old !== undefined && !this.broken) {
        await syncFully(old);
        if (!this.broken) old.syncNow();
      }
      const fresh = this.createLog(generation);
      this.writer = fresh;
      this.generation = generation;
      this.olderLogBytes += old?.size ?? 0;
      rotated = true;
      // Handled now: a failed sync of it is reported through its writer (syncFailed) already.
      closedOld = old?.close().catch(() => undefined);
      if (this.broken) {
        // The fresh log can be written; the snapshot below rewrites what the broken one may have lost.
        this.broken = false;
        this.setWritable(true, "");
      }
      const result = await writeSnapshot(target, temporary, generation, () => this.closing);
      // In the thread pool: deleting a log of a GiB blocks for a quarter of a second on its own.
      await fs.promises.rename(temporary, lock.file(snapshotFileName(generation)));
      await syncDirInBackground(lock.dir);
      await closedOld;
      const files = listDataFiles(lock.dir);
      for (const name of files.obsolete) await fs.promises.rm(lock.file(name), { force: true });
      await syncDirInBackground(lock.dir);
      this.olderLogBytes = 0;
      this.snapshotBytes = result.bytes;
      this.lastSnapshotAt = Date.now() / 1000;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.events.onSnapshot?.(seconds, result);
      this.events.onNotice?.("info", "snapshot written; older log files deleted", {
        generation,
        sessions: result.sessions,
        bytes: result.bytes,
        seconds,
        longestSliceMs: Math.round(result.longestSliceMs * 100) / 100,
      });
      this.snapshotFailureLogged = false;
      if (this.syncFailures === failures) this.needsSnapshot = false;
      for (const done of answered) done();
      if (!this.writable && !this.broken) {
        this.events.onNotice?.("info", "the log can be written again: writes are accepted", {});
        this.setWritable(true, "");
      }
      this.updateRetry();
    } catch (error) {
      // Still unanswered: the next snapshot answers them (or the shutdown does).
      this.awaitingRewrite.unshift(...answered);
      this.nextSnapshotAt = Date.now() + SNAPSHOT_RETRY_MS;
      await fs.promises.rm(temporary, { force: true }).catch(() => undefined);
      if (!rotated && this.broken) this.lastCause = errorCode(error);
      if (!this.closing && !this.snapshotFailureLogged) {
        this.snapshotFailureLogged = true;
        this.events.onNotice?.(
          "error",
          rotated ? "the snapshot failed; the log goes on and a snapshot is tried again" : "could not start a snapshot; it is tried again",
          { cause: errorCode(error) },
          error,
        );
      }
      await closedOld;
      this.updateRetry();
    } finally {
      this.snapshotting = undefined;
    }
  }
}

/** Syncs a log until nothing written to it is unsynced (writes may arrive while a sync runs). */
async function syncFully(writer: LogWriter): Promise<void> {
  for (let round = 0; round < 8 && writer.unsynced; round++) await writer.flush();
}

/** Bytes this process may still use on the file system of `dir` (Infinity if it cannot be told). */
function freeBytes(dir: string): number {
  try {
    const stats = fs.statfsSync(dir);
    // root may also use the blocks the file system keeps back for it.
    return (process.getuid?.() === 0 ? stats.bfree : stats.bavail) * stats.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
