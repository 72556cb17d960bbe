/**
 * A plain reference model of the session store's contract, for the model-based test in
 * `store-model.test.ts`: the README's rules 2-13 and the lead's decisions on them, written with
 * Maps and arrays and no cleverness, sharing no code with the store. When the two disagree, one of
 * them is wrong, and this file is short enough to be checked by reading it against the README.
 *
 * Lock ids: the model numbers locks 1, 2, 3... in grant order ("serials"). The test maps each
 * serial to the store's lock id when the store delivers the grant, so exact id values (global,
 * seeded from the clock) are never predicted.
 *
 * Time: `now` is the store clock's time in ms. {@link SessionModel.advanceTo} plays lease ends,
 * wait deadlines and expiries in time order, as the store's timer does under a FakeClock.
 */
import type { MemoryOptions } from "../../src/store/memory/memory-options";
import type { SessionLimits } from "../../src/store/session-limits";
import type { StoreErrorKind, StoreErrorReason } from "../../src/store/store-error";

/** What a run configures: the contract's limits (the store's) and the memory backend's options. */
export type ModelOptions = SessionLimits & MemoryOptions;

/** Width of an expiry bucket (README, Limits: "sessions are filed in one-second buckets by deadline"). */
const EXPIRY_BUCKET_MS = 1000;

/**
 * The lead's decisions beyond the README's first wording (the store implements them since 7efa875).
 * `true` enforces one exactly; `false` relaxes it to accept the earlier behaviour too, to isolate
 * one decision when another regresses.
 */
export interface Decisions {
  /** A Set with a lock id from before the session's current incarnation answers SESSION_GONE. */
  readonly sessionGone: boolean;
  /** A Set with the id of any earlier lock of this incarnation whose lease ended answers LEASE_EXPIRED. */
  readonly leaseExpired: boolean;
  /** A session released early after its expiry came due while locked is swept at its real deadline. */
  readonly earlyReleaseSweep: boolean;
  /** A write is never refused with MEMORY_BUDGET for memory held by expired sessions. */
  readonly expiredMemory: boolean;
}

/** A lock id as the model sees it: none (0), one the store issued (by serial), or one never issued. */
export type ModelLockRef =
  | { readonly kind: "none" }
  | { readonly kind: "issued"; readonly serial: number }
  /** `below`: numerically below every id the store issues (e.g. 5); otherwise above all of them. */
  | { readonly kind: "forged"; readonly below: boolean };

/** OUTCOME_NOT_FOUND. */
export interface NotFoundAnswer {
  readonly outcome: "not-found";
}

/** OUTCOME_LOCKED: the holder's lock (serial), its age and the session's ttl; no data. */
export interface LockedAnswer {
  readonly outcome: "locked";
  readonly holder: number;
  readonly lockAgeMs: number;
  readonly ttlSeconds: number;
}

/** A Get that read the session. */
export interface ReadOkAnswer {
  readonly outcome: "ok";
  readonly data: Uint8Array;
  readonly version: number;
  readonly ttlSeconds: number;
}

/** A Lock that took the lock (serial `lock`). */
export interface LockOkAnswer {
  readonly outcome: "ok";
  readonly data: Uint8Array;
  readonly version: number;
  readonly lock: number;
  readonly ttlSeconds: number;
  readonly created: boolean;
  readonly leaseMs: number;
}

/** What a Get is answered. */
export type ReadAnswer = NotFoundAnswer | LockedAnswer | ReadOkAnswer;
/** What a Lock is answered. */
export type LockAnswer = NotFoundAnswer | LockedAnswer | LockOkAnswer;

/** Marks a Get or Lock that waits in the session's queue instead of being answered at once. */
export const WAITS = "waits";

/** An answer delivered to a waiting call (`call` is the test's number for it), at model time `at`. */
export interface Delivery {
  readonly call: number;
  readonly key: number;
  readonly at: number;
  readonly answer: ReadAnswer | LockAnswer;
}

