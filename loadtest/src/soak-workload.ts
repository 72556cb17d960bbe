/**
 * The soak's load: concurrent request loops over one `SessionClient` (pipeline transport), each
 * iteration one of
 *
 * - the mixed operations on the main pool: Get (and Get waiting for a writer), withLock (Lock, then
 *   Set-and-release; sometimes no write, sometimes a throwing callback, which must release too),
 *   Expire, Remove, and re-creation (of sessions found missing, expired or removed);
 * - an abort: on a session of its own, the loop takes the lock, starts a second Lock (or a waiting
 *   Get) on it and aborts that with an AbortSignal while the lock is still held, releases, and then
 *   checks that the session is not locked (an aborted waiter must never be granted the lock);
 *   or the race: it aborts the waiting Lock in the same event-loop turn as it releases (or one or
 *   two turns later), so the server may grant the waiter before the cancel arrives, and such a
 *   grant must be given back at once (the check waits up to 2 s for that);
 * - a short client timeout: the same with a Lock whose deadline (10–50 ms) ends while the lock is
 *   held, or a Get on the main pool with a 1–3 ms deadline.
 *
 * - a short-lived session: a new session (fresh id) with a short ttl, read or written once, then
 *   left alone, so that sessions expire, and active expiry works, all the time (as the sessions of
 *   visitors who leave do).
 *
 * Every call has a deadline and every loop stops at the end time, so the load always stops by itself.
 */
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { SessionClient, StatewardError, status } from "@stateward/client";
import { LatencyHistogram } from "./latency-histogram";
import type { SoakOptions } from "./soak-args";
import type { LockedSession } from "./soak-verdict";

/** The app of every soak session. */
export const SOAK_APP = "soak";

/** What one iteration does. */
export type IterationKind =
  | "get"
  | "get-wait"
  | "with-lock"
  | "expire"
  | "remove"
  | "abort-lock-wait"
  | "abort-get-wait"
  | "abort-race"
  | "timeout-lock-wait"
  | "timeout-get"
  | "short-lived";

/** Kinds of recorded operations: the iterations, the re-creations they trigger, the abort holders' calls, a short-lived session's touch. */
export type OperationKind = IterationKind | "recreate" | "holder" | "short-lived-touch";

/** Weights of the mixed operations on the main pool (the share left after the others). */
export const MIXED_WEIGHTS: Readonly<Record<"get" | "get-wait" | "with-lock" | "expire" | "remove", number>> = {
  get: 0.45,
  "get-wait": 0.05,
  "with-lock": 0.3,
  expire: 0.12,
  remove: 0.08,
};

/** Shares of the special iterations; the rest is the mixed load. */
export interface IterationShares {
  readonly abortShare: number;
  /** Share of the aborts that race the holder's release. */
  readonly abortRaceShare: number;
  readonly timeoutShare: number;
  readonly shortTtlShare: number;
}

/**
 * Picks an iteration from `random` in [0, 1): aborts (`abortRaceShare` of them racing the release,
 * of the others 70 % lock waits and 30 % waiting Gets),
 * timeouts (half lock waits, half Gets) and short-lived sessions by their shares, the rest by
 * {@link MIXED_WEIGHTS}.
 */
export function chooseIteration(random: number, shares: IterationShares): IterationKind {
  const { abortShare, abortRaceShare, timeoutShare, shortTtlShare } = shares;
  if (random < abortShare) {
    const within = random / abortShare;
    if (within < abortRaceShare) return "abort-race";
    return (within - abortRaceShare) / (1 - abortRaceShare) < 0.7 ? "abort-lock-wait" : "abort-get-wait";
  }
  if (random < abortShare + timeoutShare) return random < abortShare + timeoutShare / 2 ? "timeout-lock-wait" : "timeout-get";
  const special = abortShare + timeoutShare + shortTtlShare;
  if (random < special) return "short-lived";
  const rest = special >= 1 ? 0 : (random - special) / (1 - special);
  let cumulative = 0;
  for (const [kind, weight] of Object.entries(MIXED_WEIGHTS) as [keyof typeof MIXED_WEIGHTS, number][]) {
    cumulative += weight;
    if (rest < cumulative) return kind;
  }
  return "get";
}

