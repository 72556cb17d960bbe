/**
 * Fitting server-side waits and lock grants into the caller's deadline, on the store's clock.
 *
 * A waiter whose wait ends exactly at the deadline would answer OUTCOME_LOCKED after the client has
 * already given up with DEADLINE_EXCEEDED, so the wait ends a margin earlier. Worse, a lock granted
 * just before the deadline may be answered too late to arrive: the client sees DEADLINE_EXCEEDED
 * while the server holds the lock for it, and the session stays locked by nobody for the whole
 * lease. So no lock is granted within the margin of the deadline: the wait ends there
 * (OUTCOME_LOCKED), a Lock that arrives within it is refused (DEADLINE_TOO_CLOSE), and a queued one
 * the timer has not answered yet when a release comes is answered DEADLINE_TOO_CLOSE instead of
 * being granted. The margin covers the time an answer takes to reach the client on a loaded
 * machine, plus the part of the client's deadline spent before the server saw the call: at least
 * {@link MIN_DEADLINE_MARGIN_MS}, a quarter of the deadline, at most {@link MAX_DEADLINE_MARGIN_MS}.
 * Measured with `server/tools/measure-deadline-orphans.ts`: README, "Deadlines".
 */

/** Longest safety margin kept before a deadline, in ms. */
export const MAX_DEADLINE_MARGIN_MS = 50;

/** Shortest safety margin kept before a deadline, in ms. */
export const MIN_DEADLINE_MARGIN_MS = 8;

/** Share of the whole deadline (from the call's arrival) kept as a margin, between the two bounds. */
export const DEADLINE_MARGIN_FRACTION = 0.25;

/** A call's deadline on the store's clock. */
export interface CallDeadline {
  /** When the call (or pipeline operation) arrived, in the store clock's ms. */
  readonly arrivedAt: number;
  /** When the caller gives up, in the store clock's ms; `Infinity` for none. */
  readonly at: number;
}

/** The deadline of a call that has none. */
export const NO_DEADLINE: CallDeadline = Object.freeze({ arrivedAt: 0, at: Infinity });

/**
 * The margin kept before a deadline, given the time the call had when it arrived.
 * @param totalMs - the deadline minus the call's arrival time, in ms.
 */
export function deadlineMarginMs(totalMs: number): number {
  return Math.min(MAX_DEADLINE_MARGIN_MS, Math.max(MIN_DEADLINE_MARGIN_MS, totalMs * DEADLINE_MARGIN_FRACTION));
}

/** Whether a Lock must be refused before it reaches the backend: what is left is within the margin. */
export function tooLateToLock(deadline: CallDeadline, now: number): boolean {
  return deadline.at - now <= deadlineMarginMs(deadline.at - deadline.arrivedAt);
}

/**
 * The wait to ask the backend for: `min(waitMs, remaining - margin)`, floored, at least 0. The
 * margin is the one {@link canStillDeliver} keeps (from the whole deadline since arrival), so a
 * wait ends exactly where grants stop, also for an operation that waited in a stream's backlog.
 */
export function waitWithinDeadline(waitMs: number, deadline: CallDeadline, now: number): number {
  if (deadline.at === Infinity) return waitMs;
  const remaining = deadline.at - now;
  if (remaining <= 0) return 0;
  const budget = Math.floor(remaining - deadlineMarginMs(deadline.at - deadline.arrivedAt));
  return Math.max(0, Math.min(waitMs, budget));
}

/**
 * A predicate for the backend's `isActive`: true while a lock granted now can still reach the
 * caller (it has not gone away, and its deadline is more than the margin ahead).
 */
export function canStillDeliver(gone: (() => boolean) | undefined, deadline: CallDeadline, now: () => number): () => boolean {
  if (deadline.at === Infinity) return gone === undefined ? () => true : () => !gone();
  const margin = deadlineMarginMs(deadline.at - deadline.arrivedAt);
  const at = deadline.at;
  return gone === undefined ? () => at - now() > margin : () => !gone() && at - now() > margin;
}