/** The call must be refused with this kind and one of these reasons, changing nothing. */
export interface Refusal {
  readonly refused: true;
  readonly kind: StoreErrorKind;
  readonly reasons: readonly StoreErrorReason[];
  /** The rule that refuses, for failure messages; starts with "DECISION" when one of the lead's decisions decides. */
  readonly rule: string;
}

/** The call succeeds with `value`; `mayExhaustMemory` marks a write a memory budget may refuse. */
export interface Accepted<T> {
  readonly refused: false;
  readonly value: T;
  readonly mayExhaustMemory: boolean;
}

/** What the model expects of one call. */
export type Expectation<T> = Refusal | Accepted<T>;

/** Get's input, with the key as an index (negative: an invalid key) and the test's call number. */
export interface ModelGetInput {
  readonly key: number;
  readonly call: number;
  readonly waitMs: number;
}

/** Lock's input (see {@link ModelGetInput}). */
export interface ModelLockInput {
  readonly key: number;
  readonly call: number;
  readonly waitMs: number;
  readonly leaseMs: number;
  readonly create: boolean;
  readonly ttlSeconds: number;
}

/** Set's input, with the lock id resolved to a {@link ModelLockRef}. */
export interface ModelSetInput {
  readonly key: number;
  readonly data: Uint8Array;
  readonly ttlSeconds: number;
  readonly lock: ModelLockRef;
  readonly keepLock: boolean;
  readonly expectedVersion: number;
  readonly onlyIfAbsent: boolean;
}

/** Release's and Remove's input. */
export interface ModelLockIdInput {
  readonly key: number;
  readonly lock: ModelLockRef;
}

/** Expire's input. */
export interface ModelExpireInput {
  readonly key: number;
  readonly ttlSeconds: number;
}

/** How a lock ended, for the reason a late Set with its id gets. */
type LockEnd = "held" | "released" | "lease-ended" | "session-ended";

/** One granted lock. `incarnation` tells a re-created session's locks from its predecessor's. */
interface LockGrant {
  readonly serial: number;
  readonly key: number;
  readonly incarnation: number;
  readonly end: LockEnd;
}

interface HeldLock {
  readonly serial: number;
  readonly lockedAt: number;
  readonly leaseEnd: number;
}

interface QueuedCall {
  readonly call: number;
  readonly kind: "read" | "write";
  readonly leaseMs: number;
  readonly deadline: number;
}

interface Session {
  readonly incarnation: number;
  /** Serial of the first lock issued after this incarnation was created. */
  readonly floor: number;
  readonly data: Uint8Array;
  readonly version: number;
  readonly ttlSeconds: number;
  readonly expiresAt: number;
  readonly lock: HeldLock | undefined;
  /** FIFO queue of waiting calls (non-empty only while locked). */
  readonly queue: readonly QueuedCall[];
  /** The latest lease end of any lock of this incarnation (bounds the legacy late sweep). */
  readonly latestLeaseEnd: number;
}

/**
 * A session that is gone (invisible) but that the store may still hold until its expiry sweep:
 * `sweptBy` is when it must be gone from `stats().sessions` (its deadline + one bucket + one
 * expiry interval); `sweptByLegacy` is the later bound of the store before the earlyReleaseSweep
 * decision (a session locked when its bucket came due stayed until its lease end's bucket).
 */
interface Ghost {
  readonly key: number;
  readonly sweptBy: number;
  readonly sweptByLegacy: number;
}

const NOT_FOUND: NotFoundAnswer = Object.freeze({ outcome: "not-found" });

function accept<T>(value: T, mayExhaustMemory = false): Accepted<T> {
  return { refused: false, value, mayExhaustMemory };
}

function refuse(kind: StoreErrorKind, reasons: readonly StoreErrorReason[], rule: string): Refusal {
  return { refused: true, kind, reasons, rule };
}

function conflict(reasons: readonly StoreErrorReason[], rule: string): Refusal {
  return refuse("conflict", reasons, rule);
}

