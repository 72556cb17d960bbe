/**
 * Two servers measured on the same workload in alternating slices, A-B-B-A-A-B…, so that whatever
 * else the shared machine does, and any drift over the pair, falls on both alike; each side's
 * slices are merged into one run. Used by the issue-14 comparisons (Stateward over Redis against
 * the direct Redis baseline, this build's memory backend against a reference build), and with
 * more sides by the durability group (memory only, everysec, always).
 */
import type { CliOptions } from "./args";
import { durationFlag, reproduceCommand } from "./command-line";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import type { RedisClientName } from "./target-spec";
import { mergeRunSlices } from "./run-merge";
import { runSessionScenario, type SessionScenario } from "./session-scenario";
import { LATER_SLICE_WARMUP_MS } from "./tls-comparison-runs";

/** Slices per side (even, for the A-B-B-A order), as the TLS comparison. */
export const ALTERNATING_SLICES = 6;

/** One side of a comparison: what it is and the server it loads. */
export interface AlternatingSide {
  /** `stateward` (over the context's transport) or the `redis` baseline. */
  readonly kind: "stateward" | "redis";
  readonly target: LoadTarget;
  /** What it is, as the other side's note names it ("alternating with the reference build"). */
  readonly label: string;
  /** A `redis` side's client (default: the context's `redisClient`). */
  readonly redisClient?: RedisClientName;
}

/**
 * Runs `scenario` on both sides in {@link ALTERNATING_SLICES} slices each that add up to
 * --duration (each at least 500 ms): the whole --warmup before a side's first slice, at most
 * {@link LATER_SLICE_WARMUP_MS} before the others. Returns the two merged runs, in the order of
 * `sides`; the first's extra holds the spread of the per-slice throughput ratios (first ÷ second):
 * `sliceRatioMin`, `sliceRatioMedian`, `sliceRatioMax`.
 */
export async function runAlternating(
  context: RunContext,
  scenario: SessionScenario,
  sides: readonly [AlternatingSide, AlternatingSide],
): Promise<[RunResult, RunResult]> {
  const [ours, theirs] = (await runAlternatingSlices(context, scenario, sides)) as [RunResult[], RunResult[]];
  const first = mergeRunSlices(ours, `${sides[1].label} (A-B-B-A)`);
  // The spread of the per-slice ratios shows how much of the merged ratio is noise of the machine.
  return [
    { ...first, extra: { ...first.extra, ...ratioSpread(sliceRatios(ours, theirs)) } },
    mergeRunSlices(theirs, `${sides[0].label} (A-B-B-A)`),
  ];
}

/**
 * As {@link runAlternating} with any number of sides (at least two): each slice runs them in order,
 * the next in reverse (A-B-C-C-B-A-A-B-C…), so that every side has as many slices early and late.
 * Returns the merged runs in the order of `sides`; every side but the first gets in its extra the
 * spread of its per-slice throughput ratios to the first side (`sliceRatioMin`, `sliceRatioMedian`,
 * `sliceRatioMax`: this side ÷ the first).
 */
export async function runAlternatingSides(context: RunContext, scenario: SessionScenario, sides: readonly AlternatingSide[]): Promise<RunResult[]> {
  if (sides.length < 2) throw new Error("an alternating comparison needs two sides at least");
  const slices = await runAlternatingSlices(context, scenario, sides);
  const others = (index: number): string =>
    sides
      .filter((_, other) => other !== index)
      .map((side) => side.label)
      .join(" and ");
  const first = slices[0] as RunResult[];
  return slices.map((sideSlices, index) => {
    const merged = mergeRunSlices(sideSlices, `${others(index)} (${sides.map((_, letter) => String.fromCharCode(65 + letter)).join("-")}, then reversed)`);
    if (index === 0) return merged;
    return { ...merged, extra: { ...merged.extra, ...ratioSpread(sliceRatios(sideSlices, first)) } };
  });
}

/**
 * The slices of an alternating comparison, per side: {@link ALTERNATING_SLICES} rounds that add up
 * to --duration (each at least 500 ms), the sides in order, then in reverse; the whole --warmup
 * before a side's first slice, at most {@link LATER_SLICE_WARMUP_MS} before the others.
 */
export async function runAlternatingSlices(context: RunContext, scenario: SessionScenario, sides: readonly AlternatingSide[]): Promise<RunResult[][]> {
  const totalMs = Math.max(context.options.durationMs, 500 * ALTERNATING_SLICES);
  const sliceMs = (slice: number): number =>
    Math.round(((slice + 1) * totalMs) / ALTERNATING_SLICES) - Math.round((slice * totalMs) / ALTERNATING_SLICES);
  const laterWarmup = context.withOptions({ warmupMs: Math.min(context.options.warmupMs, LATER_SLICE_WARMUP_MS) });
  const slices: RunResult[][] = sides.map(() => []);
  const forward = sides.map((_, index) => index);
  for (let slice = 0; slice < ALTERNATING_SLICES; slice++) {
    for (const index of slice % 2 === 0 ? forward : [...forward].reverse()) {
      const side = sides[index] as AlternatingSide;
      const base = slice === 0 ? context : laterWarmup;
      const sideContext = side.redisClient === undefined ? base : base.withOptions({ redisClient: side.redisClient });
      (slices[index] as RunResult[]).push(await runSessionScenario(sideContext, scenario, side.kind, side.target, "node", sliceMs(slice)));
    }
  }
  return slices;
}

/** Per slice, the throughput of `runs` over that of `baseline`, sorted. */
export function sliceRatios(runs: readonly RunResult[], baseline: readonly RunResult[]): number[] {
  return runs.map((run, slice) => run.throughput / Math.max(1e-9, baseline[slice]?.throughput ?? 0)).sort((a, b) => a - b);
}

/** Min, median and max of sorted ratios. */
export function ratioSpread(sorted: readonly number[]): { sliceRatioMin: number; sliceRatioMedian: number; sliceRatioMax: number } {
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? (sorted[Math.floor(middle)] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  return { sliceRatioMin: sorted[0] ?? 0, sliceRatioMedian: median, sliceRatioMax: sorted[sorted.length - 1] ?? 0 };
}

/**
 * The command that reproduces a suite group's runs: the group alone with the load shape of this
 * invocation (its runs need servers the tool starts together, so no single-scenario command does).
 */
export function suiteGroupCommand(group: string, options: CliOptions, extra: Readonly<Record<string, string | number | undefined>> = {}): string {
  return reproduceCommand("suite", {
    only: group,
    duration: durationFlag(options.durationMs),
    warmup: durationFlag(options.warmupMs),
    "in-flight": options.inFlight,
    channels: options.channels,
    workers: options.workers,
    ...extra,
  });
}
