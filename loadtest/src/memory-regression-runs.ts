/**
 * The runs of the suite's memory-regression group (memory-regression-scenario.ts) by name: the
 * memory backend of this build against a reference build (the commit before the Redis work), the
 * ids of its runs and the bound of issue 14, shared with target-evaluation.ts and BENCHMARKS.md.
 */

/** The pipelined workloads compared, in the order they run. */
export const MEMORY_REGRESSION_WORKLOADS = ["get", "lock-set", "mixed"] as const;

/** One of {@link MEMORY_REGRESSION_WORKLOADS}. */
export type MemoryRegressionWorkload = (typeof MEMORY_REGRESSION_WORKLOADS)[number];

/** Id of a run of the group: this build (`current`) or the `reference` build. */
export function memoryRegressionRunId(scenario: MemoryRegressionWorkload, build: "current" | "reference"): string {
  return `memory-regression-${scenario}-${build}`;
}

/** Issue 14: the memory backend does not get slower: at least this share of the reference build's throughput. */
export const MEMORY_REGRESSION_MIN_RATIO = 0.95;
