/**
 * Runs one sequence of abstract steps against a real {@link SessionStore} over a
 * {@link MemoryBackend} (under a FakeClock) and the {@link SessionModel} side by side, and fails at
 * the first difference: every result field, every answer delivered to a waiting call (content,
 * instant, FIFO order), refusals (kind and reason), the completion contract (answers only through
 * resolve/reject, `waiting()` exactly when a call waits, `cancel()`'s answer), and the backend's
 * `stats()` (lock and waiter gauges, resident sessions, memory invariants).
 *
 * Steps are abstract ("the holder's lock id", "the 2nd most recent id issued for this key") and
 * resolved against the model when they run, so every step stays meaningful while fast-check
 * shrinks a failing sequence.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FakeClock } from "../../src/store/fake-clock";
import { MemoryBackend } from "../../src/store/memory/memory-backend";
import type { MemoryStats } from "../../src/store/memory/memory-stats";
import type { ExpireResult, GetResult, LockResult, SessionKey } from "../../src/store/operations";
import type { Cancellation, Completion } from "../../src/store/session-backend";
import { SessionStore, type StoreCompletion } from "../../src/store/session-store";
import { StoreError } from "../../src/store/store-error";
import {
  SessionModel,
  WAITS,
  type Decisions,
  type Delivery,
  type Expectation,
  type LockAnswer,
  type ModelLockRef,
  type ModelOptions,
  type ReadAnswer,
} from "./session-model";

/** The small key space (2 apps x 3 ids) where collisions happen; the empty app is a valid app. */
const APPS = ["", "shop"] as const;
/** Session ids of different lengths (the id is part of what a session costs). */
const SESSION_IDS = ["s", "s2", "cart-3"] as const;
/** Number of valid keys; key indexes are 0..KEY_COUNT-1. */
export const KEY_COUNT = APPS.length * SESSION_IDS.length;
/** Key index of a key that breaks rule 1 (a space in the session id). */
export const INVALID_KEY = -1;

/** A lock id to send, resolved against the model when the step runs. */
export type LockIdChoice =
  | { readonly t: "zero" }
  /** The target session's holder, else 0: the "correct" id. */
  | { readonly t: "holder" }
  /** The `back`-th most recent id issued for this key, any incarnation: stale, earlier lease, pre-re-create. */
  | { readonly t: "sameKey"; readonly back: number }
  /** The `back`-th most recent id issued for any key. */
  | { readonly t: "any"; readonly back: number }
  /** A never-issued id below every issued one (ids are seeded from the clock, far above these). */
  | { readonly t: "low"; readonly value: number }
  /** A never-issued id above every issued one. */
  | { readonly t: "high" }
  /** What a transport passes for a uint64 above 2^53 (never matches). */
  | { readonly t: "infinity" };

/** An expected_version to send, resolved against the model. */
export type VersionChoice =
  /** No precondition. */
  | { readonly t: "zero" }
  /** The session's version (1 if it is missing). */
  | { readonly t: "current" }
  /** The current version plus `delta`, at least 1 (a mismatch, unless clamped onto it). */
  | { readonly t: "off"; readonly delta: number }
  /** A uint64 above 2^53 (never matches). */
  | { readonly t: "infinity" };

/** One abstract step of a scenario. */
export type Step =
  | { readonly op: "get"; readonly key: number; readonly waitMs: number }
  | {
      readonly op: "lock";
      readonly key: number;
      readonly waitMs: number;
      readonly leaseMs: number;
      readonly create: boolean;
      readonly ttlSeconds: number;
      /** "flag": pass completion.gone (a later "deactivate" step turns it true); "omit": none. */
      readonly active: "omit" | "flag";
    }
  | {
      readonly op: "set";
      readonly key: number;
      readonly size: number;
      readonly tag: number;
      readonly ttlSeconds: number;
      readonly lockId: LockIdChoice;
      readonly keepLock: boolean;
      readonly expectedVersion: VersionChoice;
      readonly onlyIfAbsent: boolean;
    }
  | { readonly op: "release"; readonly key: number; readonly lockId: LockIdChoice }
  | { readonly op: "expire"; readonly key: number; readonly ttlSeconds: number }
  | { readonly op: "remove"; readonly key: number; readonly lockId: LockIdChoice }
  /** Cancellation.cancel() on a waiting call (pendingOnly) or on any call that ever waited (idempotence). */
  | { readonly op: "cancel"; readonly pick: number; readonly pendingOnly: boolean }
  /** The caller of a waiting Lock goes away without cancelling: its gone() turns true. */
  | { readonly op: "deactivate"; readonly pick: number }
  | { readonly op: "advance"; readonly ms: number }
  /** Advance to just before / exactly at / just after one of the model's upcoming events. */
  | { readonly op: "advanceToEvent"; readonly pick: number; readonly offset: number };

/** How one scenario is set up. */
export interface RunConfig {
  /** The store's limits and the backend's options (the model reads the resolved ones). */
  readonly options: Partial<ModelOptions>;
  /** The FakeClock's start, epoch ms. */
  readonly start: number;
  /** Which of the lead's decisions are enforced exactly. */
  readonly decisions: Decisions;
  /** Small-budget mode: a write the model accepts may be refused MEMORY_BUDGET if that changes nothing. */
  readonly budgetMode: boolean;
}

