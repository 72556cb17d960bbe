/**
 * The soak's verdicts, pure so that every rule is unit-tested on virtual data:
 *
 * - RSS growth: the samples after the warm-up are cut into three equal spans of time; the run
 *   fails when the median RSS of the last third exceeds the median of the middle third by more
 *   than max(tolerance % of that median, tolerance bytes). The first third after the warm-up is
 *   not compared: heaps and slab pages may still be filling up to their working size there.
 *   Medians, not means or maxima, so that a GC cycle or a single spike decides nothing.
 * - The other checks (sessions left locked, a dead server, …) become one failure message each.
 */
import { formatMiB } from "./report-format";
import { plural } from "./plural";

/** One RSS reading, `tMs` from the start of the load. */
export interface RssPoint {
  readonly tMs: number;
  readonly rssBytes: number;
}

/** Parameters of the growth rule. */
export interface GrowthRule {
  /** Samples before this time (from the start of the load) are ignored, ms. */
  readonly warmupMs: number;
  /** Allowed growth as a share of the middle third's median, percent. */
  readonly tolerancePercent: number;
  /** Allowed growth in bytes; the larger of the two allowances applies. */
  readonly toleranceBytes: number;
  /** Fewer samples than this in a third: no verdict (inconclusive, which fails the soak). */
  readonly minSamplesPerThird: number;
}

/** Default rule: +10 % or +32 MiB, whichever is larger, at least 5 samples per third. */
export const DEFAULT_GROWTH_RULE: Omit<GrowthRule, "warmupMs"> = {
  tolerancePercent: 10,
  toleranceBytes: 32 * 1024 * 1024,
  minSamplesPerThird: 5,
};

/** A third of the judged window. */
export interface WindowThird {
  readonly fromMs: number;
  readonly toMs: number;
  readonly samples: number;
  /** Median RSS of its samples, bytes (0 without samples). */
  readonly medianBytes: number;
}

/** The growth verdict and the figures it rests on. */
export interface GrowthVerdict {
  readonly status: "pass" | "fail" | "inconclusive";
  readonly rule: GrowthRule;
  readonly thirds: readonly [WindowThird, WindowThird, WindowThird];
  /** Median of the last third minus median of the middle third, bytes. */
  readonly growthBytes: number;
  /** max(tolerancePercent of the middle median, toleranceBytes). */
  readonly allowedBytes: number;
  /** Least-squares slope of RSS over the judged window, bytes per minute (information only). */
  readonly slopeBytesPerMinute: number;
  /** One sentence: what was compared and the outcome. */
  readonly message: string;
}

/** The median of `values` (mean of the two middle ones for an even count); 0 when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Least-squares slope of y over x; 0 for fewer than two distinct x. */
export function slope(points: readonly { readonly x: number; readonly y: number }[]): number {
  if (points.length < 2) return 0;
  const meanX = points.reduce((sum, point) => sum + point.x, 0) / points.length;
  const meanY = points.reduce((sum, point) => sum + point.y, 0) / points.length;
  let numerator = 0;
  let denominator = 0;
  for (const point of points) {
    numerator += (point.x - meanX) * (point.y - meanY);
    denominator += (point.x - meanX) ** 2;
  }
  return denominator === 0 ? 0 : numerator / denominator;
}

/**
 * Judges RSS growth over `points` (any order). The judged window runs from `rule.warmupMs` to
 * `endMs` (default: the last sample's time).
 */
export function rssGrowthVerdict(points: readonly RssPoint[], rule: GrowthRule, endMs?: number): GrowthVerdict {
  const judged = points.filter((point) => point.tMs >= rule.warmupMs && Number.isFinite(point.rssBytes) && point.rssBytes > 0);
  const start = rule.warmupMs;
  const end = Math.max(start, endMs ?? judged.reduce((latest, point) => Math.max(latest, point.tMs), start));
  const span = (end - start) / 3;
  const bounds: [number, number][] = [
    [start, start + span],
    [start + span, start + 2 * span],
    [start + 2 * span, end],
  ];
  const thirds = bounds.map(([fromMs, toMs], index): WindowThird => {
    // Half-open spans, except the last, which keeps the final sample.
    const values = judged.filter((point) => point.tMs >= fromMs && (index === 2 ? point.tMs <= toMs : point.tMs < toMs)).map((point) => point.rssBytes);
    return { fromMs, toMs, samples: values.length, medianBytes: median(values) };
  }) as unknown as readonly [WindowThird, WindowThird, WindowThird];
  const [, middle, last] = thirds;
  const allowedBytes = Math.max((middle.medianBytes * rule.tolerancePercent) / 100, rule.toleranceBytes);
  const growthBytes = last.medianBytes - middle.medianBytes;
  const slopeBytesPerMinute = slope(judged.map((point) => ({ x: point.tMs / 60_000, y: point.rssBytes })));
  const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;
  const allowance = `allowed +${formatMiB(allowedBytes)} = max(${rule.tolerancePercent} % of ${formatMiB(middle.medianBytes)}, ${formatMiB(rule.toleranceBytes)})`;
  const sign = growthBytes >= 0 ? "+" : "−";
  const compared = `median RSS of the last third (${seconds(last.fromMs)}–${seconds(last.toMs)}) ${formatMiB(last.medianBytes)} vs the middle third (${seconds(middle.fromMs)}–${seconds(middle.toMs)}) ${formatMiB(middle.medianBytes)}: ${sign}${formatMiB(Math.abs(growthBytes))}, ${allowance}`;
  const base = { rule, thirds, growthBytes, allowedBytes, slopeBytesPerMinute };
  if (thirds.some((third) => third.samples < rule.minSamplesPerThird)) {
    return {
      ...base,
      status: "inconclusive",
      message: `RSS growth not judged: a third of the window after the ${seconds(rule.warmupMs)} warm-up has fewer than ${plural(rule.minSamplesPerThird, "sample")} (${thirds.map((third) => third.samples).join(", ")}); run longer or sample more often`,
    };
  }
  if (growthBytes > allowedBytes) return { ...base, status: "fail", message: `RSS keeps growing: ${compared}` };
  return { ...base, status: "pass", message: `RSS stable: ${compared}` };
}