/**
 * The reference model: sessions by key index, with data, version, ttl, deadline, holder (serial,
 * lockedAt, lease end) and a FIFO queue of waiting calls; the list of every lock granted; and the
 * expired sessions the store may not have swept yet. Operations mirror the store's six, return
 * what the store must answer, and append the answers they cause for waiting calls to
 * {@link SessionModel.deliveries}. Use {@link SessionModel.clone} to try a call without committing.
 */
export class SessionModel {
  /** The model's clock, in epoch ms (equal to the store clock's). */
  now: number;
  /** Answers to waiting calls, in delivery order, since this copy was made. */
  deliveries: Delivery[] = [];
  private sessions = new Map<number, Session>();
  private ghosts: Ghost[] = [];
  private grants: LockGrant[] = [];
  private incarnations = 0;

  /**
   * @param options - the resolved limits and backend options (defaults, limits, expiry interval).
   * @param now - the clock's time.
   * @param isActive - whether a waiting call's caller is still there (asked before granting it a lock).
   * @param decisions - which of the lead's decisions to enforce exactly.
   */
  constructor(
    private readonly options: ModelOptions,
    now: number,
    private readonly isActive: (call: number) => boolean,
    private readonly decisions: Decisions,
  ) {
    this.now = now;
  }

  /** A copy to try a call on; its {@link deliveries} start empty. Sessions are immutable records. */
  clone(): SessionModel {
    const copy = new SessionModel(this.options, this.now, this.isActive, this.decisions);
    copy.sessions = new Map(this.sessions);
    copy.ghosts = [...this.ghosts];
    copy.grants = [...this.grants];
    copy.incarnations = this.incarnations;
    return copy;
  }

  // ---- queries (for the test to resolve references and check stats) ---------------------------

  /** Whether the session is visible (exists and has not expired). */
  isVisible(key: number): boolean {
    return this.sessions.has(key);
  }

  /** The serial of the session's holder, if locked. */
  holderOf(key: number): number | undefined {
    return this.sessions.get(key)?.lock?.serial;
  }

  /** The session's version, if visible. */
  versionOf(key: number): number | undefined {
    return this.sessions.get(key)?.version;
  }

  /** Serials of every lock granted, oldest first, on one key (any incarnation) or on all keys. */
  serials(key?: number): number[] {
    return this.grants.filter((grant) => key === undefined || grant.key === key).map((grant) => grant.serial);
  }

  /** Whether a call is waiting in some queue. */
  isWaiting(call: number): boolean {
    for (const session of this.sessions.values()) {
      if (session.queue.some((queued) => queued.call === call)) return true;
    }
    return false;
  }

  /** Visible sessions. */
  get visibleCount(): number {
    return this.sessions.size;
  }

  /** Locked sessions. */
  get lockedCount(): number {
    let count = 0;
    for (const session of this.sessions.values()) if (session.lock !== undefined) count++;
    return count;
  }

  /** Calls waiting in queues. */
  get waiterCount(): number {
    let count = 0;
    for (const session of this.sessions.values()) count += session.queue.length;
    return count;
  }

  /**
   * Gone sessions the store may still hold now. `legacy` uses the later bound of the store before
   * the earlyReleaseSweep decision (for the decision relaxed).
   */
  ghostsNotYetDue(legacy: boolean): number {
    return this.ghosts.filter((ghost) => this.now < (legacy ? ghost.sweptByLegacy : ghost.sweptBy)).length;
  }

  /** Locks granted so far. */
  get grantCount(): number {
    return this.grants.length;
  }

  /** Locks the server released because their lease ended (rule 6). */
  get leaseEndCount(): number {
    return this.grants.filter((grant) => grant.end === "lease-ended").length;
  }

  /** Whether nothing is left: no session, no ghost. */
  get isEmpty(): boolean {
    return this.sessions.size === 0 && this.ghosts.length === 0;
  }