/** A payload size from `random` in [0, 1), log-uniform in [min, max]: every slab size class gets traffic. */
export function logUniformSize(random: number, minBytes: number, maxBytes: number): number {
  const low = Math.log(Math.max(1, minBytes));
  const high = Math.log(Math.max(1, maxBytes));
  const size = Math.round(Math.exp(low + random * (high - low)));
  return Math.min(maxBytes, Math.max(minBytes, size));
}

/** The main pool's session ids. */
export function poolSessionId(index: number): string {
  return `soak-${index}`;
}

/** Ttl of the abort sessions, seconds. */
export const ABORT_SESSION_TTL_SECONDS = 120;

/** The id of short-lived session number `serial`. */
export function shortLivedSessionId(serial: number): string {
  return `soak-short-${serial}`;
}

/**
 * Up to `count` serials spread evenly over 0 … `created` − 1 (the short-lived sessions checked
 * after the run: every one of them must have expired).
 */
export function spreadSample(created: number, count: number): number[] {
  if (created <= 0 || count <= 0) return [];
  if (created <= count) return Array.from({ length: created }, (_, index) => index);
  return Array.from({ length: count }, (_, index) => Math.floor((index * (created - 1)) / (count - 1 || 1)));
}

/**
 * The abort session of loop `loop` (only that loop touches it, so its checks are exact); after a
 * lock is left behind on it, the loop goes on with the next generation.
 */
export function abortSessionId(loop: number, generation = 0): string {
  return generation === 0 ? `soak-abort-${loop}` : `soak-abort-${loop}-${generation}`;
}

/** Per-kind figures. */
export interface OperationFigures {
  count: number;
  /** Successful operations by outcome (`ok`, `not-found`, `locked`, `cancelled`, …). */
  readonly outcomes: Record<string, number>;
  /** Failures by `CODE` or `CODE/REASON`. */
  readonly errors: Record<string, number>;
  readonly latency: LatencyHistogram;
}

/** Totals the sampler reads while the load runs. */
export interface LiveFigures {
  /** Operations completed (successes and failures). */
  completed: number;
  /** Failures by gRPC status name, cumulative. */
  readonly errorsByCode: Record<string, number>;
}

/** Settings of the load: the soak's options that shape it (see {@link SoakOptions}). */
export type SoakWorkloadSettings = Pick<
  SoakOptions,
  "concurrency" | "rate" | "pool" | "payload" | "shortTtlShare" | "shortTtlSeconds" | "abortShare" | "abortRaceShare" | "timeoutShare" | "leaseMs"
>;

/** Failures that are expected of an iteration (its point), so they are not counted as unexpected. */
const EXPECTED: Readonly<Partial<Record<OperationKind, readonly string[]>>> = {
  "abort-lock-wait": ["CANCELLED"],
  "abort-get-wait": ["CANCELLED"],
  "abort-race": ["CANCELLED"],
  "timeout-lock-wait": ["DEADLINE_EXCEEDED"],
  "timeout-get": ["DEADLINE_EXCEEDED"],
  // Removing or creating a session someone else has locked is refused; that is the contract.
  remove: ["ABORTED/LOCKED_BY_OTHER"],
  recreate: ["ABORTED/LOCKED_BY_OTHER"],
};

const STATUS_NAMES = new Map<number, string>(
  Object.entries(status)
    .filter((entry): entry is [string, number] => typeof entry[1] === "number")
    .map(([name, code]) => [code, name]),
);

