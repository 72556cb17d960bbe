/**
 * Fitting a server-side wait into the caller's deadline: a waiter whose wait ends exactly at the
 * deadline would answer OUTCOME_LOCKED after the client has already given up with
 * DEADLINE_EXCEEDED, so the wait ends a little earlier and the answer arrives in time.
 */
import type { Deadline } from "@grpc/grpc-js";

/** Longest safety margin kept before a deadline, in ms. */
export const MAX_DEADLINE_MARGIN_MS = 50;

/** Share of the remaining time kept as a margin when that is less than {@link MAX_DEADLINE_MARGIN_MS}. */
export const DEADLINE_MARGIN_FRACTION = 0.1;

/**
 * The wait to ask the store for, given the requested wait and the call's deadline.
 *
 * @param waitMs - the requested wait in ms.
 * @param deadline - the call's deadline (`call.getDeadline()`: a Date or epoch ms; `Infinity` when none).
 * @param nowMs - the current wall-clock time in epoch ms (deadlines are wall-clock times).
 * @returns `min(waitMs, remaining - min(50 ms, 10% of remaining))`, floored, at least 0.
 */
export function waitWithinDeadline(waitMs: number, deadline: Deadline, nowMs: number): number {
  const at = typeof deadline === "number" ? deadline : deadline.getTime();
  if (!Number.isFinite(at)) return waitMs;
  const remaining = at - nowMs;
  if (remaining <= 0) return 0;
  const budget = Math.floor(remaining - Math.min(MAX_DEADLINE_MARGIN_MS, remaining * DEADLINE_MARGIN_FRACTION));
  return Math.max(0, Math.min(waitMs, budget));
}