  /** Future instants where something happens (lease ends, wait deadlines, expiries, sweep bounds). */
  eventTimes(): number[] {
    const times: number[] = [];
    for (const session of this.sessions.values()) {
      if (session.lock === undefined) times.push(session.expiresAt);
      else times.push(session.lock.leaseEnd, Math.max(session.expiresAt, session.lock.leaseEnd));
      for (const queued of session.queue) times.push(queued.deadline);
    }
    for (const ghost of this.ghosts) times.push(ghost.sweptBy, ghost.sweptByLegacy);
    return times.filter((time) => time > this.now).sort((a, b) => a - b);
  }

  // ---- the six operations ---------------------------------------------------------------------

  /** Get (rules 2, 3, 7, 8). */
  get(input: ModelGetInput): Expectation<ReadAnswer | typeof WAITS> {
    if (input.key < 0) return invalidKey();
    const session = this.sessions.get(input.key);
    if (session === undefined) return accept(NOT_FOUND);
    if (session.lock === undefined) {
      const touched = this.touch(input.key, session);
      return accept(readOk(touched));
    }
    const waitMs = Math.min(input.waitMs, this.options.maxWaitMs);
    if (waitMs > 0) {
      if (session.queue.length >= this.options.maxWaiters) return tooManyWaiters();
      this.enqueue(input.key, this.touch(input.key, session), { call: input.call, kind: "read", leaseMs: 0, deadline: this.now + waitMs });
      return accept(WAITS);
    }
    const touched = this.touch(input.key, session);
    return accept(this.locked(touched, session.lock));
  }

  /** Lock (rules 2, 4, 5, 6, 7, 8). */
  lock(input: ModelLockInput): Expectation<LockAnswer | typeof WAITS> {
    const invalid = [
      ...(input.key < 0 ? [invalidKey()] : []),
      ...(input.leaseMs > this.options.maxLockLeaseMs ? [invalidField("lease_ms above --max-lock-lease-ms")] : []),
      ...(input.ttlSeconds > this.options.maxTtlSeconds ? [invalidField("ttl_seconds above --max-ttl-seconds")] : []),
    ];
    if (invalid.length > 0) return anyOf(invalid);
    const leaseMs = input.leaseMs === 0 ? this.options.defaultLockLeaseMs : input.leaseMs;
    const session = this.sessions.get(input.key);
    if (session === undefined) {
      if (!input.create) return accept(NOT_FOUND);
      const ttlSeconds = input.ttlSeconds === 0 ? this.options.defaultTtlSeconds : input.ttlSeconds;
      const created = this.create(input.key, new Uint8Array(0), ttlSeconds);
      const serial = this.grant(input.key, created, leaseMs);
      return accept({ ...this.lockOk(input.key, serial, leaseMs), created: true }, true);
    }
    if (session.lock === undefined) {
      const serial = this.grant(input.key, this.touch(input.key, session), leaseMs);
      return accept(this.lockOk(input.key, serial, leaseMs));
    }
    const waitMs = Math.min(input.waitMs, this.options.maxWaitMs);
    if (waitMs > 0) {
      if (session.queue.length >= this.options.maxWaiters) return tooManyWaiters();
      this.enqueue(input.key, this.touch(input.key, session), { call: input.call, kind: "write", leaseMs, deadline: this.now + waitMs });
      return accept(WAITS);
    }
    const touched = this.touch(input.key, session);
    return accept(this.locked(touched, session.lock));
  }

