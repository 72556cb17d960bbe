/**
 * The command line of `stateward-loadtest soak` (what `make soak` runs): parsing, validation and
 * defaults into {@link SoakOptions}, and its usage text. Pure, so every rule is unit-tested.
 */
import { parseArgs } from "node:util";
import { parseDuration, UsageError } from "./args";
import { parsePayloadSpec, type PayloadSpec } from "./payloads";
import { DEFAULT_GROWTH_RULE } from "./soak-verdict";

/** Everything the soak's command line sets. */
export interface SoakOptions {
  /** Length of the load, ms (warm-up included). */
  readonly durationMs: number;
  /** RSS samples before this time are not judged, ms. */
  readonly warmupMs: number;
  /** Concurrent request loops (virtual users). */
  readonly concurrency: number;
  /** Cap on iterations started per second over all loops (an iteration is 1–4 operations); 0: no cap. */
  readonly rate: number;
  /** Sessions in the main pool. */
  readonly pool: number;
  /** Payload sizes, drawn log-uniformly between the bounds. */
  readonly payload: PayloadSpec;
  /** Share of iterations that create a short-lived session (fresh id, short ttl, left to expire). */
  readonly shortTtlShare: number;
  /** Short ttls, seconds: each short-lived session draws one in this range. */
  readonly shortTtlSeconds: { readonly min: number; readonly max: number };
  /** Share of iterations that abort a lock wait (AbortSignal) while another holder holds the lock. */
  readonly abortShare: number;
  /** Share of the aborts that race the holder's release (abort in the same event-loop turn or up to two later). */
  readonly abortRaceShare: number;
  /** Share of iterations with a short client timeout (a lock wait on a held lock, or a Get of 1–3 ms). */
  readonly timeoutShare: number;
  /** Lease of every lock the soak takes, ms: far longer than any hold, so a lease that ends is a lock left behind. */
  readonly leaseMs: number;
  /** Sampling period, ms. */
  readonly sampleMs: number;
  /** Growth tolerance: percent of the middle third's median RSS. */
  readonly rssTolerancePercent: number;
  /** Growth tolerance: MiB; the larger allowance applies. */
  readonly rssToleranceMiB: number;
  /** Where soak-report.json and soak-report.html go. */
  readonly outDir: string;
  /** Markdown file whose "## Soak" section gets the result (BENCHMARKS.md for `make soak`). */
  readonly markdown?: string;
  /** Extra flags of the server. */
  readonly serverArgs: readonly string[];
  /** The server script; undefined: server/dist/cli.js of this repository. */
  readonly serverCli?: string;
  /** Progress line: true/false forced; undefined: when stderr is a terminal. */
  readonly progress?: boolean;
  readonly help: boolean;
}

/** The shortest soak: below it no third of the judged window holds enough samples. */
export const MIN_SOAK_MS = 30_000;

/** The default warm-up: a sixth of the run, at least 10 s, at most 5 min. */
export function defaultWarmupMs(durationMs: number): number {
  return Math.min(5 * 60_000, Math.max(10_000, Math.round(durationMs / 6)));
}

