import fs from "node:fs";

/** Redis's appendfsync policies (`--fsync`). */
export const FSYNC_POLICIES = ["always", "everysec", "no"] as const;

/** One of {@link FSYNC_POLICIES}. */
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

/** A write or sync of the log failed; `code` is the system error code (ENOSPC, EIO, ...). */
export class LogWriteError extends Error {
  override readonly name = "LogWriteError";

  constructor(
    message: string,
    /** The system error code, or "EIO" when the error had none. */
    readonly code: string,
    /** False when the file could not be put back to its last whole record: it must not be appended to again. */
    readonly recoverable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What a log writer reports. */
export interface LogWriterEvents {
  /** An fdatasync finished in `seconds`, making `records` appended records durable. */
  readonly onSync?: (seconds: number, records: number) => void;
  /** An fdatasync failed: the records since the last one may be lost on a machine crash. */
  readonly onSyncError?: (error: LogWriteError) => void;
}

interface DurableWaiter {
  readonly offset: number;
  readonly done: (error?: LogWriteError) => void;
}

/** The system error code of `error`. */
export function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : "EIO";
}

/**
 * One open log file, appended to with positional synchronous writes: a record is in the OS's hands
 * (it survives a kill -9) when {@link append} returns, so the change it describes may be made and
 * answered. A failed write is cut back off (ftruncate to the last whole record) and thrown, and the
 * change is not made. Syncs run in the thread pool, one at a time: under `always` the writes that
 * arrive while one runs share the next (group commit); under `everysec` one runs every second.
 */
export class LogWriter {
  private end: number;
  private synced: number;
  private syncing = false;
  private scheduled = false;
  private closed = false;
  /**
   * The first failed sync. The kernel may have dropped the unsynced pages, so the file cannot be
   * made durable any more: no sync is tried again, and the failure is reported once.
   */
  private failure: LogWriteError | undefined;
  private records = 0;
  private recordsSynced = 0;
  private waiters: DurableWaiter[] = [];
  private interval: NodeJS.Timeout | undefined;

  /**
   * @param fd - the open file, positioned nowhere in particular (writes are positional).
   * @param path - its path, for messages.
   * @param size - its length: where the next record goes.
   * @param policy - when to fdatasync.
   * @param events - sync timings and failures.
   */
  constructor(
    private readonly fd: number,
    readonly path: string,
    size: number,
    readonly policy: FsyncPolicy,
    private readonly events: LogWriterEvents = {},
  ) {
    this.end = size;
    this.synced = size;
    if (policy === "everysec") {
      this.interval = setInterval(() => {
        if (this.end > this.synced && !this.syncing) this.startSync();
      }, 1000);
      this.interval.unref();
    }
  }

  /** Whether records were appended since the last finished sync. */
  get unsynced(): boolean {
    return this.end > this.synced;
  }

  /** Bytes in the file (all of them whole records). */
  get size(): number {
    return this.end;
  }

  /**
   * Writes `parts` (whole records) at the end of the file.
   * @throws {LogWriteError} nothing was added to the file (unless `recoverable` is false).
   */
  append(parts: readonly Uint8Array[], records: number): void {
    if (this.closed) throw new LogWriteError(`the log ${this.path} is closed`, "EBADF", false);
    const start = this.end;
    let position = start;
    try {
      let pending = parts;
      for (;;) {
        const written = fs.writevSync(this.fd, pending as Uint8Array[], position);
        position += written;
        pending = rest(pending, written);
        if (pending.length === 0) break;
      }
    } catch (error) {
      const code = errorCode(error);
      let recoverable = true;
      if (position > start) {
        try {
          fs.ftruncateSync(this.fd, start);
        } catch {
          recoverable = false;
        }
      }
      throw new LogWriteError(`could not append to ${this.path}: ${code}`, code, recoverable, { cause: error });
    }
    this.end = position;
    this.records += records;
  }