  /** Set (rules 2, 9, 13). */
  set(input: ModelSetInput): Expectation<{ version: number; written: boolean }> {
    const invalid = [
      ...(input.key < 0 ? [invalidKey()] : []),
      ...(input.data.length > this.options.maxItemBytes
        ? [refuse("invalid-argument", ["ITEM_TOO_LARGE"], "rule 13: data above --max-item-bytes")]
        : []),
      ...(input.ttlSeconds > this.options.maxTtlSeconds ? [invalidField("ttl_seconds above --max-ttl-seconds")] : []),
    ];
    if (invalid.length > 0) return anyOf(invalid);
    const session = this.sessions.get(input.key);
    if (session === undefined) {
      if (input.lock.kind !== "none") {
        return conflict(["SESSION_GONE"], "rule 9: a lock id for a session that expired, was removed or never existed");
      }
      if (input.expectedVersion !== 0) {
        return conflict(["VERSION_MISMATCH"], "rule 9: a non-zero expected_version for a missing session");
      }
      const ttlSeconds = input.ttlSeconds === 0 ? this.options.defaultTtlSeconds : input.ttlSeconds;
      this.create(input.key, input.data, ttlSeconds);
      return accept({ version: 1, written: true }, true);
    }
    if (input.onlyIfAbsent) {
      this.touch(input.key, session);
      return accept({ version: session.version, written: false });
    }
    const lockRefusal = this.checkWriteLock(input.key, session, input.lock);
    if (lockRefusal !== undefined) return lockRefusal;
    if (input.expectedVersion !== 0 && input.expectedVersion !== session.version) {
      return conflict(["VERSION_MISMATCH"], "rule 9: expected_version differs from the current version");
    }
    const ttlSeconds = input.ttlSeconds === 0 ? session.ttlSeconds : input.ttlSeconds;
    let written = this.touch(input.key, { ...session, data: input.data, version: session.version + 1, ttlSeconds });
    if (input.lock.kind !== "none" && !input.keepLock) written = this.unlock(input.key, written, "released");
    return accept({ version: written.version, written: true }, true);
  }

  /** Release (rules 2, 10). */
  release(input: ModelLockIdInput): Expectation<{ released: boolean }> {
    if (input.key < 0) return invalidKey();
    const session = this.sessions.get(input.key);
    if (session === undefined) return accept({ released: false });
    // Rule 2: every call that finds the session restarts its window, a refused release too.
    const touched = this.touch(input.key, session);
    if (input.lock.kind !== "issued" || touched.lock?.serial !== input.lock.serial) return accept({ released: false });
    this.unlock(input.key, touched, "released");
    return accept({ released: true });
  }

  /** Expire (rule 11). */
  expire(input: ModelExpireInput): Expectation<{ found: boolean; ttlSeconds: number }> {
    const invalid = [
      ...(input.key < 0 ? [invalidKey()] : []),
      ...(input.ttlSeconds > this.options.maxTtlSeconds ? [invalidField("ttl_seconds above --max-ttl-seconds")] : []),
    ];
    if (invalid.length > 0) return anyOf(invalid);
    const session = this.sessions.get(input.key);
    if (session === undefined) return accept({ found: false, ttlSeconds: 0 });
    const ttlSeconds = input.ttlSeconds === 0 ? session.ttlSeconds : input.ttlSeconds;
    this.touch(input.key, { ...session, ttlSeconds });
    return accept({ found: true, ttlSeconds });
  }

  /** Remove (rule 12). */
  remove(input: ModelLockIdInput): Expectation<{ removed: boolean }> {
    if (input.key < 0) return invalidKey();
    const session = this.sessions.get(input.key);
    if (session === undefined) return accept({ removed: false });
    if (session.lock !== undefined && !(input.lock.kind === "issued" && input.lock.serial === session.lock.serial)) {
      return conflict(["LOCKED_BY_OTHER"], "rule 12: a locked session is removed only with the holder's lock id");
    }
    this.end(input.key, session, "session-ended");
    return accept({ removed: true });
  }

  /** Cancellation.cancel(): the call leaves its queue at once and is never answered (rule 7). */
  cancel(call: number): void {
    for (const [key, session] of this.sessions) {
      if (session.queue.some((queued) => queued.call === call)) {
        this.sessions.set(key, { ...session, queue: session.queue.filter((queued) => queued.call !== call) });
      }
    }
  }

