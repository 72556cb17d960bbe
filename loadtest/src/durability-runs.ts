/**
 * The runs of the suite's issue-15 durability group by name (durability-scenario.ts,
 * durability-restart.ts): what it compares, the ids of its runs and its targets, shared with
 * target-evaluation.ts and BENCHMARKS.md.
 */

/** The pipelined workloads measured memory only against `--fsync everysec` and `--fsync always`. */
export const DURABILITY_WORKLOADS = ["set", "lock-set"] as const;

/** One of {@link DURABILITY_WORKLOADS}. */
export type DurabilityWorkload = (typeof DURABILITY_WORKLOADS)[number];

/** The sides of the throughput comparison: no data directory, and the two fsync policies that sync. */
export const DURABILITY_MODES = ["memory", "everysec", "always"] as const;

/** One of {@link DURABILITY_MODES}. */
export type DurabilityMode = (typeof DURABILITY_MODES)[number];

/** Id of a throughput run of the durability group. */
export function durabilityRunId(scenario: DurabilityWorkload, mode: DurabilityMode): string {
  return `durability-${scenario}-${mode}`;
}

/** Id of the restart run (fill, SIGTERM, replay to serving). */
export const DURABILITY_RESTART_RUN_ID = "durability-restart";

/** Id of the snapshot run (a probe every millisecond while a snapshot of every session runs). */
export const DURABILITY_SNAPSHOT_RUN_ID = "durability-snapshot";

/** Issue 15: `--fsync everysec` keeps at least this share of the memory-only throughput. */
export const DURABILITY_EVERYSEC_MIN_RATIO = 0.8;

/** Issue 15: `--fsync always` (group commit) keeps at least this share of the memory-only throughput. */
export const DURABILITY_ALWAYS_MIN_RATIO = 0.3;

/** Issue 15: from spawn to serving with the sessions of the restart run, at most this, s. */
export const DURABILITY_RESTART_MAX_SECONDS = 10;

/** Issue 15: peak RSS during the replay at most this multiple of the steady RSS before the restart. */
export const DURABILITY_REPLAY_MAX_RSS_RATIO = 1.5;

/** Issue 15: the longest pause of request handling during a snapshot, at most this, ms. */
export const DURABILITY_SNAPSHOT_MAX_PAUSE_MS = 20;

/** Default sessions of the restart and snapshot runs (`--durability-sessions`), each of 1 KiB. */
export const DURABILITY_DEFAULT_SESSIONS = 1_000_000;

/** `--max-memory` of the servers of the group: 1 M sessions of 1 KiB are about 1.2 GiB of live data. */
export const DURABILITY_MAX_MEMORY = "4GiB";

/** The `serve` flags of a server of `mode` on `dataDir` (none for memory only), with its metrics on `metricsPort`. */
export function durabilityServerArgs(mode: DurabilityMode, dataDir: string, metricsPort: number): string[] {
  const common = ["--max-memory", DURABILITY_MAX_MEMORY, "--metrics-port", String(metricsPort)];
  return mode === "memory" ? common : [...common, "--data-dir", dataDir, "--fsync", mode];
}

/**
 * The snapshot flags of the restarted server: the smallest ratio and minimum the server accepts,
 * so that the first writes after the replay start a snapshot of every session (the replay itself
 * never starts one).
 */
export const SNAPSHOT_TRIGGER_ARGS: readonly string[] = ["--snapshot-log-ratio", "0.1", "--snapshot-min-log-bytes", "4KiB"];
