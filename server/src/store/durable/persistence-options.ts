import type { FsyncPolicy } from "./log-writer";

/** Options of the append-only log and snapshots of the memory backend (`--data-dir` and friends). */
export interface PersistenceOptions {
  /**
   * The data directory (`--data-dir`, `STATEWARD_DATA_DIR`): persistence is on when set, for the
   * memory backend. Created if missing; one server per directory (it is locked). Default empty: memory only.
   */
  readonly dataDir: string;
  /**
   * When the log is fdatasynced (`--fsync`, `STATEWARD_FSYNC`), Redis's appendfsync: `always`
   * (a change is answered once its record is on disk; changes arriving during a sync share the
   * next one), `everysec` (answered once the OS has it, synced every second), `no` (the OS decides).
   * Default `everysec`.
   */
  readonly fsync: FsyncPolicy;
  /**
   * A snapshot starts when the log since the last one exceeds this multiple of the live data
   * (`--snapshot-log-ratio`, `STATEWARD_SNAPSHOT_LOG_RATIO`), and {@link snapshotMinLogBytes}.
   * Default 1 (Redis's auto-aof-rewrite-percentage 100).
   */
  readonly snapshotLogRatio: number;
  /**
   * Nor before the log since the last snapshot reaches this many bytes (`--snapshot-min-log-bytes`,
   * `STATEWARD_SNAPSHOT_MIN_LOG_BYTES`). Default 64 MiB (Redis's auto-aof-rewrite-min-size).
   */
  readonly snapshotMinLogBytes: number;
}

/** The defaults listed on {@link PersistenceOptions}. */
export const DEFAULT_PERSISTENCE_OPTIONS: PersistenceOptions = Object.freeze({
  dataDir: "",
  fsync: "everysec",
  snapshotLogRatio: 1,
  snapshotMinLogBytes: 64 * 1024 * 1024,
});
