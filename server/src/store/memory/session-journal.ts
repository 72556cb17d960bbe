/**
 * The port through which the memory backend makes its changes durable (the adapter is
 * store/durable/): session-changes.ts tells the journal every change before it makes it, and
 * makes it only if the journal took it. Without a journal (no `--data-dir`) nothing is written.
 */

/** The state columns of a session, as a journal keeps them (times in store-clock epoch ms). */
export interface SessionRow {
  /** Version: 1 on creation, +1 per write. */
  readonly version: number;
  /** The sliding window in seconds. */
  readonly ttlSeconds: number;
  /** When the session expires unless touched. */
  readonly expiresAt: number;
  /** The holder's lock id; 0 = unlocked. */
  readonly lockId: number;
  /** When the current lock was granted. */
  readonly lockedAt: number;
  /** When the current lock's lease ends. */
  readonly leaseEnd: number;
  /** The last lock id released by its holder. */
  readonly lastReleasedLockId: number;
  /** The last lock id whose lease ran out. */
  readonly lastLeaseExpiredLockId: number;
  /** The first lock id of this incarnation of the session (older ids are from before it). */
  readonly firstLockId: number;
}

/**
 * Where changes are written before they are made. The write methods throw a StoreError
 * (PERSISTENCE_FAILED) when the change cannot be written: the caller then leaves it unmade.
 * Lease ends and expiries are not written: replay derives them from the deadlines.
 */
export interface SessionJournal {
  /** A session was created or written: its whole state after the change, data included. */
  state(app: string, sessionId: string, row: SessionRow, data: Uint8Array): void;
  /** A session's lock or expiry changed (its data did not): its state after the change. */
  meta(app: string, sessionId: string, row: SessionRow): void;
  /** A session was removed by a caller. */
  remove(app: string, sessionId: string): void;
  /**
   * A session's window restarted (a read). Best effort, never throws: a touch that is lost shortens
   * the session's life after a restart by the time since the last one written.
   */
  touch(app: string, sessionId: string, expiresAt: number): void;
  /** Bytes written so far (an operation that moved it wrote something). */
  readonly written: number;
  /**
   * Calls `done` once what was written so far is as durable as the fsync policy promises before an
   * answer: under `always` after the next fdatasync (shared by the writes around it), otherwise at once.
   * `done` gets the StoreError to answer with instead when the sync failed.
   */
  whenDurable(done: (error?: unknown) => void): void;
  /** Whether answers wait for {@link whenDurable} (fsync `always`). */
  readonly syncsBeforeAnswer: boolean;
}

/** A session as replay restores it. */
export interface RestoredSession {
  readonly app: string;
  readonly sessionId: string;
  readonly row: SessionRow;
  /** Its data (state records), or undefined to keep the data it has (meta records). */
  readonly data: Uint8Array | undefined;
}

/** Where a scan for a snapshot has got to: the next slot of a shard. */
export interface ScanCursor {
  shard: number;
  slot: number;
}

/**
 * The memory backend as a journal sees it: replay restores into it, and snapshots scan it. Replay
 * runs before the backend serves; a scan runs in slices between requests.
 */
export interface JournalTarget {
  /** Makes a session what a state or meta record says. */
  restore(session: RestoredSession): void;
  /** A touch record: the session's new deadline (ignored if the session is gone). */
  restoreTouch(app: string, sessionId: string, expiresAt: number): void;
  /** A remove record (ignored if the session is gone). */
  restoreRemoval(app: string, sessionId: string): void;
  /** Every lock id issued from now on is at least `next`. */
  restoreLockIds(next: number): void;
  /** Replay is done: leases that ended meanwhile are released, sessions whose deadline passed are gone. */
  finishRestore(): void;
  /**
   * Visits up to `limit` live sessions from `cursor` (which it moves on), each with its row and a
   * view of its data that is valid only during the call.
   * @returns false once every session was visited.
   */
  scan(cursor: ScanCursor, limit: number, visit: (app: string, sessionId: string, row: SessionRow, data: Uint8Array) => void): boolean;
  /** Bytes of live session data and ids (what a snapshot holds, roughly). */
  readonly liveBytes: number;
  /** The next lock id the backend will issue. */
  readonly nextLockId: number;
}

/** Gauges of a journal, for the metrics. */
export interface JournalStats {
  /** Bytes of the log files since the last snapshot. */
  readonly logBytes: number;
  /** Bytes of the newest snapshot file (0: none). */
  readonly snapshotBytes: number;
  /** When the last snapshot finished, in Unix seconds (0: none since start). */
  readonly lastSnapshotAt: number;
  /** How long the replay at start took, in seconds. */
  readonly replaySeconds: number;
  /** Whether changes can be written (false: writes fail with PERSISTENCE_FAILED). */
  readonly writable: boolean;
  /** fdatasync calls so far. */
  readonly syncs: number;
  /** Records those syncs made durable (records / syncs = writes per sync). */
  readonly syncedRecords: number;
}

/** A journal that owns files: opened (replaying into the backend) before serving, closed at shutdown. */
export interface DurableJournal extends SessionJournal {
  /** Locks the data directory, replays it into `target`, and opens the log for appending. */
  open(target: JournalTarget): Promise<void>;
  /** Syncs the log and lets the directory go. */
  close(): Promise<void>;
  /** Current gauges. */
  stats(): JournalStats;
}
