/**
 * The issue-16 section of BENCHMARKS.md, "Go caller (issue 16)": a Go program's Get through the Go
 * SDK against go-redis GET and EVALSHA of the Lua Get script, alternating on one Stateward server
 * and one redis-server, with where the targets stand.
 */
import { GO_CALLER_JUDGED_EXTRA, GO_CALLER_REDIS_SIDES, GO_CALLER_ROUNDS, goCallerJudgedRun, goCallerRedisRunId } from "./go-caller-runs";
import { plural } from "./plural";
import { extraNumber, formatCount, formatErrors, formatLatencyMs, markdownRow } from "./report-format";
import type { RunResult } from "./report-model";
import type { TargetStanding } from "./target-evaluation";
import { LATER_SLICE_WARMUP_MS } from "./tls-comparison-runs";

/** The heading of the section. */
export const GO_CALLER_SECTION_HEADING = "## Go caller (issue 16)";

function cpu(value: number | undefined): string {
  return value === undefined ? "–" : value.toFixed(1);
}

/** "Go caller (issue 16)": every run of the go-caller group, the judged Stateward run first. */
export function goCallerSection(runs: readonly RunResult[], standings: readonly TargetStanding[], reasons: Readonly<Record<string, string>>): string[] {
  const judged = goCallerJudgedRun(runs);
  const redis = GO_CALLER_REDIS_SIDES.map((side) => runs.find((run) => run.id === goCallerRedisRunId(side)));
  const statewardRuns = runs.filter((run) => run.id.startsWith("go-caller-stateward-"));
  const ordered = [...(judged === undefined ? [] : [judged]), ...statewardRuns.filter((run) => run !== judged), ...redis.filter((run): run is RunResult => run !== undefined)];
  const lines = [
    GO_CALLER_SECTION_HEADING,
    "",
    `The caller is a Go program (loadtest/go, \`go build\` once per run of the group into a temporary directory): a closed loop of Gets of random sessions of a pool of 1 KiB sessions at a fixed number of goroutines, each with one call in flight. One Stateward server and one redis-server (Debian's, no persistence) alive at once; the driver writes the pool into each before its first round. The sides: Stateward through the Go SDK (client/go: one client, one gRPC connection; every transport the SDK offers, its default judged), go-redis v9 plain GET of the session's data key (the floor of what Redis does for a read) and go-redis EVALSHA of the load tester's Lua Get script (loadtest/src/redis-lua-scripts.ts, handed to the driver as a file: KEYS lock and data key with one hash tag, ARGV the TTL; the same protocol as the Node Redis baseline), go-redis with its default connection pool (10 per GOMAXPROCS). They alternate in ${GO_CALLER_ROUNDS} rounds (in order, then reversed), a new process per round: the whole --warmup before a side's first round, ${LATER_SLICE_WARMUP_MS} ms before the others. Server µs/op is the Stateward node's or redis-server's own CPU over the driver's measured phase; client µs/op is the Go process's.`,
    "",
  ];
  const settings = judged?.settings ?? ordered[0]?.settings;
  if (settings === undefined || ordered.length === 0) return [...lines, "Not measured in this run.", "", ...targetLines(standings, reasons)];
  const first = ordered[0] as RunResult;
  lines.push(
    `${plural(settings.concurrency, "goroutine")}, ${settings.durationMs / 1000} s measured per side, ${settings.payload}, pool of ${settings.pool.toLocaleString("en-US")}; ${String(first.extra["goVersion"] ?? "Go")}, GOMAXPROCS ${String(first.extra["gomaxprocs"] ?? "–")}${extraNumber(redis[0], "redisPoolSize") === undefined ? "" : `, go-redis pool of ${String(extraNumber(redis[0], "redisPoolSize"))} connections`}. Reproduce: \`${first.command}\`.`,
    "",
    markdownRow(["caller", "Get/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "server µs/op", "client µs/op", "errors"]),
    markdownRow(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]),
  );
  for (const run of ordered) {
    lines.push(
      markdownRow([
        run === judged ? `**${run.title}** (judged)` : run.title,
        formatCount(run.throughput),
        formatLatencyMs(run.latency.p50),
        formatLatencyMs(run.latency.p99),
        formatLatencyMs(run.latency.p999),
        formatLatencyMs(run.latency.max),
        cpu(run.server?.cpuUsPerOp),
        cpu(run.client?.cpuUsPerOp),
        formatErrors(run.errors),
      ]),
    );
  }
  if (judged !== undefined) lines.push("", `Judged: the Go SDK's default transport in this tree, ${String(judged.extra[GO_CALLER_JUDGED_EXTRA])}; each ratio below is the median of its ${GO_CALLER_ROUNDS} per-round ratios (the spread beside it).`);
  lines.push("", ...targetLines(standings, reasons));
  return lines;
}

function targetLines(standings: readonly TargetStanding[], reasons: Readonly<Record<string, string>>): string[] {
  const lines: string[] = [];
  for (const standing of standings.filter((item) => item.name.startsWith("Go caller:"))) {
    lines.push(`- ${standing.name}: ${standing.target}. Measured ${standing.measured}: **${standing.status}**.`);
    if (standing.status === "missed") lines.push(`  Why: ${reasons[standing.name] ?? "not analysed yet."}`);
  }
  return lines;
}