/** The key (app, session id) of a key index. */
function keyOf(key: number): SessionKey {
  if (key === INVALID_KEY) return { app: "shop", sessionId: "has space" };
  const app = APPS[Math.floor(key / SESSION_IDS.length)];
  const sessionId = SESSION_IDS[key % SESSION_IDS.length];
  if (app === undefined || sessionId === undefined) throw new RangeError(`no key ${key}`);
  return { app, sessionId };
}

/** A payload of `size` bytes whose content depends on `tag`, so writes are told apart. */
function payload(size: number, tag: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (tag + i * 7) & 0xff;
  return data;
}

/** A call's answer: resolved with a value, or rejected (or, against the contract, thrown). */
type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown; readonly thrown: boolean };

interface Received {
  readonly call: number;
  readonly at: number;
  /** Delivered while the call itself was still inside store.get/lock. */
  readonly sync: boolean;
  readonly result: GetResult | LockResult;
}

/** The refusal of the call now inside the store. */
interface SyncRefusal {
  readonly call: number;
  readonly error: unknown;
}

interface CallInfo {
  readonly key: number;
  /** A Lock that passed completion.gone (so a "deactivate" step can make its caller go away). */
  readonly flagged: boolean;
  handle: Cancellation | undefined;
  /** Withdrawn by a cancel() that returned true (later ones must return true too). */
  withdrawn: boolean;
}

interface SettleOptions<T> {
  /** The call's key (read back after a MEMORY_BUDGET refusal). */
  readonly key: number;
  /** What the call answered, for messages (default: its return value). */
  readonly actualText?: string;
  /** Runs the same call again (after reclaiming expired sessions, see budgetRefusal). */
  readonly retry?: () => Outcome<unknown>;
  /** Compares an accepted value (default: deep equality with the call's return value). */
  readonly compare?: (value: T) => string;
}

/** A step failed: carries the concrete trace so a shrunk counterexample reads as a story. */
class ModelMismatch extends Error {
  override readonly name = "ModelMismatch";
}

/**
 * One scenario: a fresh store, backend and model, {@link ModelRun.step} per abstract step, then
 * {@link ModelRun.finish} (drain to empty and check that every gauge is back to zero).
 */
export class ModelRun {
  private readonly clock: FakeClock;
  private readonly backend: MemoryBackend;
  private readonly store: SessionStore;
  private model: SessionModel;
  private readonly start: number;
  private readonly trace: string[] = [];
  /** Whether the callers of flagged Lock calls are still there (absent = yes). */
  private readonly active = new Map<number, boolean>();
  private readonly calls = new Map<number, CallInfo>();
  private readonly serialToId = new Map<number, number>();
  private readonly idToSerial = new Map<number, number>();
  private readonly answered = new Set<number>();
  private received: Received[] = [];
  /** Flagged Lock calls whose caller was gone when their turn came: dropped (answered DEADLINE_TOO_CLOSE), never granted. */
  private dropped: number[] = [];
  /** The refusal of the call now inside the store (answers through reject before the call returns). */
  private syncRefusal: SyncRefusal | undefined;
  /** Calls whose completion was told waiting(). */
  private readonly waitingSignalled = new Set<number>();
  private readonly problems: string[] = [];
  private nextCall = 1;
  private inCall = 0;
  private highestId = 0;
  private stepNumber = 0;
  /** stats() after the previous step (what a refused call must leave unchanged). */
  private lastStats: MemoryStats;

  constructor(private readonly config: RunConfig) {
    this.start = config.start;
    this.clock = new FakeClock(config.start);
    const { shards, maxApps, maxMemoryBytes, expiryIntervalMs, expirySliceBudgetMs, ...limits } = config.options;
    this.backend = new MemoryBackend({ shards, maxApps, maxMemoryBytes, expiryIntervalMs, expirySliceBudgetMs }, limits, this.clock);
    this.store = new SessionStore(this.backend, limits, this.clock);
    this.lastStats = this.backend.stats();
    const options: ModelOptions = { ...this.store.limits, ...this.backend.options };
    this.model = new SessionModel(options, config.start, (call) => this.active.get(call) !== false, config.decisions);
    this.trace.push(`options ${JSON.stringify(config.options)} start ${config.start}`);
  }

  /** Runs one abstract step on both sides and checks everything observable. */
  step(step: Step): void {
    this.stepNumber++;
    switch (step.op) {
      case "get":
        this.doGet(step.key, step.waitMs);
        break;
      case "lock":
        this.doLock(step);
        break;
      case "set":
        this.doSet(step);
        break;
      case "release":
        this.doRelease(step.key, step.lockId);
        break;
      case "expire":
        this.doExpire(step.key, step.ttlSeconds);
        break;
      case "remove":
        this.doRemove(step.key, step.lockId);
        break;
      case "cancel":
        this.doCancel(step.pick, step.pendingOnly);
        break;
      case "deactivate":
        this.doDeactivate(step.pick);
        break;
      case "advance":
        this.doAdvance(step.ms);
        break;
      case "advanceToEvent": {
        const times = this.model.eventTimes();
        const target = times.length === 0 ? this.clock.now() : (times[step.pick % times.length] as number) + step.offset;
        this.doAdvance(Math.max(0, target - this.clock.now()));
        break;
      }
    }
    this.checkStats();
  }

