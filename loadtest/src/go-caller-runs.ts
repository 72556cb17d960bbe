/**
 * The runs of the suite's issue-16 `go-caller` group (go-caller-scenario.ts) by name: the sides it
 * alternates, the ids of their runs and the targets, shared with target-evaluation.ts and
 * BENCHMARKS.md.
 */

/** The Redis sides: go-redis GET of the data key (the floor of what Redis does) and EVALSHA of the Lua Get script. */
export const GO_CALLER_REDIS_SIDES = ["redis-get", "redis-evalsha"] as const;

/** One of {@link GO_CALLER_REDIS_SIDES}. */
export type GoCallerRedisSide = (typeof GO_CALLER_REDIS_SIDES)[number];

/** Rounds of the alternation: each side's share of --duration is measured in this many runs. */
export const GO_CALLER_ROUNDS = 4;

/** Id of the Go SDK's run over `transport`. */
export function goCallerStatewardRunId(transport: string): string {
  return `go-caller-stateward-${transport}`;
}

/** Id of a go-redis run. */
export function goCallerRedisRunId(side: GoCallerRedisSide): string {
  return `go-caller-${side}`;
}

/** Issue 16: the Go caller's Get (the SDK's default transport) at least this many times go-redis EVALSHA's. */
export const GO_CALLER_MIN_EVALSHA_RATIO = 1.2;

/** Issue 16: … and at least this many times go-redis plain GET's. */
export const GO_CALLER_MIN_GET_RATIO = 1.0;

/**
 * The extra of the judged Stateward run that names its transport and the per-round throughput
 * ratios to each Redis side (`ratioTo<side>Min|Median|Max`, e.g. ratioToRedisEvalshaMedian).
 */
export const GO_CALLER_JUDGED_EXTRA = "judgedTransport";

/** The extra names of the per-round ratio spread to `side`. */
export function goCallerRatioExtras(side: GoCallerRedisSide): { min: string; median: string; max: string } {
  const base = side === "redis-get" ? "ratioToRedisGet" : "ratioToRedisEvalsha";
  return { min: `${base}Min`, median: `${base}Median`, max: `${base}Max` };
}

/** The judged Stateward run of the group (the Go SDK's default transport), if it ran. */
export function goCallerJudgedRun<T extends { readonly id: string; readonly extra: Readonly<Record<string, number | string>> }>(runs: readonly T[]): T | undefined {
  return runs.find((run) => run.id.startsWith("go-caller-stateward-") && typeof run.extra[GO_CALLER_JUDGED_EXTRA] === "string");
}