  /**
   * Moves the clock to `target`, playing every lease end (rule 6), wait deadline (rule 7) and
   * expiry (rule 2) on the way in time order. At one instant, lease ends come first, so a waiter
   * whose deadline is the lease end is served, not timed out (as the store's timer does it).
   */
  advanceTo(target: number): void {
    for (;;) {
      const at = this.nextEventAt();
      if (at > target) break;
      this.now = at;
      for (const key of this.keys()) {
        const session = this.sessions.get(key);
        if (session?.lock !== undefined && session.lock.leaseEnd <= at) this.endLease(key, session);
      }
      for (const key of this.keys()) {
        for (const queued of this.sessions.get(key)?.queue ?? []) {
          if (queued.deadline <= at) this.timeOut(key, queued);
        }
      }
      for (const key of this.keys()) {
        const session = this.sessions.get(key);
        if (session !== undefined && session.lock === undefined && session.expiresAt <= at) {
          this.sessions.delete(key);
          this.addGhost(key, session, session.expiresAt);
        }
      }
    }
    this.now = target;
    this.ghosts = this.ghosts.filter((ghost) => this.now < Math.max(ghost.sweptBy, ghost.sweptByLegacy));
  }

  // ---- internals ------------------------------------------------------------------------------

  private keys(): number[] {
    return [...this.sessions.keys()].sort((a, b) => a - b);
  }

  private nextEventAt(): number {
    let next = Infinity;
    for (const session of this.sessions.values()) {
      next = Math.min(next, session.lock === undefined ? session.expiresAt : session.lock.leaseEnd);
      for (const queued of session.queue) next = Math.min(next, queued.deadline);
    }
    return next;
  }

  /** Restarts the sliding window (rule 2) and returns the stored record. */
  private touch(key: number, session: Session): Session {
    return this.put(key, { ...session, expiresAt: this.now + session.ttlSeconds * 1000 });
  }

  private put(key: number, session: Session): Session {
    this.sessions.set(key, session);
    return session;
  }

  private create(key: number, data: Uint8Array, ttlSeconds: number): Session {
    this.incarnations++;
    return this.put(key, {
      incarnation: this.incarnations,
      floor: this.grants.length + 1,
      data,
      version: 1,
      ttlSeconds,
      expiresAt: this.now + ttlSeconds * 1000,
      lock: undefined,
      queue: [],
      latestLeaseEnd: 0,
    });
  }

  private grant(key: number, session: Session, leaseMs: number): number {
    const serial = this.grants.length + 1;
    this.grants.push({ serial, key, incarnation: session.incarnation, end: "held" });
    const leaseEnd = this.now + leaseMs;
    this.put(key, {
      ...session,
      lock: { serial, lockedAt: this.now, leaseEnd },
      latestLeaseEnd: Math.max(session.latestLeaseEnd, leaseEnd),
    });
    return serial;
  }

  private markEnded(serial: number, end: LockEnd): void {
    const grant = this.grants[serial - 1];
    if (grant === undefined) throw new Error(`model: no lock #${serial}`);
    this.grants[serial - 1] = { ...grant, end };
  }

  /** Releases the holder's lock, then serves the queue (rule 7). */
  private unlock(key: number, session: Session, end: LockEnd): Session {
    if (session.lock === undefined) throw new Error("model: unlock of an unlocked session");
    this.markEnded(session.lock.serial, end);
    return this.serveQueue(key, this.put(key, { ...session, lock: undefined }));
  }

  /**
   * Rule 7: the readers ahead of the first waiting writer are answered, the first writer whose
   * caller is still there gets the lock (a gone one is dropped unanswered), the rest keep waiting.
   */
  private serveQueue(key: number, start: Session): Session {
    let session = start;
    while (session.queue.length > 0 && session.lock === undefined) {
      const [first, ...rest] = session.queue;
      if (first === undefined) break;
      session = this.put(key, { ...session, queue: rest });
      if (first.kind === "read") {
        session = this.touch(key, session);
        this.deliver(first.call, key, readOk(session));
        continue;
      }
      if (!this.isActive(first.call)) continue;
      const serial = this.grant(key, this.touch(key, session), first.leaseMs);
      this.deliver(first.call, key, this.lockOk(key, serial, first.leaseMs));
      session = this.sessions.get(key) as Session;
    }
    return session;
  }