/** A session found locked by the end-of-run check. */
export interface LockedSession {
  /** Its session id (a synthetic id of the soak's pool, not a credential). */
  readonly sessionId: string;
  /** How long the lock had been held, ms. */
  readonly lockAgeMs: number;
}

/** Everything the soak checks besides RSS growth. */
export interface SoakChecks {
  readonly growth: GrowthVerdict;
  /** Set when the server exited by itself during the run (or did not stop cleanly at the end). */
  readonly serverExit?: string;
  /** Sessions of the pool still locked after the load stopped. */
  readonly lockedAtEnd: readonly LockedSession[];
  /** Sessions the end-of-run check could not read (errors), by session id. */
  readonly uncheckedSessions: number;
  /** Sessions whose check found an aborted or timed-out waiter holding the lock during the run. */
  readonly abortLeaks: number;
  /** Locks the server released itself because their lease ran out, during the run (none expected). */
  readonly leaseExpiries?: number;
  /** Server failures that are bugs by definition (INTERNAL, UNKNOWN), by status name. */
  readonly serverBugErrors: Readonly<Record<string, number>>;
  /** False when requests were still running after the drain deadline. */
  readonly drained: boolean;
  /** Operations completed: zero means the load never ran. */
  readonly operations: number;
  /** The end-of-run expiry check (absent when it could not run, e.g. the server died). */
  readonly expiry?: ExpiryCheck;
  /** Waiters that were to give up but were granted the lock while its holder held it. */
  readonly waiterGrants?: number;
}

/** What the end-of-run expiry check found. */
export interface ExpiryCheck {
  /** True when the resident sessions came down to the pool (every short-lived session swept). */
  readonly swept: boolean;
  /** stateward_sessions when the check stopped waiting (null: unreadable). */
  readonly residentAfter: number | null;
  /** The most sessions that may stay resident: the pool and abort sessions found by the lock check. */
  readonly residentLimit: number;
  /** From the moment the last short-lived ttl ran out until the sweep was seen (or the wait ended), ms. */
  readonly waitedMs: number;
  /** Short-lived sessions read after the wait, and how many were still served. */
  readonly sampled: number;
  readonly servedAfterExpiry: number;
}

/** The failure messages of a soak (empty: it passed). */
export function soakFailures(checks: SoakChecks): string[] {
  const failures: string[] = [];
  if (checks.serverExit !== undefined) failures.push(`server: ${checks.serverExit}`);
  if (checks.operations === 0) failures.push("no operation completed: the load never ran");
  if (checks.growth.status !== "pass") failures.push(checks.growth.message);
  if (checks.lockedAtEnd.length > 0) {
    const shown = checks.lockedAtEnd
      .slice(0, 5)
      .map((session) => `${session.sessionId} (held ${(session.lockAgeMs / 1000).toFixed(1)} s)`)
      .join(", ");
    failures.push(`${plural(checks.lockedAtEnd.length, "session")} still locked after the load stopped: ${shown}${checks.lockedAtEnd.length > 5 ? ", …" : ""}`);
  }
  if (checks.uncheckedSessions > 0) failures.push(`${plural(checks.uncheckedSessions, "session")} could not be checked for a leftover lock`);
  if (checks.abortLeaks > 0) failures.push(`${plural(checks.abortLeaks, "aborted or timed-out lock wait")} left ${checks.abortLeaks === 1 ? "its" : "their"} session locked`);
  if (checks.leaseExpiries !== undefined && checks.leaseExpiries > 0) {
    failures.push(`${plural(checks.leaseExpiries, "lock")} ${checks.leaseExpiries === 1 ? "was" : "were"} held until the server's lease ended: a lock was left behind (no client holds one that long)`);
  }
  const bugs = Object.entries(checks.serverBugErrors).filter(([, count]) => count > 0);
  if (bugs.length > 0) failures.push(`the server answered ${bugs.map(([code, count]) => `${code} ×${count}`).join(", ")} (a server bug by definition; see its log)`);
  if (!checks.drained) failures.push("requests were still running after the drain deadline: the load did not stop by itself");
  if (checks.waiterGrants !== undefined && checks.waiterGrants > 0) failures.push(`${plural(checks.waiterGrants, "waiter")} ${checks.waiterGrants === 1 ? "was" : "were"} granted a lock while its holder still held it`);
  const expiry = checks.expiry;
  if (expiry !== undefined && !expiry.swept) {
    failures.push(
      `active expiry did not sweep the short-lived sessions: ${expiry.residentAfter === null ? "unknown sessions" : plural(expiry.residentAfter, "session")} resident ${(expiry.waitedMs / 1000).toFixed(1)} s after the last of their ttls ran out, at most ${expiry.residentLimit} expected (the pool and abort sessions that exist)`,
    );
  }
  if (expiry !== undefined && expiry.servedAfterExpiry > 0) failures.push(`${expiry.servedAfterExpiry} of ${expiry.sampled} short-lived sessions were still served after their ttl`);
  return failures;
}