/** `CODE` and `CODE/REASON` of a failure. */
export function failureKeys(error: unknown): { code: string; detailed: string } {
  if (StatewardError.is(error)) {
    const code = STATUS_NAMES.get(error.code) ?? `GRPC_${error.code}`;
    return { code, detailed: error.reason === code || error.reason === "" ? code : `${code}/${error.reason}` };
  }
  return { code: "CLIENT_ERROR", detailed: `CLIENT_ERROR/${error instanceof Error ? error.name : typeof error}` };
}

/** Thrown by a withLock callback on purpose: the lock must be released all the same. */
class IntendedThrow extends Error {
  override readonly name = "IntendedThrow";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => (ms <= 0 ? setImmediate(resolve) : setTimeout(resolve, ms)));
}

function increment(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/** The running load. */
export class SoakWorkload {
  readonly operations = new Map<OperationKind, OperationFigures>();
  readonly live: LiveFigures = { completed: 0, errorsByCode: {} };
  /** Failures that are not the point of their iteration, by `CODE/REASON`. */
  readonly unexpected: Record<string, number> = {};
  /** All latencies, µs. */
  readonly latency = new LatencyHistogram();
  /** Locks found held by an aborted or timed-out waiter, by lock id (each counted once). */
  readonly abortLeaks = new Map<bigint, LockedSession>();
  /** Waiters that were to give up but were granted the lock while its holder held it (released at once). */
  waiterGrants = 0;
  /** Per loop, a holder lock whose release failed (so a lock found later is not a waiter's). */
  private readonly unreleased = new Map<number, bigint>();
  private readonly payloadPool: Buffer;
  private nextStartMs = 0;
  private stopping = false;

  constructor(
    private readonly client: SessionClient,
    private readonly settings: SoakWorkloadSettings,
    private readonly random: () => number = Math.random,
  ) {
    // Twice the largest payload, so that views can start at different offsets.
    this.payloadPool = randomBytes(Math.max(2, settings.payload.maxBytes * 2));
    this.abortGenerations = Array.from({ length: settings.concurrency }, () => 0);
  }

  /** Asks every loop to stop after its current iteration. */
  stop(): void {
    this.stopping = true;
  }

  /** A payload (a view into one random buffer: nothing is allocated per write). */
  payload(): Buffer {
    const size = logUniformSize(this.random(), this.settings.payload.minBytes, this.settings.payload.maxBytes);
    const offset = Math.floor(this.random() * (this.payloadPool.length - size));
    return this.payloadPool.subarray(offset, offset + size);
  }

  /** Short-lived sessions created so far (their serials are 0 … shortLivedCreated − 1). */
  shortLivedCreated = 0;
  /** performance.now() time by which every short-lived session's ttl has run out. */
  private shortLivedDeadlineMs = 0;
  /** Per loop, the generation of its abort session. */
  private readonly abortGenerations: number[];

  /** A short ttl, seconds. */
  private shortTtl(): number {
    const { min, max } = this.settings.shortTtlSeconds;
    return min + Math.floor(this.random() * (max - min + 1));
  }

  /** Writes every session of the main pool once (bounded: 64 at a time, each with a deadline). */
  async fillPool(): Promise<number> {
    let next = 0;
    let failed = 0;
    const worker = async (): Promise<void> => {
      while (next < this.settings.pool) {
        const index = next++;
        try {
          await this.client.set(SOAK_APP, poolSessionId(index), this.payload());
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(64, this.settings.pool) }, worker));
    return failed;
  }

  /** Runs the loops until `endAt` (performance.now() time) or {@link stop}; resolves when all have stopped. */
  async run(endAt: number): Promise<void> {
    this.nextStartMs = performance.now();
    await Promise.all(Array.from({ length: this.settings.concurrency }, (_, loop) => this.loop(loop, endAt)));
  }

  private async loop(loop: number, endAt: number): Promise<void> {
    for (let iterations = 0; !this.stopping; iterations++) {
      // The rate cap: a shared schedule of start times that never runs ahead of now, so a stall
      // is not followed by a burst.
      if (this.settings.rate > 0) {
        const now = performance.now();
        const start = Math.max(this.nextStartMs, now);
        this.nextStartMs = start + 1000 / this.settings.rate;
        if (start > now) await sleep(start - now);
      } else if (iterations % 64 === 63) {
        await sleep(0); // let timers and I/O in even when every answer comes back at once
      }
      if (this.stopping || performance.now() >= endAt) return;
      const kind = chooseIteration(this.random(), this.settings);
      const index = Math.floor(this.random() * this.settings.pool);
      switch (kind) {
        case "abort-lock-wait":
        case "abort-get-wait":
        case "timeout-lock-wait":
          await this.heldLockIteration(kind, loop);
          break;
        case "abort-race":
          await this.raceIteration(loop);
          break;
        case "short-lived":
          await this.shortLivedIteration();
          break;
        default:
          await this.poolIteration(kind, index);
      }
    }
  }

  private figures(kind: OperationKind): OperationFigures {
    let figures = this.operations.get(kind);
    if (figures === undefined) {
      figures = { count: 0, outcomes: {}, errors: {}, latency: new LatencyHistogram() };
      this.operations.set(kind, figures);
    }
    return figures;
  }

  /** Runs and records one operation; never throws. Returns its outcome label, or undefined on failure. */
  private async record(kind: OperationKind, operation: () => Promise<string>): Promise<string | undefined> {
    const figures = this.figures(kind);
    const started = performance.now();
    let outcome: string | undefined;
    try {
      outcome = await operation();
      increment(figures.outcomes, outcome);
    } catch (error) {
      const keys = failureKeys(error);
      increment(figures.errors, keys.detailed);
      increment(this.live.errorsByCode, keys.code);
      const expected = EXPECTED[kind] ?? [];
      if (!expected.includes(keys.code) && !expected.includes(keys.detailed)) increment(this.unexpected, keys.detailed);
    }
    const latencyUs = (performance.now() - started) * 1000;
    figures.count++;
    figures.latency.record(latencyUs);
    this.latency.record(latencyUs);
    this.live.completed++;
    return outcome;
  }

  /** Re-creates a pool session that was found missing (only if it is still missing). */
  private recreate(index: number): Promise<string | undefined> {
    return this.record("recreate", async () => {
      const result = await this.client.set(SOAK_APP, poolSessionId(index), this.payload(), { onlyIfAbsent: true });
      return result.outcome === "ok" ? "created" : "exists";
    });
  }

  /**
   * Creates a short-lived session; half of them are then read once, a fifth written once under
   * their lock; then they are left to expire.
   */
  private async shortLivedIteration(): Promise<void> {
    const id = shortLivedSessionId(this.shortLivedCreated++);
    const ttlSeconds = this.shortTtl();
    const created = await this.record("short-lived", async () => {
      const result = await this.client.set(SOAK_APP, id, this.payload(), { onlyIfAbsent: true, ttlSeconds });
      return result.outcome === "ok" ? "created" : "exists";
    });
    // Every call restarts the sliding window: the deadline is counted from when each one returned.
    const touched = (): void => {
      this.shortLivedDeadlineMs = Math.max(this.shortLivedDeadlineMs, performance.now() + ttlSeconds * 1000);
    };
    touched();
    if (created !== "created") return;
    const touch = this.random();
    if (touch < 0.5) {
      await this.record("short-lived-touch", async () => `get-${(await this.client.get(SOAK_APP, id)).outcome}`);
      touched();
    } else if (touch < 0.7) {
      await this.record("short-lived-touch", async () => {
        // create: false, so that a session whose ttl ran out before the touch stays gone (withLock
        // would re-create it with the server's default ttl, and the expiry check would find it).
        const result = await this.client.withLock(SOAK_APP, id, () => this.payload(), { waitMs: 1000, leaseMs: this.settings.leaseMs, create: false });
        return `with-lock-${result.outcome}`;
      });
      touched();
    }
  }

  private async poolIteration(kind: Exclude<IterationKind, "abort-lock-wait" | "abort-get-wait" | "abort-race" | "timeout-lock-wait" | "short-lived">, index: number): Promise<void> {
    const id = poolSessionId(index);
    switch (kind) {
      case "get":
      case "get-wait":
      case "timeout-get": {
        const options = kind === "get" ? {} : kind === "get-wait" ? { waitMs: 200 } : { timeoutMs: 1 + Math.floor(this.random() * 3) };
        const outcome = await this.record(kind, async () => (await this.client.get(SOAK_APP, id, options)).outcome);
        if (outcome === "not-found") await this.recreate(index);
        return;
      }
      case "with-lock": {
        const style = this.random();
        await this.record(kind, async () => {
          try {
            const result = await this.client.withLock(
              SOAK_APP,
              id,
              () => {
                if (style < 0.02) throw new IntendedThrow("the callback fails on purpose");
                return style < 0.12 ? undefined : this.payload();
              },
              { waitMs: 1000, leaseMs: this.settings.leaseMs, create: true },
            );
            return result.outcome === "ok" ? (result.written ? "written" : "unchanged") : result.outcome;
          } catch (error) {
            if (error instanceof IntendedThrow) return "callback-threw";
            throw error;
          }
        });
        return;
      }
      case "expire": {
        // Mostly a plain restart of the window; sometimes a new ttl (which moves the session's
        // expiry bucket), between 10 and 30 minutes so that pool sessions never expire.
        const ttl = this.random() < 0.2 ? 600 + Math.floor(this.random() * 1200) : 0;
        await this.record(kind, async () => (await this.client.expire(SOAK_APP, id, ttl > 0 ? { ttlSeconds: ttl } : {})).outcome);
        return;
      }
      case "remove": {
        const outcome = await this.record(kind, async () => (await this.client.remove(SOAK_APP, id)).outcome);
        if (outcome === "ok" && this.random() < 0.5) await this.recreate(index);
        return;
      }
    }
  }

  /** Records a lock found on an abort session that its holder does not hold: a waiter that gave up got it. */
  private leak(loop: number, sessionId: string, lockId: bigint, lockAgeMs: number): void {
    // A holder lock whose release failed (an unexpected error, counted as such) is not a waiter's.
    if (this.unreleased.get(loop) === lockId) return;
    if (this.abortLeaks.has(lockId)) return;
    this.abortLeaks.set(lockId, { sessionId, lockAgeMs });
    // The session stays locked until the lease ends: go on testing on a fresh one.
    if (sessionId === this.abortSession(loop)) this.abortGenerations[loop] = (this.abortGenerations[loop] ?? 0) + 1;
  }

  /** The loop's current abort session. */
  private abortSession(loop: number): string {
    return abortSessionId(loop, this.abortGenerations[loop] ?? 0);
  }

  /**
   * On the loop's own session: take the lock, start a waiter and give up on it (abort, or a short
   * deadline) while the lock is held, release, then check nobody holds the lock. The holder's own
   * calls are recorded as `holder`.
   */
  private async heldLockIteration(kind: "abort-lock-wait" | "abort-get-wait" | "timeout-lock-wait", loop: number): Promise<void> {
    const id = this.abortSession(loop);
    const held = await this.takeHolderLock(loop, id);
    if (held === undefined) return;
    const grantedAt = performance.now();
    try {
      // The waiter gives up well before the holder lets go, so a grant to it would be a bug.
      const giveUpMs = kind === "timeout-lock-wait" ? 10 + Math.floor(this.random() * 41) : 5 + Math.floor(this.random() * 41);
      const holdMs = giveUpMs + 40 + Math.floor(this.random() * 60);
      await this.record(kind, async () => {
        if (kind === "timeout-lock-wait") {
          const result = await this.client.lock(SOAK_APP, id, { waitMs: 5_000, leaseMs: this.settings.leaseMs, timeoutMs: giveUpMs });
          return this.unexpectedGrant(id, result);
        }
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), giveUpMs);
        try {
          if (kind === "abort-lock-wait") {
            const result = await this.client.lock(SOAK_APP, id, { waitMs: 5_000, leaseMs: this.settings.leaseMs, signal: controller.signal });
            return this.unexpectedGrant(id, result);
          }
          const result = await this.client.get(SOAK_APP, id, { waitMs: 5_000, signal: controller.signal });
          return `waiter-${result.outcome}`;
        } finally {
          clearTimeout(timer);
        }
      });
      const remaining = grantedAt + holdMs - performance.now();
      if (remaining > 0) await sleep(remaining);
    } finally {
      await this.releaseHolderLock(loop, id, held);
    }
    await this.checkReleased(loop, id);
  }

  /** The holder's Lock (wait 0) on the loop's abort session; undefined when it is not granted. */
  private async takeHolderLock(loop: number, id: string): Promise<bigint | undefined> {
    let lockId: bigint | undefined;
    await this.record("holder", async () => {
      // A ttl of 2 minutes: the loop touches it every few seconds, and one left locked (with the
      // loop gone on to a fresh one) expires soon after its lease instead of piling up.
      const lock = await this.client.lock(SOAK_APP, id, { waitMs: 0, leaseMs: this.settings.leaseMs, create: true, ttlSeconds: ABORT_SESSION_TTL_SECONDS });
      if (lock.outcome === "ok") {
        lockId = lock.lockId;
        return "locked-it";
      }
      // Only this loop uses the session and it releases what it takes: a lock here was left behind.
      if (lock.outcome === "locked") this.leak(loop, id, lock.lockId, lock.lockAgeMs);
      return `found-${lock.outcome}`;
    });
    return lockId;
  }

  /** The holder lets go: half the time Set-and-release, else Release. */
  private async releaseHolderLock(loop: number, id: string, held: bigint): Promise<void> {
    const released = await this.record("holder", async () => {
      if (this.random() < 0.5) {
        await this.client.set(SOAK_APP, id, this.payload(), { lockId: held });
        return "wrote-and-released";
      }
      return `release-${(await this.client.release(SOAK_APP, id, held)).outcome}`;
    });
    if (released === undefined) this.unreleased.set(loop, held);
  }

  /**
   * After the holder released: nobody may hold the loop's abort session. A grant to an abandoned
   * waiter is given back by the client one round trip later, so a `locked` answer is read again
   * (backing off) for up to 2 s before it counts as a lock left behind.
   */
  private async checkReleased(loop: number, id: string): Promise<void> {
    await this.record("holder", async () => {
      const started = performance.now();
      for (let attempt = 0, delay = 1; ; attempt++, delay = Math.min(delay * 2, 100)) {
        const after = await this.client.get(SOAK_APP, id);
        // "settled": it was locked at first, and the stale grant was given back while we looked.
        if (after.outcome !== "locked") return attempt === 0 ? `after-${after.outcome}` : `after-${after.outcome}-settled`;
        if (performance.now() - started >= 2_000) {
          this.leak(loop, id, after.lockId, after.lockAgeMs);
          return "left-locked";
        }
        await sleep(delay);
      }
    });
  }

  /**
   * The race: a Lock waits on the loop's held session; the holder releases and, in the same
   * event-loop turn or one or two turns later, the waiter is aborted. Whether the waiter was
   * granted before its cancel arrived or not, the session must end up unlocked.
   */
  private async raceIteration(loop: number): Promise<void> {
    const id = this.abortSession(loop);
    const held = await this.takeHolderLock(loop, id);
    if (held === undefined) return;
    const controller = new AbortController();
    const waiter = this.record("abort-race", async () => {
      const result = await this.client.lock(SOAK_APP, id, { waitMs: 5_000, leaseMs: this.settings.leaseMs, signal: controller.signal });
      if (result.outcome !== "ok") return `waiter-${result.outcome}`;
      // Granted before the abort took effect: legitimate here (the holder had released); give it back.
      await this.client.release(SOAK_APP, id, result.lockId);
      return "waiter-granted-first";
    });
    // Let the waiter reach the server's queue first.
    await sleep(10 + Math.floor(this.random() * 20));
    const turns = Math.floor(this.random() * 3);
    const release = this.releaseHolderLock(loop, id, held);
    const abort = (left: number): void => (left <= 0 ? controller.abort() : void setImmediate(() => abort(left - 1)));
    abort(turns);
    await Promise.all([release, waiter]);
    await this.checkReleased(loop, id);
  }

  /** A waiter that was to give up got an answer instead: a grant is counted (and released at once). */
  private async unexpectedGrant(id: string, result: Awaited<ReturnType<SessionClient["lock"]>>): Promise<string> {
    if (result.outcome !== "ok") return `waiter-${result.outcome}`;
    this.waiterGrants++;
    await this.client.release(SOAK_APP, id, result.lockId);
    return "waiter-granted";
  }

  /** Every abort session any loop has used (a loop moves to a fresh one after a leak). */
  abortSessionIds(): string[] {
    return this.abortGenerations.flatMap((generations, loop) => Array.from({ length: generations + 1 }, (_, generation) => abortSessionId(loop, generation)));
  }

  /**
   * The end-of-run check: Lock with wait 0 on every session of the pool and every abort session;
   * a lock that is granted is released at once, a `locked` answer is a session left locked.
   * Bounded: 64 checks at a time, each with a deadline. Returns those found locked, how many exist
   * (granted or locked) and how many could not be checked.
   */
  async checkNoLocks(): Promise<{ locked: LockedSession[]; unchecked: number; checked: number; existing: number }> {
    const ids = [...Array.from({ length: this.settings.pool }, (_, index) => poolSessionId(index)), ...this.abortSessionIds()];
    const locked: LockedSession[] = [];
    let unchecked = 0;
    let existing = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        try {
          const result = await this.client.lock(SOAK_APP, id, { waitMs: 0, leaseMs: 5_000, timeoutMs: 5_000 });
          if (result.outcome !== "not-found") existing++;
          if (result.outcome === "locked") locked.push({ sessionId: id, lockAgeMs: result.lockAgeMs });
          else if (result.outcome === "ok") await this.client.release(SOAK_APP, id, result.lockId, { timeoutMs: 5_000 });
        } catch {
          unchecked++;
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    return { locked, unchecked, checked: ids.length, existing };
  }

  /**
   * After the load: waits until the last short-lived session's ttl has run out, then (polling
   * `residentSessions` for up to `sweepMs`) until no more sessions are resident than `residentLimit`
   * (the pool and abort sessions that exist), i.e. active expiry swept every short-lived one; then
   * reads a spread sample of the short-lived sessions, none of which may be served.
   */
  async checkShortLivedExpired(
    residentSessions: () => Promise<number | undefined>,
    residentLimit: number,
    sweepMs: number,
  ): Promise<{ swept: boolean; residentAfter: number | null; waitedMs: number; sampled: number; servedAfterExpiry: number }> {
    await sleep(this.shortLivedDeadlineMs - performance.now());
    const started = performance.now();
    let resident: number | undefined;
    for (;;) {
      resident = await residentSessions();
      if (resident !== undefined && resident <= residentLimit) break;
      if (performance.now() - started >= sweepMs) break;
      await sleep(250);
    }
    const waitedMs = Math.round(performance.now() - started);
    const serials = spreadSample(this.shortLivedCreated, 256);
    let served = 0;
    await Promise.all(
      serials.map(async (serial) => {
        try {
          const result = await this.client.get(SOAK_APP, shortLivedSessionId(serial), { timeoutMs: 5_000 });
          if (result.outcome !== "not-found") served++;
        } catch {
          // A failed read is not a served session; the errors are visible in the figures.
        }
      }),
    );
    return { swept: resident !== undefined && resident <= residentLimit, residentAfter: resident ?? null, waitedMs, sampled: serials.length, servedAfterExpiry: served };
  }
}