  private enqueue(key: number, session: Session, queued: QueuedCall): void {
    this.put(key, { ...session, queue: [...session.queue, queued] });
  }

  /** Rule 6: the server releases the lock itself; a session whose deadline passed meanwhile expires now. */
  private endLease(key: number, session: Session): void {
    if (session.lock === undefined) return;
    if (session.expiresAt <= this.now) {
      this.end(key, session, "lease-ended");
      return;
    }
    this.unlock(key, session, "lease-ended");
  }

  /** Rule 7: a wait that ran out is answered OUTCOME_LOCKED (the session is still locked by someone). */
  private timeOut(key: number, queued: QueuedCall): void {
    const session = this.sessions.get(key);
    if (session === undefined || session.lock === undefined) throw new Error("model: a waiter on an unlocked session");
    const touched = this.touch(key, { ...session, queue: session.queue.filter((other) => other.call !== queued.call) });
    this.deliver(queued.call, key, this.locked(touched, session.lock));
  }

  /** Deletes a session (removed, or expired at its lease end): its waiters get NOT_FOUND (rules 7, 12). */
  private end(key: number, session: Session, lockEnd: LockEnd): void {
    if (session.lock !== undefined) this.markEnded(session.lock.serial, lockEnd);
    this.sessions.delete(key);
    for (const queued of session.queue) this.deliver(queued.call, key, NOT_FOUND);
    // A removed session is deleted at once; one that expired at its lease end may still be swept.
    if (lockEnd === "lease-ended") this.addGhost(key, session, this.now);
  }

  private addGhost(key: number, session: Session, deadline: number): void {
    const sweptBy = deadline + EXPIRY_BUCKET_MS + this.options.expiryIntervalMs;
    // Before the earlyReleaseSweep decision, a session locked when its bucket came due was filed
    // again at its lease end, and stayed until that lease end's bucket was swept.
    const sweptByLegacy = Math.max(deadline, session.latestLeaseEnd) + EXPIRY_BUCKET_MS + this.options.expiryIntervalMs;
    this.ghosts.push({ key, sweptBy, sweptByLegacy });
  }

  private deliver(call: number, key: number, answer: ReadAnswer | LockAnswer): void {
    this.deliveries.push({ call, key, at: this.now, answer });
  }

  private locked(session: Session, lock: HeldLock): LockedAnswer {
    return { outcome: "locked", holder: lock.serial, lockAgeMs: this.now - lock.lockedAt, ttlSeconds: session.ttlSeconds };
  }

  private lockOk(key: number, serial: number, leaseMs: number): LockOkAnswer {
    const session = this.sessions.get(key) as Session;
    return { outcome: "ok", data: session.data, version: session.version, lock: serial, ttlSeconds: session.ttlSeconds, created: false, leaseMs };
  }

  /** Rule 9: may a Set with this lock id write to this session? */
  private checkWriteLock(key: number, session: Session, ref: ModelLockRef): Refusal | undefined {
    if (ref.kind === "none") {
      return session.lock === undefined
        ? undefined
        : conflict(["LOCKED_BY_OTHER"], "rule 9: an unlocked write to a session someone holds the lock of");
    }
    if (ref.kind === "issued" && session.lock?.serial === ref.serial) return undefined;
    return this.staleLockRefusal(key, session, ref);
  }

