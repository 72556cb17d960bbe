/**
 * Fitting server-side waits and lock grants into the caller's deadline.
 *
 * A waiter whose wait ends exactly at the deadline would answer OUTCOME_LOCKED after the client has
 * already given up with DEADLINE_EXCEEDED, so the wait ends a margin earlier. Worse, a lock granted
 * just before the deadline may be answered too late to arrive: the client sees DEADLINE_EXCEEDED
 * while the server holds the lock for it, and the session stays locked by nobody for the whole
 * lease. So no lock is granted within the margin of the deadline: the waiter's wait ends there
 * (OUTCOME_LOCKED), and one that the store's timer has not answered yet when a release comes is
 * answered DEADLINE_EXCEEDED instead of being granted. The margin covers the time an
 * answer takes to reach the client on a loaded machine, plus the part of the client's deadline spent
 * before the server saw the call: at least {@link MIN_DEADLINE_MARGIN_MS}, a quarter of the
 * deadline, at most {@link MAX_DEADLINE_MARGIN_MS}. Measured with
 * `server/tools/measure-deadline-orphans.ts`: README, "Deadlines".
 */
import type { Deadline } from "@grpc/grpc-js";

/** Longest safety margin kept before a deadline, in ms. */
export const MAX_DEADLINE_MARGIN_MS = 50;

/** Shortest safety margin kept before a deadline, in ms. */
export const MIN_DEADLINE_MARGIN_MS = 8;

/** Share of the whole deadline (from the call's arrival) kept as a margin, between the two bounds. */
export const DEADLINE_MARGIN_FRACTION = 0.25;

/** Epoch ms of a deadline (`Infinity` when there is none). */
export function deadlineMs(deadline: Deadline): number {
  return typeof deadline === "number" ? deadline : deadline.getTime();
}

/**
 * The margin kept before a deadline, given the time the call had when it arrived.
 *
 * @param totalMs - the deadline minus the call's arrival time, in ms.
 */
export function deadlineMarginMs(totalMs: number): number {
  return Math.min(MAX_DEADLINE_MARGIN_MS, Math.max(MIN_DEADLINE_MARGIN_MS, totalMs * DEADLINE_MARGIN_FRACTION));
}

/**
 * Whether a Lock must be refused before it reaches the store: `remainingMs` of a deadline that had
 * `totalMs` when the call (or pipeline operation) arrived are within the margin.
 */
export function tooLateToLock(remainingMs: number, totalMs: number): boolean {
  return remainingMs <= deadlineMarginMs(totalMs);
}

/** The DEADLINE_EXCEEDED message of such a refusal; `what` names the deadline ("the call's deadline"). */
export function tooLateToLockMessage(what: string, remainingMs: number): string {
  return `${what} (${Math.max(0, Math.floor(remainingMs))} ms left) leaves no time to deliver a lock`;
}

/**
 * The wait to ask the store for, given the requested wait and the call's deadline.
 *
 * @param waitMs - the requested wait in ms.
 * @param deadline - the call's deadline (`call.getDeadline()`: a Date or epoch ms; `Infinity` when none).
 * @param nowMs - the current wall-clock time in epoch ms (deadlines are wall-clock times).
 * @returns `min(waitMs, remaining - margin)`, floored, at least 0 (see {@link deadlineMarginMs}).
 */
export function waitWithinDeadline(waitMs: number, deadline: Deadline, nowMs: number): number {
  const at = deadlineMs(deadline);
  if (!Number.isFinite(at)) return waitMs;
  const remaining = at - nowMs;
  if (remaining <= 0) return 0;
  const budget = Math.floor(remaining - deadlineMarginMs(remaining));
  return Math.max(0, Math.min(waitMs, budget));
}

/**
 * A predicate for the store's `isActive`: true while a lock granted now can still reach the caller
 * (it has not gone away, and its deadline is more than the margin ahead).
 *
 * @param gone - whether the caller has gone away (cancelled, disconnected).
 * @param deadline - the call's deadline.
 * @param arrivedMs - when the call arrived, in epoch ms.
 * @param now - the wall clock, in epoch ms.
 */
export function canStillDeliver(gone: () => boolean, deadline: Deadline, arrivedMs: number, now: () => number = Date.now): () => boolean {
  const at = deadlineMs(deadline);
  if (!Number.isFinite(at)) return () => !gone();
  const margin = deadlineMarginMs(at - arrivedMs);
  return () => !gone() && at - now() > margin;
}
