/**
 * Names of the spans, attributes and metrics Stateward emits: one place, because they are a
 * contract (dashboards, alerts and the README's metric list depend on them).
 *
 * Nothing here may ever carry a session id or session data: spans and metric labels are read by
 * people and systems that must not learn bearer credentials. Correlation goes through
 * {@link ATTR_SESSION_HASH}, a keyed hash that is off unless a key is configured.
 */

/** The gRPC service name, as in `rpc.service` and in every span name. */
export const RPC_SERVICE = "stateward.v1.SessionState";

/** The six session operations (the rpc method names), used as `rpc.method`. */
export const OPERATION_METHODS = ["Get", "Lock", "Set", "Release", "Expire", "Remove"] as const;

/** One of {@link OPERATION_METHODS}. */
export type OperationMethod = (typeof OPERATION_METHODS)[number];

/** The span name of an operation: `stateward.v1.SessionState/<Method>` (OpenTelemetry's rpc convention). */
export function spanNameOf(method: string): string {
  return `${RPC_SERVICE}/${method}`;
}

/** How an operation reached the server. */
export type Transport = "unary" | "pipeline";

// ---- span and metric attributes: OpenTelemetry rpc semantic conventions ----------------------

/** `rpc.system`: always `grpc`. */
export const ATTR_RPC_SYSTEM = "rpc.system";
/** `rpc.service`: {@link RPC_SERVICE}. */
export const ATTR_RPC_SERVICE = "rpc.service";
/** `rpc.method`: one of {@link OPERATION_METHODS}. */
export const ATTR_RPC_METHOD = "rpc.method";
/** `rpc.grpc.status_code`: the numeric gRPC status the operation ended with (0 = OK). */
export const ATTR_RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code";

// ---- Stateward's own attributes ----------------------------------------------------------------

/**
 * `stateward.outcome`: what the operation did, from a small closed set: `ok`, `not_found`, `locked`
 * (Get, Lock); `written`, `not_written` (Set); `released`, `not_released` (Release); `found`,
 * `not_found` (Expire); `removed`, `not_found` (Remove); `error` (a non-OK status); `cancelled`
 * (the caller went away while waiting).
 */
export const ATTR_OUTCOME = "stateward.outcome";
/** `stateward.transport`: `unary` or `pipeline`. */
export const ATTR_TRANSPORT = "stateward.transport";
/** `stateward.reason`: the stable refusal reason of a failed operation (e.g. `LEASE_EXPIRED`). */
export const ATTR_REASON = "stateward.reason";
/** `stateward.lease_expired`: the caller's lock lease had run out (the LEASE_EXPIRED refusal). */
export const ATTR_LEASE_EXPIRED = "stateward.lease_expired";
/** `stateward.lock.wait_ms`: time the operation spent queued for a session's lock, in ms. */
export const ATTR_LOCK_WAIT_MS = "stateward.lock.wait_ms";
/** `stateward.payload.size`: bytes of session data written (Set) or returned (Get, Lock). */
export const ATTR_PAYLOAD_SIZE = "stateward.payload.size";
/** `stateward.app`: the application name (not a secret; spans only, never a metric label). */
export const ATTR_APP = "stateward.app";
/** `stateward.session.hash`: keyed hash of (app, session id), only with a configured key. */
export const ATTR_SESSION_HASH = "stateward.session.hash";
/** `stateward.event.kind` (metrics of Watch): `expired` or `removed`. */
export const ATTR_EVENT_KIND = "stateward.event.kind";

// ---- metric names ------------------------------------------------------------------------------

/** Histogram, seconds: duration of every operation, unary or pipelined (OpenTelemetry rpc convention). */
export const METRIC_CALL_DURATION = "rpc.server.call.duration";
/** Counter: operations by method, outcome, status code and transport. */
export const METRIC_OPERATIONS = "stateward.operations";
/** Histogram, seconds: time operations spent queued for a session lock (only those that queued). */
export const METRIC_LOCK_WAIT = "stateward.lock.wait.duration";
/** Counter (observed): locks granted. */
export const METRIC_LOCK_GRANTS = "stateward.lock.grants";
/** Counter (observed): locks the server released because their lease ran out (forced releases). */
export const METRIC_LEASE_EXPIRIES = "stateward.lock.lease_expiries";
/** Gauge: sessions whose lock is held. */
export const METRIC_LOCKS_HELD = "stateward.locks.held";
/** Gauge: calls waiting in session queues. */
export const METRIC_WAITERS = "stateward.waiters";
/** Counter: operations refused by a limit, by `stateward.reason` (TOO_MANY_WAITERS, MEMORY_BUDGET). */
export const METRIC_REJECTIONS = "stateward.rejections";
/** Gauge: resident sessions (including expired ones not yet swept). */
export const METRIC_SESSIONS = "stateward.sessions";
/** Counter (observed): sessions that expired; its rate is expirations per second. */
export const METRIC_EXPIRED = "stateward.sessions.expired";
/** Gauge, bytes: memory charged against the budget (data plus per-session overhead). */
export const METRIC_MEMORY_USED = "stateward.memory.used";
/** Gauge, bytes: the memory budget (`--max-memory`). */
export const METRIC_MEMORY_LIMIT = "stateward.memory.limit";
/** Gauge, ratio 0-1: used / limit. */
export const METRIC_MEMORY_UTILIZATION = "stateward.memory.utilization";
/** Gauge, bytes: payload slab pages allocated. */
export const METRIC_SLAB_BYTES = "stateward.memory.slab";
/** Histogram, seconds: real time taken by each active-expiry slice. */
export const METRIC_EXPIRY_SLICE = "stateward.expiry.slice.duration";
/** Gauge: connected Watch streams. */
export const METRIC_WATCHERS = "stateward.watchers";
/** Counter: session-end events sent to watchers, by `stateward.event.kind`. */
export const METRIC_WATCH_EVENTS = "stateward.watch.events";
/** Counter: watchers dropped for falling behind. */
export const METRIC_WATCH_DROPPED = "stateward.watch.dropped";
/** Gauges, seconds: event-loop delay percentiles over the last collection interval. */
export const METRIC_EVENT_LOOP_DELAY_PREFIX = "nodejs.eventloop.delay";
