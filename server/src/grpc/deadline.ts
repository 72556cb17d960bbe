/**
 * A gRPC call's deadline on the store's clock. grpc-js turns the `grpc-timeout` header into a
 * wall-clock Date when the call arrives; this turns it back into the time the caller gave, once,
 * and from then on the deadline lives on the injected clock like every other time the server
 * reasons about (tests move fake time; see store/call-deadline.ts for what the deadline governs).
 */
import type { Deadline } from "@grpc/grpc-js";
import { NO_DEADLINE, type CallDeadline } from "../store/call-deadline";
import type { Clock } from "../store/clock";

/**
 * The deadline of a unary call that arrived just now.
 * @param deadline - `call.getDeadline()` (a Date, or epoch ms; `Infinity` when there is none).
 * @param clock - the store's clock.
 */
export function callDeadline(deadline: Deadline, clock: Clock): CallDeadline {
  const at = typeof deadline === "number" ? deadline : deadline.getTime();
  if (!Number.isFinite(at)) return NO_DEADLINE;
  // The one wall-clock read: what was left of the caller's timeout on arrival.
  const remaining = at - Date.now();
  const arrivedAt = clock.now();
  return { arrivedAt, at: arrivedAt + remaining };
}

/**
 * The deadline of a Pipeline operation, whose `timeout_ms` is the stream's stand-in for a call
 * deadline and counts from the operation's arrival.
 * @param timeoutMs - the operation's timeout (0 = none).
 * @param arrivedAt - when its message arrived, on the store's clock.
 */
export function operationDeadline(timeoutMs: number, arrivedAt: number): CallDeadline {
  return timeoutMs === 0 ? NO_DEADLINE : { arrivedAt, at: arrivedAt + timeoutMs };
}