  /**
   * Calls `done` once everything appended so far is synced (with no error), or with the sync's
   * failure. Under `everysec` and `no` at once: the OS has the records already.
   */
  whenDurable(done: (error?: LogWriteError) => void): void {
    if (this.failure !== undefined) {
      done(this.failure);
      return;
    }
    if (this.policy !== "always" || this.synced >= this.end) {
      done();
      return;
    }
    this.waiters.push({ offset: this.end, done });
    if (this.syncing || this.scheduled) return;
    // Start at the end of this turn: the writes of the same turn share the sync.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.syncing && !this.closed) this.startSync();
    });
  }

  /** Syncs whatever is not synced yet (shutdown, rotation). */
  async flush(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.synced >= this.end && !this.syncing) return;
    await new Promise<void>((resolve, reject) => {
      this.waiters.push({ offset: this.end, done: (error) => (error === undefined ? resolve() : reject(error)) });
      if (!this.syncing) this.startSync();
    });
  }

  /**
   * Syncs everything appended so far before it returns: an fdatasync on this thread, so nothing
   * can be appended while it runs (a rotation, once {@link flush} could not catch up with appends).
   * @throws {LogWriteError} the sync failed (reported to `onSyncError` too).
   */
  syncNow(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.synced >= this.end) return;
    const target = this.end;
    const records = this.records;
    const started = process.hrtime.bigint();
    try {
      fs.fdatasyncSync(this.fd);
    } catch (error) {
      throw this.failSync(error);
    }
    this.markSynced(target, records, Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** Syncs and closes the file (a log whose sync failed is closed with that failure). Appends after this throw. */
  async close(): Promise<void> {
    if (this.interval !== undefined) clearInterval(this.interval);
    try {
      await this.flush();
    } finally {
      this.closed = true;
      fs.closeSync(this.fd);
    }
  }

  private startSync(): void {
    if (this.closed) return;
    this.syncing = true;
    const target = this.end;
    const records = this.records;
    const started = process.hrtime.bigint();
    fs.fdatasync(this.fd, (error) => {
      this.syncing = false;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (error !== null || this.failure !== undefined) {
        // A failure (of this sync, or of a syncNow while it ran) is final.
        this.failSync(error ?? this.failure);
        return;
      }
      this.markSynced(target, records, seconds);
      // The writes that came while this sync ran share the next one.
      if (this.waiters.length > 0) this.startSync();
    });
  }

  /** A sync up to `target` (`records` appended by then) finished: its waiters are answered. */
  private markSynced(target: number, records: number, seconds: number): void {
    this.synced = Math.max(this.synced, target);
    // A sync that started before a later one finished (syncNow beside one in the pool) made nothing more durable.
    this.events.onSync?.(seconds, Math.max(0, records - this.recordsSynced));
    this.recordsSynced = Math.max(this.recordsSynced, records);
    const synced = this.synced;
    const due = this.waiters.filter((waiter) => waiter.offset <= synced);
    this.waiters = this.waiters.filter((waiter) => waiter.offset > synced);
    for (const waiter of due) waiter.done();
  }

  /** A sync failed: every waiter gets the failure, which is reported (the first time only) and returned. */
  private failSync(error: unknown): LogWriteError {
    const first = this.failure === undefined;
    const failure = this.failure ?? new LogWriteError(`could not sync ${this.path}: ${errorCode(error)}`, errorCode(error), false, { cause: error });
    this.failure = failure;
    if (first && this.interval !== undefined) {
      clearInterval(this.interval);
      this.interval = undefined;
    }
    const waiters = this.waiters;
    this.waiters = [];
    if (first) this.events.onSyncError?.(failure);
    for (const waiter of waiters) waiter.done(failure);
    return failure;
  }
}

/** What is left of `parts` after `written` bytes. */
function rest(parts: readonly Uint8Array[], written: number): readonly Uint8Array[] {
  let skip = written;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as Uint8Array;
    if (skip < part.length) return [part.subarray(skip), ...parts.slice(i + 1)];
    skip -= part.length;
  }
  return [];
}