  /**
   * Drains the scenario: optionally removes every session (with its holder's lock id), then
   * advances past every lease, wait, ttl and sweep bound; afterwards everything must be zero.
   */
  finish(removeAll: boolean): void {
    if (removeAll) {
      for (let key = 0; key < KEY_COUNT; key++) this.step({ op: "remove", key, lockId: { t: "holder" } });
    }
    for (let round = 0; !this.model.isEmpty; round++) {
      if (round > 50) this.fail("the model never drained");
      const times = this.model.eventTimes();
      const horizon = times[times.length - 1] ?? this.clock.now();
      this.step({ op: "advance", ms: horizon - this.clock.now() + 1 });
    }
    this.backend.runDueWork();
    const stats = this.backend.stats();
    this.trace.push(`final stats ${JSON.stringify(stats)}`);
    const left = { sessions: stats.sessions, lockedSessions: stats.lockedSessions, waiters: stats.waiters, bytesUsed: stats.bytesUsed };
    if (!isDeepEqual(left, { sessions: 0, lockedSessions: 0, waiters: 0, bytesUsed: 0 })) {
      this.fail(`after every ttl, lease and wait ran out (and the sweep ran), the store still holds ${JSON.stringify(left)}`);
    }
    // Exactly one of resolve, reject and dropped per call: a waiter is answered, dropped or withdrawn.
    const unanswered = [...this.waitingSignalled].filter((call) => !this.answered.has(call) && this.calls.get(call)?.withdrawn !== true);
    if (unanswered.length > 0) this.fail(`waiting calls never answered, dropped or withdrawn: ${unanswered.map((call) => `#${call}`).join(", ")}`);
  }

  /** What ran so far, one line per call or event (also appended to every failure). */
  transcript(): readonly string[] {
    return this.trace;
  }

  /** Stops the backend's timer. */
  close(): void {
    void this.store.close();
  }

  // ---- operations -----------------------------------------------------------------------------

  private doGet(key: number, waitMs: number): void {
    const call = this.newCall(key, false);
    const label = `Get(${keyText(key)} wait=${waitMs}) #${call}`;
    const trial = this.model.clone();
    const expected = trial.get({ key, call, waitMs });
    const outcome = this.invokeWaitable(call, () => this.store.get({ ...keyOf(key), waitMs }, this.readCompletion(call)));
    this.settleWaitable(label, key, call, expected, outcome, trial);
  }

  private doLock(step: Extract<Step, { op: "lock" }>): void {
    const call = this.newCall(step.key, step.active === "flag");
    const input = { ...keyOf(step.key), waitMs: step.waitMs, leaseMs: step.leaseMs, create: step.create, ttlSeconds: step.ttlSeconds };
    const label =
      `Lock(${keyText(step.key)} wait=${step.waitMs} lease=${step.leaseMs}${step.create ? " create" : ""} ttl=${step.ttlSeconds}` +
      `${step.active === "flag" ? " gone?" : ""}) #${call}`;
    const trial = this.model.clone();
    const expected = trial.lock({ key: step.key, call, waitMs: step.waitMs, leaseMs: step.leaseMs, create: step.create, ttlSeconds: step.ttlSeconds });
    const run = (): Outcome<Cancellation | undefined> =>
      this.invokeWaitable(call, () => this.store.lock(input, this.lockCompletion(call, step.active === "flag")));
    this.settleWaitable(label, step.key, call, expected, run(), trial, run);
  }

  private doSet(step: Extract<Step, { op: "set" }>): void {
    const lock = this.resolveLockId(step.lockId, step.key);
    const current = this.model.versionOf(step.key) ?? 1;
    const expectedVersion =
      step.expectedVersion.t === "zero"
        ? 0
        : step.expectedVersion.t === "current"
          ? current
          : step.expectedVersion.t === "infinity"
            ? Infinity
            : Math.max(1, current + step.expectedVersion.delta);
    const data = payload(step.size, step.tag);
    const label =
      `Set(${keyText(step.key)} data=${digest(data)} ttl=${step.ttlSeconds} lock=${lock.text}${step.keepLock ? " keepLock" : ""}` +
      ` expectedVersion=${expectedVersion}${step.onlyIfAbsent ? " onlyIfAbsent" : ""})`;
    const trial = this.model.clone();
    const expected = trial.set({
      key: step.key,
      data,
      ttlSeconds: step.ttlSeconds,
      lock: lock.ref,
      keepLock: step.keepLock,
      expectedVersion,
      onlyIfAbsent: step.onlyIfAbsent,
    });
    const run = (): Outcome<unknown> => {
      // A fresh buffer per attempt, scribbled over afterwards: the store must keep its own copy.
      const sent = Buffer.from(data);
      const outcome = this.invokeNow<unknown>((completion) =>
        this.store.set(
          {
            ...keyOf(step.key),
            data: sent,
            ttlSeconds: step.ttlSeconds,
            lockId: lock.id,
            keepLock: step.keepLock,
            expectedVersion,
            onlyIfAbsent: step.onlyIfAbsent,
          },
          completion,
        ),
      );
      sent.fill(0xee);
      return outcome;
    };
    this.settle(label, expected, run(), trial, { key: step.key, retry: run });
  }

  private doRelease(key: number, choice: LockIdChoice): void {
    const lock = this.resolveLockId(choice, key);
    const label = `Release(${keyText(key)} lock=${lock.text})`;
    const trial = this.model.clone();
    const expected = trial.release({ key, lock: lock.ref });
    const outcome = this.invokeNow<unknown>((completion) => this.store.release({ ...keyOf(key), lockId: lock.id }, completion));
    this.settle(label, expected, outcome, trial, { key });
  }

  private doExpire(key: number, ttlSeconds: number): void {
    const label = `Expire(${keyText(key)} ttl=${ttlSeconds})`;
    const trial = this.model.clone();
    const expected = trial.expire({ key, ttlSeconds });
    const outcome = this.invokeNow<unknown>((completion) => this.store.expire({ ...keyOf(key), ttlSeconds }, completion));
    this.settle(label, expected, outcome, trial, { key });
  }

  private doRemove(key: number, choice: LockIdChoice): void {
    const lock = this.resolveLockId(choice, key);
    const label = `Remove(${keyText(key)} lock=${lock.text})`;
    const trial = this.model.clone();
    const expected = trial.remove({ key, lock: lock.ref });
    const outcome = this.invokeNow<unknown>((completion) => this.store.remove({ ...keyOf(key), lockId: lock.id }, completion));
    this.settle(label, expected, outcome, trial, { key });
  }

  private doCancel(pick: number, pendingOnly: boolean): void {
    const candidates = [...this.calls.entries()].filter(
      ([call, info]) => info.handle !== undefined && (!pendingOnly || this.model.isWaiting(call)),
    );
    const chosen = candidates[pick % Math.max(1, candidates.length)];
    if (chosen === undefined) return;
    const [call, info] = chosen;
    const pending = this.model.isWaiting(call);
    const label = `cancel #${call}${pending ? "" : info.withdrawn ? " (withdrawn before)" : " (already settled)"}`;
    const trial = this.model.clone();
    trial.cancel(call);
    const withdrawn = info.handle?.cancel();
    this.log(`${label} -> ${String(withdrawn)}`);
    // Withdrawn now, or idempotently again; false once the call has been answered.
    if (withdrawn !== (pending || info.withdrawn)) this.fail(`${label}: cancel() returned ${String(withdrawn)}`);
    info.withdrawn = withdrawn;
    this.compareDeliveries(label, trial);
    this.model = trial;
  }

  private doDeactivate(pick: number): void {
    const candidates = [...this.calls.entries()].filter(
      ([call, info]) => info.flagged && this.active.get(call) !== false && this.model.isWaiting(call),
    );
    const chosen = candidates[pick % Math.max(1, candidates.length)];
    if (chosen === undefined) return;
    this.active.set(chosen[0], false);
    this.log(`caller of #${chosen[0]} is gone (gone() now true)`);
  }

  private doAdvance(ms: number): void {
    const label = `advance ${ms} ms`;
    const trial = this.model.clone();
    trial.advanceTo(this.clock.now() + ms);
    this.clock.advance(ms);
    this.backend.runDueWork();
    this.log(label);
    this.compareDeliveries(label, trial);
    this.model = trial;
  }

  // ---- comparing ------------------------------------------------------------------------------

  /**
   * Get/Lock: an immediate answer through resolve (and no cancellation), or a cancellation, a
   * waiting() signal and no answer yet.
   */
  private settleWaitable(
    label: string,
    key: number,
    call: number,
    expected: Expectation<ReadAnswer | LockAnswer | typeof WAITS>,
    outcome: Outcome<Cancellation | undefined>,
    trial: SessionModel,
    retry?: () => Outcome<unknown>,
  ): void {
    const immediate = this.received.filter((received) => received.call === call && received.sync);
    this.received = this.received.filter((received) => !(received.call === call && received.sync));
    const info = this.calls.get(call);
    const waited = outcome.ok && outcome.value !== undefined;
    if (waited !== this.waitingSignalled.has(call)) {
      this.fail(`${label}: ${waited ? "waits, but its completion was not told waiting()" : "was told waiting() but does not wait"}`);
    }
    const actualText = [...(waited ? ["waits (a cancellation)"] : []), ...immediate.map((received) => resultText(received.result))].join(" + ") || "no answer";
    this.settle(label, expected, outcome, trial, { key, retry, actualText, compare: (value) => {
      const handle = outcome.ok ? (outcome.value as Cancellation | undefined) : undefined;
      if (value === WAITS) {
        if (handle === undefined || immediate.length > 0) {
          this.fail(`${label}: should wait in the queue (a cancellation, no answer yet); got ${actualText}`);
        }
        if (info !== undefined) info.handle = handle;
        return "waits";
      }
      const answer = immediate[0];
      if (handle !== undefined || answer === undefined || immediate.length !== 1) {
        this.fail(`${label}: should be answered at once (no cancellation, one answer); got ${actualText}`);
      }
      this.answered.add(call);
      this.expectAnswer(label, value, answer.result);
      return resultText(answer.result);
    } });
  }

  /**
   * The core check of one call: a refusal must match kind and reason; an accepted call must give
   * the model's value (`compare`, default deep equality); waiters' answers must match. In budget
   * mode a MEMORY_BUDGET refusal of a write the model accepts is allowed if it changed nothing.
   */
  private settle<T>(
    label: string,
    expected: Expectation<T>,
    outcome: Outcome<unknown>,
    trial: SessionModel,
    how: SettleOptions<T>,
  ): void {
    const { key, retry, compare } = how;
    const actualText = how.actualText ?? (outcome.ok ? valueText(outcome.value) : "");
    const before = this.lastStats;
    if (!outcome.ok && (outcome.thrown || !(outcome.error instanceof StoreError))) {
      const what = outcome.error instanceof Error ? (outcome.error.stack ?? outcome.error.message) : String(outcome.error);
      this.fail(`${label}: ${outcome.thrown ? "threw (answers go through the completion)" : "failed"}: ${what}`);
    }
    const error = outcome.ok ? undefined : (outcome.error as StoreError);
    if (expected.refused) {
      if (error === undefined) {
        this.fail(`${label}: should be refused ${expected.kind} ${expected.reasons.join("|")} (${expected.rule}); got ${actualText}`);
      }
      if (error.kind !== expected.kind || !expected.reasons.includes(error.reason)) {
        const want = `${expected.kind} ${expected.reasons.join("|")} (${expected.rule})`;
        this.fail(`${label}: should be refused ${want}; got ${error.kind} ${error.reason} "${error.message}"`);
      }
      this.log(`${label} -> refused ${error.kind} ${error.reason}${expected.rule.startsWith("DECISION") ? ` [${expected.rule.split(":")[0]}]` : ""}`);
      this.compareDeliveries(label, trial);
      this.model = trial;
      return;
    }
    if (error !== undefined) {
      if (this.config.budgetMode && expected.mayExhaustMemory && error.kind === "resource-exhausted" && error.reason === "MEMORY_BUDGET") {
        this.log(`${label} -> refused MEMORY_BUDGET (accepted: the model is left unchanged)`);
        this.budgetRefusal(label, key, before, retry);
        return;
      }
      this.fail(`${label}: should succeed with ${valueText(expected.value)}; got ${error.kind} ${error.reason} "${error.message}"`);
    }
    const value = outcome.ok ? outcome.value : undefined;
    let shown: string;
    if (compare !== undefined) {
      shown = compare(expected.value);
    } else {
      if (!isDeepEqual(value, expected.value)) this.fail(`${label}: should answer ${valueText(expected.value)}; got ${valueText(value)}`);
      shown = valueText(value);
    }
    this.log(`${label} -> ${shown}`);
    this.compareDeliveries(label, trial);
    this.model = trial;
  }

  /**
   * A write refused for the memory budget must have changed nothing: no answers, the same locks
   * and waiters, no more sessions or bytes (fewer is fine: expired ones may be reclaimed), and the
   * key reads as the model says. DECISION expired-memory: reclaim every expired
   * session by touching its key and retry; if the retry succeeds, the refusal was for memory held
   * by expired sessions (the store before 7efa875 did that).
   */
  private budgetRefusal(label: string, key: number, before: MemoryStats, retry: (() => Outcome<unknown>) | undefined): void {
    if (this.received.length > 0) this.fail(`${label}: refused, yet answered waiters ${this.received.map((r) => `#${r.call}`).join(", ")}`);
    const after = this.backend.stats();
    if (
      after.lockedSessions !== before.lockedSessions ||
      after.waiters !== before.waiters ||
      after.sessions > before.sessions ||
      after.bytesUsed > before.bytesUsed
    ) {
      this.fail(`${label}: a MEMORY_BUDGET refusal changed the store: before ${statsText(before)}, after ${statsText(after)}`);
    }
    if (this.config.decisions.expiredMemory && retry !== undefined && after.sessions > this.model.visibleCount) {
      for (let other = 0; other < KEY_COUNT; other++) {
        if (this.model.isVisible(other)) continue;
        const reclaimed = this.invokeNow<ExpireResult>((completion) => this.store.expire({ ...keyOf(other), ttlSeconds: 0 }, completion));
        if (!reclaimed.ok || reclaimed.value.found) this.fail(`Expire(${keyText(other)}) found a session the model says is gone (or failed)`);
      }
      const reclaimed = this.backend.stats().sessions;
      const again = retry();
      const refusedAgain = !again.ok && again.error instanceof StoreError && again.error.reason === "MEMORY_BUDGET";
      this.log(`  reclaimed expired sessions (${after.sessions} -> ${reclaimed} resident), retried -> ${refusedAgain ? "refused again" : "succeeded"}`);
      if (!refusedAgain) {
        this.fail(
          `DECISION expired-memory: ${label} was refused MEMORY_BUDGET while ${after.sessions - this.model.visibleCount} ` +
            `expired session(s) still held memory; once they were reclaimed the same write succeeded`,
        );
      }
    }
    // The store answers as before: read the key on both sides (a Get touches both alike).
    this.checkStats();
    this.doGet(key, 0);
  }

  /** Answers to waiting calls during one step against the model's; `trial` is the model after the step. */
  private compareDeliveries(label: string, trial: SessionModel): void {
    const expected: readonly Delivery[] = trial.deliveries;
    for (const call of this.dropped) {
      // Rule 7: the model skips a writer whose caller is gone; the store answers it DEADLINE_TOO_CLOSE.
      if (trial.isWaiting(call) || expected.some((delivery) => delivery.call === call)) {
        this.fail(`${label}: waiting call #${call} was dropped (caller gone), but the model still expects it to be answered`);
      }
      if (this.answered.has(call)) this.fail(`${label}: waiting call #${call} was dropped after it had been answered`);
      this.answered.add(call);
      this.log(`  #${call} dropped (its caller is gone)`);
    }
    this.dropped = [];
    const got = this.received;
    this.received = [];
    const byCall = new Map<number, Received>();
    for (const received of got) {
      if (byCall.has(received.call) || this.answered.has(received.call)) {
        this.fail(`${label}: waiting call #${received.call} was answered twice (resolve called again: ${resultText(received.result)})`);
      }
      byCall.set(received.call, received);
    }
    for (const delivery of expected) {
      const received = byCall.get(delivery.call);
      const where = `${label}: waiting call #${delivery.call} (${keyText(delivery.key)})`;
      if (received === undefined) {
        this.fail(`${where} should be answered at +${delivery.at - this.start} ms with ${answerText(delivery.answer)}; got no answer`);
      }
      if (received.at !== delivery.at) {
        const answered = `answered at +${received.at - this.start} ms with ${resultText(received.result)}`;
        this.fail(`${where} should be answered at +${delivery.at - this.start} ms; ${answered}`);
      }
      this.expectAnswer(where, delivery.answer, received.result);
      byCall.delete(delivery.call);
      this.answered.add(delivery.call);
      this.log(`  #${delivery.call} answered ${resultText(received.result)} at +${received.at - this.start}`);
    }
    for (const received of byCall.values()) {
      this.fail(`${label}: waiting call #${received.call} got an answer the model does not expect: ${resultText(received.result)}`);
    }
    // Rule 7's FIFO order, per session: the order of the answers that are not timeouts.
    for (let key = 0; key < KEY_COUNT; key++) {
      const want = expected.filter((d) => d.key === key && d.answer.outcome !== "locked").map((d) => d.call);
      const order = got.filter((r) => this.calls.get(r.call)?.key === key && r.result.outcome !== "locked").map((r) => r.call);
      if (!isDeepEqual(order, want)) this.fail(`${label}: waiters of ${keyText(key)} answered in order ${order.join(",")}; FIFO order is ${want.join(",")}`);
    }
    if (this.problems.length > 0) this.fail(this.problems.join("; "));
  }

  /** Compares a Get/Lock result field by field, mapping model serials to store lock ids. */
  private expectAnswer(where: string, expected: ReadAnswer | LockAnswer, actual: GetResult | LockResult): void {
    const got = resultFields(actual);
    let want: Record<string, unknown>;
    switch (expected.outcome) {
      case "not-found":
        want = { outcome: "not-found" };
        break;
      case "locked":
        want = { outcome: "locked", lockId: this.idOf(expected.holder), lockAgeMs: expected.lockAgeMs, ttlSeconds: expected.ttlSeconds };
        break;
      case "ok":
        want =
          "lock" in expected
            ? {
                outcome: "ok",
                data: digest(expected.data),
                version: expected.version,
                lockId: this.bindGrant(expected.lock, actual),
                ttlSeconds: expected.ttlSeconds,
                created: expected.created,
                leaseMs: expected.leaseMs,
              }
            : { outcome: "ok", data: digest(expected.data), version: expected.version, ttlSeconds: expected.ttlSeconds };
        break;
    }
    if (!isDeepEqual(got, want)) this.fail(`${where}: should answer ${JSON.stringify(want)}; got ${JSON.stringify(got)}`);
  }

  /** The store id of a granted lock; binds a new grant to the id the store just issued for it. */
  private bindGrant(serial: number, actual: GetResult | LockResult): number | string {
    const known = this.serialToId.get(serial);
    if (known !== undefined) return known;
    if (actual.outcome !== "ok" || !("lockId" in actual)) return `a new lock (L${serial})`;
    if (this.idToSerial.has(actual.lockId)) return `a new lock id, not L${this.idToSerial.get(actual.lockId)}'s again`;
    this.serialToId.set(serial, actual.lockId);
    this.idToSerial.set(actual.lockId, serial);
    return actual.lockId;
  }

  private idOf(serial: number): number | string {
    return this.serialToId.get(serial) ?? `L${serial} (never delivered)`;
  }

  /**
   * After every step: lock, waiter, grant and lease-end counts equal the model's; resident
   * sessions lie between the visible ones and the visible ones plus the expired ones not yet due
   * for sweeping (README, Limits: swept within one bucket and one expiry interval of the
   * deadline); one store timer; the memory budget holds and bytesUsed is non-zero exactly while
   * some session is resident.
   */
  private checkStats(): void {
    const stats = this.backend.stats();
    this.lastStats = stats;
    const model = this.model;
    if (model.now !== this.clock.now()) this.fail(`model clock ${model.now} != store clock ${this.clock.now()}`);
    const problems: string[] = [];
    if (stats.lockedSessions !== model.lockedCount) problems.push(`lockedSessions ${stats.lockedSessions}, model ${model.lockedCount}`);
    if (stats.waiters !== model.waiterCount) problems.push(`waiters ${stats.waiters}, model ${model.waiterCount}`);
    if (stats.lockGrants !== model.grantCount) problems.push(`lockGrants ${stats.lockGrants}, model ${model.grantCount}`);
    if (stats.leaseExpiries !== model.leaseEndCount) problems.push(`leaseExpiries ${stats.leaseExpiries}, model ${model.leaseEndCount}`);
    const visible = model.visibleCount;
    const upper = visible + model.ghostsNotYetDue(!this.config.decisions.earlyReleaseSweep);
    if (stats.sessions < visible) problems.push(`sessions ${stats.sessions} < ${visible} visible in the model`);
    if (stats.sessions > upper) {
      const legacy = visible + model.ghostsNotYetDue(true);
      problems.push(
        stats.sessions <= legacy
          ? `DECISION early-release-sweep: sessions ${stats.sessions} > ${upper}: a session released early after its expiry came due ` +
              `while locked must be swept within ${1000 + this.backend.options.expiryIntervalMs} ms of its real deadline, not at its old lease end`
          : `sessions ${stats.sessions} > ${upper} (${visible} visible + expired ones not yet due for sweeping)`,
      );
    }
    // README, Limits: lease ends, wait deadlines and expiry run "under one timer".
    if (this.clock.pendingTimers > 1) problems.push(`${this.clock.pendingTimers} store timers pending, not one`);
    if (stats.bytesUsed > stats.maxMemoryBytes) problems.push(`bytesUsed ${stats.bytesUsed} > maxMemoryBytes ${stats.maxMemoryBytes}`);
    if (stats.bytesUsed < 0) problems.push(`bytesUsed ${stats.bytesUsed} < 0`);
    if (stats.bytesUsed > 0 !== stats.sessions > 0) problems.push(`bytesUsed ${stats.bytesUsed} with ${stats.sessions} resident sessions`);
    if (problems.length > 0) this.fail(`stats() disagree: ${problems.join("; ")}`);
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private newCall(key: number, flagged: boolean): number {
    const call = this.nextCall++;
    this.calls.set(call, { key, flagged, handle: undefined, withdrawn: false });
    return call;
  }

  /**
   * Runs a Get or Lock: its answer, if immediate, is recorded by its completion (see
   * {@link record}); a refusal must come through reject before the call returns.
   */
  private invokeWaitable(call: number, run: () => Cancellation | undefined): Outcome<Cancellation | undefined> {
    this.inCall = call;
    this.syncRefusal = undefined;
    let value: Cancellation | undefined;
    try {
      value = run();
    } catch (error) {
      return { ok: false, error, thrown: true };
    } finally {
      this.inCall = 0;
    }
    // Set by the completion during run() (the compiler cannot see that).
    const refusal = this.syncRefusal as SyncRefusal | undefined;
    this.syncRefusal = undefined;
    if (refusal === undefined) return { ok: true, value };
    if (value !== undefined) this.fail(`call #${call} was refused, yet returned a cancellation`);
    return { ok: false, error: refusal.error, thrown: false };
  }

  /** Runs Set, Release, Expire or Remove, which must answer exactly once before they return. */
  private invokeNow<T>(run: (completion: Completion<T>) => Cancellation | undefined): Outcome<T> {
    const answers: Outcome<T>[] = [];
    let returned: Cancellation | undefined;
    try {
      returned = run({
        resolve: (value) => answers.push({ ok: true, value }),
        reject: (error) => answers.push({ ok: false, error, thrown: false }),
      });
    } catch (error) {
      return { ok: false, error, thrown: true };
    }
    const answer = answers[0];
    if (returned !== undefined || answer === undefined || answers.length > 1) {
      this.fail(`the call should answer once, at once, with no cancellation; got ${answers.length} answers${returned === undefined ? "" : " and a cancellation"}`);
    }
    return answer;
  }

  private record(call: number, result: GetResult | LockResult): void {
    if (result.outcome === "ok" && "lockId" in result) {
      // Rule 5: lock ids are non-zero, and (one global counter) strictly increasing in grant order.
      if (!Number.isSafeInteger(result.lockId) || result.lockId <= this.highestId) {
        this.problems.push(`call #${call} granted lock id ${result.lockId}, not above the previous ${this.highestId}`);
      }
      this.highestId = Math.max(this.highestId, result.lockId);
    }
    this.received.push({ call, at: this.clock.now(), sync: this.inCall === call, result });
  }

  /** A refusal or failure: the call's own while it is inside the store, else a waiter's (unexpected) or a drop. */
  private rejected(call: number, error: unknown): void {
    if (this.inCall === call && this.syncRefusal === undefined) {
      this.syncRefusal = { call, error };
    } else if (this.active.get(call) === false && error instanceof StoreError && error.reason === "DEADLINE_TOO_CLOSE") {
      this.dropped.push(call);
    } else {
      this.problems.push(`call #${call} rejected: ${String(error)}`);
    }
  }

  private signalWaiting(call: number): void {
    if (this.inCall !== call || this.waitingSignalled.has(call)) this.problems.push(`call #${call} told waiting() ${this.inCall === call ? "twice" : "after it returned"}`);
    this.waitingSignalled.add(call);
  }

  private readCompletion(call: number): StoreCompletion<GetResult> {
    return {
      resolve: (result) => this.record(call, result),
      reject: (error) => this.rejected(call, error),
      waiting: () => this.signalWaiting(call),
    };
  }

  private lockCompletion(call: number, flagged: boolean): StoreCompletion<LockResult> {
    return {
      resolve: (result) => this.record(call, result),
      reject: (error) => this.rejected(call, error),
      waiting: () => this.signalWaiting(call),
      ...(flagged ? { gone: () => this.active.get(call) === false } : {}),
    };
  }

  /** Turns an abstract lock-id choice into the model's view and the number sent to the store. */
  private resolveLockId(choice: LockIdChoice, key: number): { ref: ModelLockRef; id: number; text: string } {
    const issued = (serial: number | undefined): { ref: ModelLockRef; id: number; text: string } | undefined => {
      if (serial === undefined) return undefined;
      const id = this.serialToId.get(serial);
      if (id === undefined) this.fail(`model lock L${serial} was never bound to a store id`);
      return { ref: { kind: "issued", serial }, id, text: `L${serial}` };
    };
    const pick = (serials: number[], back: number): number | undefined => serials[serials.length - 1 - (back % Math.max(1, serials.length))];
    const zero = { ref: { kind: "none" } as const, id: 0, text: "0" };
    switch (choice.t) {
      case "zero":
        return zero;
      case "holder":
        return issued(this.model.holderOf(key)) ?? zero;
      case "sameKey":
        return issued(pick(this.model.serials(key), choice.back)) ?? issued(pick(this.model.serials(), choice.back)) ?? zero;
      case "any":
        return issued(pick(this.model.serials(), choice.back)) ?? zero;
      case "low":
        if (this.highestId > 0 && choice.value >= Math.min(...this.serialToId.values())) this.fail("a forged low id is not below the issued ids");
        return { ref: { kind: "forged", below: true }, id: choice.value, text: `forged ${choice.value}` };
      case "high":
        return { ref: { kind: "forged", below: false }, id: Number.MAX_SAFE_INTEGER, text: "forged 2^53-1" };
      case "infinity":
        return { ref: { kind: "forged", below: false }, id: Infinity, text: "Infinity" };
    }
  }

  private log(line: string): void {
    this.trace.push(`${String(this.stepNumber).padStart(3)} +${this.clock.now() - this.start}ms ${line}`);
  }

  private fail(message: string): never {
    const trace = this.trace.length > 120 ? ["...", ...this.trace.slice(-120)] : this.trace;
    throw new ModelMismatch(`${message}\nLock ids: L<n> is the model's n-th lock (bound to the store's id when granted).\nTrace:\n${trace.join("\n")}`);
  }
}

function keyText(key: number): string {
  const { app, sessionId } = keyOf(key);
  return `${app}/${sessionId}`;
}

/** Short, exact stand-in for a payload in messages and comparisons. */
function digest(data: Uint8Array): string {
  const hash = createHash("sha1").update(data).digest("hex").slice(0, 10);
  return `${data.length}B:${hash}`;
}

function resultFields(result: GetResult | LockResult): Record<string, unknown> {
  const fields: Record<string, unknown> = { ...result };
  if ("data" in result) fields.data = Buffer.isBuffer(result.data) ? digest(result.data) : `not a Buffer: ${String(result.data)}`;
  return fields;
}

function resultText(result: GetResult | LockResult): string {
  return JSON.stringify(resultFields(result));
}

function answerText(answer: ReadAnswer | LockAnswer): string {
  return JSON.stringify("data" in answer ? { ...answer, data: digest(answer.data) } : answer);
}

function valueText(value: unknown): string {
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(value, (_key, inner: unknown) => (inner === Infinity ? "Infinity" : inner));
  } catch {
    // A cancellation (it references the backend's internals) or something else not plain.
    return String(value);
  }
}

function statsText(stats: MemoryStats): string {
  return JSON.stringify({ sessions: stats.sessions, lockedSessions: stats.lockedSessions, waiters: stats.waiters, bytesUsed: stats.bytesUsed });
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}