  /** Rule 9 and the decisions: which reason a Set with a stale lock id gets. */
  private staleLockRefusal(key: number, session: Session, ref: ModelLockRef): Refusal {
    if (ref.kind !== "issued") {
      // Never issued. Below every id, so below this incarnation's first: DECISION session-gone
      // (README rule 9, set.test.ts). Above every id: no lock of this session ended after it, so
      // nothing says "lease ended": stale.
      return ref.kind === "forged" && ref.below
        ? conflict(
            this.decisions.sessionGone ? ["SESSION_GONE"] : ["SESSION_GONE", "STALE_LOCK_ID"],
            "DECISION session-gone: a never-issued lock id below the first one of this incarnation answers SESSION_GONE",
          )
        : conflict(["STALE_LOCK_ID"], "rule 9: a never-issued lock id above every issued id");
    }
    const grant = this.grants[ref.serial - 1];
    if (grant === undefined) throw new Error(`model: no lock #${ref.serial}`);
    if (grant.key !== key || grant.incarnation !== session.incarnation) {
      if (ref.serial < session.floor) {
        // DECISION session-gone (before 7efa875 the store answered STALE_LOCK_ID).
        return conflict(
          this.decisions.sessionGone ? ["SESSION_GONE"] : ["SESSION_GONE", "STALE_LOCK_ID"],
          "DECISION session-gone: a lock id issued before this session was (re-)created answers SESSION_GONE",
        );
      }
      // Either stale reason: the store decides by where the id falls between the session's last
      // release and last lease end (so one in between reads "lease ended"), and grants of several
      // sessions at one instant are ordered by shard, which the model does not predict.
      return conflict(["STALE_LOCK_ID", "LEASE_EXPIRED"], "rule 9: a lock id of another session, issued after this one was created");
    }
    const own = this.grants.filter((other) => other.key === key && other.incarnation === session.incarnation);
    const lastReleased = Math.max(0, ...own.filter((other) => other.end === "released").map((other) => other.serial));
    const lastLeaseEnded = Math.max(0, ...own.filter((other) => other.end === "lease-ended").map((other) => other.serial));
    if (grant.end === "lease-ended") {
      if (grant.serial === lastLeaseEnded) return conflict(["LEASE_EXPIRED"], "rule 9: the lock whose lease ended last");
      if (grant.serial > lastReleased) {
        // DECISION lease-expired (before 7efa875: STALE_LOCK_ID for all but the last lease end).
        return conflict(
          this.decisions.leaseExpired ? ["LEASE_EXPIRED"] : ["LEASE_EXPIRED", "STALE_LOCK_ID"],
          "DECISION lease-expired: an earlier lock whose lease ended, with no normal release since, answers LEASE_EXPIRED",
        );
      }
      return conflict(["LEASE_EXPIRED", "STALE_LOCK_ID"], "rule 9: an older lease-ended lock with a normal release after it (either)");
    }
    if (grant.serial === lastReleased || grant.serial > lastLeaseEnded) {
      return conflict(["STALE_LOCK_ID"], "rule 9: a lock released normally, with no lease end since");
    }
    return conflict(["STALE_LOCK_ID", "LEASE_EXPIRED"], "rule 9: an older released lock with a lease end after it (either)");
  }
}

function readOk(session: Session): ReadOkAnswer {
  return { outcome: "ok", data: session.data, version: session.version, ttlSeconds: session.ttlSeconds };
}

function invalidKey(): Refusal {
  return invalidField("rule 1: app/session_id break the key rules");
}

function invalidField(rule: string): Refusal {
  return refuse("invalid-argument", ["INVALID_FIELD"], rule);
}

function tooManyWaiters(): Refusal {
  return refuse("resource-exhausted", ["TOO_MANY_WAITERS"], "rule 8: the session already has --max-waiters waiting calls");
}

/** Several fields are invalid: the store may name any of them first. */
function anyOf(refusals: readonly Refusal[]): Refusal {
  const first = refusals[0] as Refusal;
  const reasons = [...new Set(refusals.flatMap((refusal) => refusal.reasons))];
  return refuse(first.kind, reasons, refusals.map((refusal) => refusal.rule).join("; "));
}