function integer(text: string | undefined, option: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const trimmed = text.trim().replace(/_/g, "");
  const value = /^[0-9]+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${option} "${text}": expected an integer from ${min} to ${max}`);
  }
  return value;
}

function number(text: string | undefined, option: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const value = /^[0-9]+(\.[0-9]+)?$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) throw new UsageError(`--${option} "${text}": expected a number from ${min} to ${max}`);
  return value;
}

/** Parses `3` or `2-5` (seconds, optionally with an `s`) into a range of whole seconds. */
export function parseSecondsRange(text: string, option: string): { min: number; max: number } {
  const match = /^([0-9]+)(?:\s*-\s*([0-9]+))?\s*s?$/.exec(text.trim());
  const min = match === null ? Number.NaN : Number(match[1]);
  const max = match === null ? Number.NaN : Number(match[2] ?? match[1]);
  if (!(min >= 1 && max >= min && max <= 3600)) throw new UsageError(`--${option} "${text}": expected seconds such as 3 or 2-5 (1 to 3600, ascending)`);
  return { min, max };
}

/** Parses the arguments after `soak`. */
export function parseSoakArgs(argv: readonly string[]): SoakOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        help: { type: "boolean", short: "h" },
        duration: { type: "string", short: "d" },
        warmup: { type: "string" },
        concurrency: { type: "string", short: "c" },
        rate: { type: "string", short: "r" },
        pool: { type: "string" },
        payload: { type: "string" },
        "short-ttl-share": { type: "string" },
        "short-ttl": { type: "string" },
        "abort-share": { type: "string" },
        "abort-race-share": { type: "string" },
        "timeout-share": { type: "string" },
        "lease-ms": { type: "string" },
        "sample-ms": { type: "string" },
        "rss-tolerance-percent": { type: "string" },
        "rss-tolerance-mib": { type: "string" },
        out: { type: "string", short: "o" },
        markdown: { type: "string" },
        "server-arg": { type: "string", multiple: true },
        "server-cli": { type: "string" },
        progress: { type: "boolean" },
        "no-progress": { type: "boolean" },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values;
  const durationMs = values.duration === undefined ? 30 * 60_000 : parseDuration(values.duration, "duration");
  if (durationMs < MIN_SOAK_MS) throw new UsageError(`--duration "${values.duration ?? ""}": at least 30s (the RSS verdict needs samples in three spans after the warm-up)`);
  const warmupMs = values.warmup === undefined ? defaultWarmupMs(durationMs) : parseDuration(values.warmup, "warmup");
  if (warmupMs > durationMs / 2) throw new UsageError(`--warmup "${values.warmup ?? ""}": at most half of --duration (the rest is judged)`);
  let payload: PayloadSpec = { minBytes: 1, maxBytes: 64 * 1024 };
  if (values.payload !== undefined) {
    try {
      payload = parsePayloadSpec(values.payload);
    } catch (error) {
      throw new UsageError(`--payload: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (payload.minBytes < 1 || payload.maxBytes > 1024 * 1024) throw new UsageError(`--payload "${values.payload}": sizes from 1 B to 1 MiB (the server's default --max-item-bytes)`);
  }
  const abortShare = number(values["abort-share"], "abort-share", 0, 0.5, 0.05);
  const timeoutShare = number(values["timeout-share"], "timeout-share", 0, 0.5, 0.05);
  const shortTtlShare = number(values["short-ttl-share"], "short-ttl-share", 0, 0.5, 0.1);
  if (abortShare + timeoutShare + shortTtlShare > 0.6) {
    throw new UsageError("--abort-share, --timeout-share and --short-ttl-share: at most 0.6 together (the rest is the mixed load on the pool)");
  }
  if (values.progress === true && values["no-progress"] === true) throw new UsageError("--progress and --no-progress contradict each other");
  return {
    durationMs,
    warmupMs,
    concurrency: integer(values.concurrency, "concurrency", 1, 1024, 64),
    rate: integer(values.rate, "rate", 0, 1_000_000, 4_000),
    pool: integer(values.pool, "pool", 1, 1_000_000, 2_000),
    payload,
    shortTtlShare,
    shortTtlSeconds: values["short-ttl"] === undefined ? { min: 2, max: 5 } : parseSecondsRange(values["short-ttl"], "short-ttl"),
    abortShare,
    abortRaceShare: number(values["abort-race-share"], "abort-race-share", 0, 1, 0.3),
    timeoutShare,
    leaseMs: integer(values["lease-ms"], "lease-ms", 5_000, 3_600_000, 30_000),
    sampleMs: integer(values["sample-ms"], "sample-ms", 100, 60_000, 1_000),
    rssTolerancePercent: number(values["rss-tolerance-percent"], "rss-tolerance-percent", 0, 1000, DEFAULT_GROWTH_RULE.tolerancePercent),
    rssToleranceMiB: number(values["rss-tolerance-mib"], "rss-tolerance-mib", 0, 1_000_000, DEFAULT_GROWTH_RULE.toleranceBytes / (1024 * 1024)),
    outDir: values.out ?? ".bench/soak",
    ...(values.markdown === undefined ? {} : { markdown: values.markdown }),
    serverArgs: (values["server-arg"] ?? []).flatMap((item) => item.split(/\s+/)).filter((item) => item !== ""),
    ...(values["server-cli"] === undefined ? {} : { serverCli: values["server-cli"] }),
    ...(values.progress === true ? { progress: true } : values["no-progress"] === true ? { progress: false } : {}),
    help: values.help === true,
  };
}

/** The usage text of `stateward-loadtest soak --help`. */
export function soakUsageText(): string {
  return `Usage: stateward-loadtest soak [options]        (make soak SOAK_ARGS="...")

Starts a Stateward server (node server/dist/cli.js serve --host 127.0.0.1, free ports, Prometheus
metrics on) and drives mixed load through the TypeScript SDK (SessionClient, pipeline transport):
Get, withLock (Lock+Set), Expire, Remove and re-creation over a pool of sessions, lock waits aborted
with an AbortSignal while another holder holds the lock, short client timeouts, and short-ttl
sessions (fresh ids, ttls of a few seconds) that keep active expiry busy. Every second it samples the server's RSS and CPU
(/proc/<pid>), the server's event-loop delay (nodejs_eventloop_lag_*_seconds from /metrics), the
generator's own event-loop delay, operations/s and errors by code.

It fails (exit 1) when
  - RSS keeps growing: the median RSS of the last third of the time after the warm-up exceeds the
    median of the middle third by more than max(--rss-tolerance-percent of it, --rss-tolerance-mib);
  - a session of the pool is still locked after the load stopped (Lock with wait 0 on every one),
    an aborted or timed-out lock wait left its session locked, or a lock lease ran out (no client
    holds a lock that long, so that lock was left behind);
  - the short-lived sessions are not all swept (stateward_sessions back to the pool) within their
    ttl + 10 s after the load, or one of them is still served;
  - the server died, answered INTERNAL/UNKNOWN, or did not exit cleanly on SIGTERM at the end;
  - requests were still running 30 s after the end (every request has a deadline).

Options:
  -d, --duration 30m            length of the load, warm-up included (at least 30s)   default 30m
  --warmup DURATION             RSS before it is not judged (at most half the run)
                                default: a sixth of --duration, 10s to 5m
  -c, --concurrency N           concurrent request loops                              default 64
  -r, --rate N                  cap on iterations started per second (an iteration is
                                1-4 operations; 0: no cap)                            default 4000
  --pool N                      sessions in the main pool                             default 2000
  --payload MIN-MAX             payload sizes, drawn log-uniformly                    default 1-64KiB
  --short-ttl-share R           iterations that create a short-lived session          default 0.1
  --short-ttl S|MIN-MAX         its ttl, seconds                                      default 2-5
  --abort-share R               iterations that abort a lock wait on a held lock      default 0.05
  --abort-race-share R          of those, the share that aborts the waiting Lock as the
                                holder releases (a grant then must be given back)     default 0.3
  --timeout-share R             iterations with a short client timeout                default 0.05
  --lease-ms N                  lease of every lock the soak takes                    default 30000
  --sample-ms N                 sampling period                                       default 1000
  --rss-tolerance-percent P     allowed RSS growth, percent of the middle median      default 10
  --rss-tolerance-mib M         allowed RSS growth, MiB (the larger allowance wins)   default 32
  -o, --out DIR                 soak-report.json and soak-report.html go there        default .bench/soak
  --markdown FILE               replace (or add) the "## Soak" section of FILE         default none
  --server-arg="FLAGS"          extra flags of the server (repeatable; use =)
  --server-cli PATH             the server script (default server/dist/cli.js of this repository)
  --progress / --no-progress    a progress line every 10 s on stderr (default: when it is a terminal)
`;
}
