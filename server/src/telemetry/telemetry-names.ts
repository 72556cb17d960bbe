/**
 * Names of the spans, attributes and metrics Stateward emits: one place, because they are a
 * contract (dashboards, alerts and the README's metric list depend on them).
 *
 * Nothing here may ever carry a session id or session data: spans and metric labels are read by
 * people and systems that must not learn bearer credentials. Correlation goes through
 * {@link ATTR_SESSION_HASH}, a keyed hash that is off unless a key is configured.
 */

/**
 * The version of the OpenTelemetry semantic conventions Stateward's spans and metrics follow, for
 * the RPC conventions (`rpc.system.name`, fully-qualified `rpc.method`, `rpc.status_code`,
 * `error.type`, `rpc.server.call.duration` in seconds): the names of
 * `@opentelemetry/semantic-conventions` 1.45.0. The README says the same.
 */
export const SEMCONV_VERSION = "1.45.0";

/** The gRPC service name: the first part of every `rpc.method` and span name. */
export const RPC_SERVICE = "stateward.v1.SessionState";

/** The six session operations (the rpc method names). */
export const OPERATION_METHODS = ["Get", "Lock", "Set", "Release", "Expire", "Remove"] as const;

/** One of {@link OPERATION_METHODS}. */
export type OperationMethod = (typeof OPERATION_METHODS)[number];

/**
 * The fully-qualified method, `stateward.v1.SessionState/<Method>`: the `rpc.method` attribute and
 * the span name (OpenTelemetry's rpc conventions).
 */
export function rpcMethodOf(method: string): string {
  return `${RPC_SERVICE}/${method}`;
}

/** The span name of an operation: its {@link rpcMethodOf fully-qualified method}. */
export function spanNameOf(method: string): string {
  return rpcMethodOf(method);
}

/** How an operation reached the server. */
export type Transport = "unary" | "pipeline";

/** The transports, for the series created before the first operation. */
export const TRANSPORTS: readonly Transport[] = Object.freeze(["unary", "pipeline"]);

/**
 * The `stateward.outcome` values of an operation that ended with status OK, per method. The
 * per-call series of these exist from the start (at zero), so that `rate()` and `increase()` see
 * the first operation and alerts never find them absent.
 */
export const OK_OUTCOMES: Readonly<Record<OperationMethod, readonly string[]>> = Object.freeze({
  Get: ["ok", "not_found", "locked"],
  Lock: ["ok", "not_found", "locked"],
  Set: ["written", "not_written"],
  Release: ["released", "not_released"],
  Expire: ["found", "not_found"],
  Remove: ["removed", "not_found"],
});

// ---- span and metric attributes: OpenTelemetry rpc semantic conventions (SEMCONV_VERSION) ------

/** `rpc.system.name`: always {@link RPC_SYSTEM_GRPC}. */
export const ATTR_RPC_SYSTEM_NAME = "rpc.system.name";
/** The `rpc.system.name` of gRPC. */
export const RPC_SYSTEM_GRPC = "grpc";
/** `rpc.method`: the fully-qualified method, `stateward.v1.SessionState/Get` ({@link rpcMethodOf}). */
export const ATTR_RPC_METHOD = "rpc.method";
/** `rpc.status_code`: the gRPC status the operation ended with, by name (`OK`, `NOT_FOUND`, ...). */
export const ATTR_RPC_STATUS_CODE = "rpc.status_code";
/**
 * `error.type`: set only when the operation failed in the server's view, to the status name; for
 * a gRPC server those are UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
 * DATA_LOSS (a refusal such as NOT_FOUND or ABORTED is the caller's outcome, not a server error).
 */
export const ATTR_ERROR_TYPE = "error.type";

/** The gRPC status codes (0-16) by name, as `rpc.status_code` and `error.type` carry them. */
export const GRPC_STATUS_NAMES: readonly string[] = Object.freeze([
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
]);

/** The name of a gRPC status code; a code outside 0-16 keeps its number (as the conventions say). */
export function statusNameOf(code: number): string {
  return GRPC_STATUS_NAMES[code] ?? String(code);
}

/** gRPC codes that are the server's fault (the rpc conventions' list for gRPC servers). */
const SERVER_ERROR_CODES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** True when `code` is a server error: the span status is ERROR and `error.type` is set. */
export function isServerError(code: number): boolean {
  return SERVER_ERROR_CODES.has(code);
}

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
/**
 * `stateward.app`: the application name (not a secret; spans only, never a metric label). A name
 * that fails validation (bytes outside visible ASCII, too long) is recorded as
 * {@link INVALID_APP}, never as sent: it is attacker-chosen text of any length.
 */
export const ATTR_APP = "stateward.app";
/** The `stateward.app` of a request whose app name is not valid. */
export const INVALID_APP = "(invalid)";
/** `stateward.session.hash`: keyed hash of (app, session id), only with a configured key. */
export const ATTR_SESSION_HASH = "stateward.session.hash";
/** `stateward.event.kind` (metrics of Watch): `expired` or `removed`. */
export const ATTR_EVENT_KIND = "stateward.event.kind";

// ---- metric names ------------------------------------------------------------------------------
//
// OpenTelemetry names with UCUM units. The Prometheus endpoint derives each Prometheus name the way
// OpenTelemetry's Prometheus compatibility rules do (dots to underscores, the unit as a suffix:
// `s` → `_seconds`, `By` → `_bytes`, `1` on a gauge → `_ratio`; `_total` on counters), so
// `rpc.server.call.duration` is scraped as `rpc_server_call_duration_seconds`: the same name an
// OpenTelemetry Collector gives the pushed metric. See prometheus-naming.ts.

/** Histogram, s: duration of every operation, unary or pipelined (OpenTelemetry rpc convention). */
export const METRIC_CALL_DURATION = "rpc.server.call.duration";
/** Histogram, s: time operations spent queued for a session lock (only those that queued). */
export const METRIC_LOCK_WAIT = "stateward.lock.wait.duration";
/** Counter (observed): locks granted. */
export const METRIC_LOCK_GRANTS = "stateward.lock.grants";
/** Counter (observed): locks the server released because their lease ran out (forced releases). */
export const METRIC_LEASE_EXPIRIES = "stateward.lock.lease_expiries";
/** Gauge: sessions whose lock is held. */
export const METRIC_LOCKS_HELD = "stateward.locks.held";
/** Gauge: calls waiting in session queues. */
export const METRIC_WAITERS = "stateward.waiters";
/** Counter: operations refused by a limit, by `stateward.reason` ({@link REJECTION_REASONS}). */
export const METRIC_REJECTIONS = "stateward.rejections";
/**
 * The refusal reasons {@link METRIC_REJECTIONS} counts: the limits (`--max-waiters`, `--max-memory`,
 * `--max-apps`, `--max-pipeline-in-flight`, `--max-item-bytes`). Conflicts (a lock held by
 * another, a stale lock id, an expired lease) are outcomes and status codes of the call, not
 * rejections by a limit.
 */
export const REJECTION_REASONS: readonly string[] = Object.freeze([
  "TOO_MANY_WAITERS",
  "MEMORY_BUDGET",
  "TOO_MANY_APPS",
  "TOO_MANY_IN_FLIGHT",
  "ITEM_TOO_LARGE",
]);
/** Gauge: resident sessions (including expired ones not yet swept). */
export const METRIC_SESSIONS = "stateward.sessions";
/** Counter (observed): sessions that expired; its rate is expirations per second. */
export const METRIC_EXPIRED = "stateward.sessions.expired";
/** Gauge, By: memory charged against the budget (data plus per-session overhead). */
export const METRIC_MEMORY_USED = "stateward.memory.used";
/** Gauge, By: the memory budget (`--max-memory`). */
export const METRIC_MEMORY_LIMIT = "stateward.memory.limit";
/** Gauge, 1 (a ratio from 0 to 1): used / limit. */
export const METRIC_MEMORY_UTILIZATION = "stateward.memory.utilization";
/** Gauge, By: payload slab pages allocated. */
export const METRIC_SLAB_BYTES = "stateward.memory.slab";
/** Histogram, s: real time taken by each active-expiry slice. */
export const METRIC_EXPIRY_SLICE = "stateward.expiry.slice.duration";
/** Histogram (s): fdatasync calls on the append-only log (`--data-dir`). */
export const METRIC_FSYNC = "stateward.persistence.fsync.duration";
/** Histogram (s): background snapshots, start to the old log's deletion. */
export const METRIC_SNAPSHOT = "stateward.persistence.snapshot.duration";
/** Gauge (By): the log files since the last snapshot. */
export const METRIC_LOG_BYTES = "stateward.persistence.log.size";
/** Gauge (s): Unix time the last snapshot finished (0: none since start). */
export const METRIC_LAST_SNAPSHOT = "stateward.persistence.snapshot.last_success";
/** Gauge (s): how long the replay at start took. */
export const METRIC_REPLAY = "stateward.persistence.replay.duration";
/** Gauge: 1 while changes can be written to the log, 0 while writes fail with PERSISTENCE_FAILED. */
export const METRIC_LOG_WRITABLE = "stateward.persistence.writable";
/** Gauge: connected Watch streams. */
export const METRIC_WATCHERS = "stateward.watchers";
/** Counter: session-end events sent to watchers, by `stateward.event.kind`. */
export const METRIC_WATCH_EVENTS = "stateward.watch.events";
/** The `stateward.event.kind` values of {@link METRIC_WATCH_EVENTS}. */
export const WATCH_EVENT_KINDS: readonly string[] = Object.freeze(["expired", "removed"]);
/** Counter: watchers dropped for falling behind. */
export const METRIC_WATCH_DROPPED = "stateward.watch.dropped";
/**
 * Counter: calls and scrapes refused for their credential (UNAUTHENTICATED) or their access
 * (PERMISSION_DENIED), by `stateward.reason` (security/access-policy.ts AUTH_FAILURE_REASONS).
 */
export const METRIC_AUTH_FAILURES = "stateward.auth.failures";

// ---- process and Node.js runtime metrics --------------------------------------------------------
//
// Named so that their Prometheus names are the ones every Prometheus user knows: those of the
// Prometheus client libraries' process collector (`process_cpu_seconds_total`, ...) and of
// prom-client's Node.js collectors (`nodejs_heap_size_used_bytes`, `nodejs_gc_duration_seconds`,
// `nodejs_eventloop_lag_p99_seconds`, ...), so existing Node.js dashboards work unchanged.

/** Counter, s: user plus system CPU time of the process. */
export const METRIC_PROCESS_CPU = "process.cpu";
/** Gauge, By: resident set size. */
export const METRIC_PROCESS_RESIDENT_MEMORY = "process.resident_memory";
/** Gauge, By: virtual memory size (Linux). */
export const METRIC_PROCESS_VIRTUAL_MEMORY = "process.virtual_memory";
/** Gauge, s: start time of the process since the Unix epoch. */
export const METRIC_PROCESS_START_TIME = "process.start_time";
/** Gauge: open file descriptors (Linux). */
export const METRIC_PROCESS_OPEN_FDS = "process.open_fds";
/** Gauge: the limit of open file descriptors, the soft RLIMIT_NOFILE (Linux). */
export const METRIC_PROCESS_MAX_FDS = "process.max_fds";
/** Gauge, By: V8 heap size. */
export const METRIC_HEAP_TOTAL = "nodejs.heap_size_total";
/** Gauge, By: V8 heap in use. */
export const METRIC_HEAP_USED = "nodejs.heap_size_used";
/** Gauge, By: memory of C++ objects bound to JavaScript objects (buffers, typed arrays). */
export const METRIC_EXTERNAL_MEMORY = "nodejs.external_memory";
/** Gauges, By: per V8 heap space (`space`): size, used and available. */
export const METRIC_HEAP_SPACE_PREFIX = "nodejs.heap_space_size";
/** Attribute of the heap-space gauges: the space (`new`, `old`, `code`, `large_object`, ...). */
export const ATTR_HEAP_SPACE = "space";
/** Histogram, s: garbage-collection pauses by `kind` ({@link GC_KINDS}). */
export const METRIC_GC_DURATION = "nodejs.gc.duration";
/** Attribute of {@link METRIC_GC_DURATION}. */
export const ATTR_GC_KIND = "kind";
/** The `kind` values of {@link METRIC_GC_DURATION}. */
export const GC_KINDS: readonly string[] = Object.freeze(["minor", "major", "incremental", "weakcb"]);
/** Gauges, s: event-loop lag statistics over the last collection interval (p50, p90, p99, ...). */
export const METRIC_EVENT_LOOP_LAG_PREFIX = "nodejs.eventloop.lag";
/** Gauge, s: event-loop lag measured at collection (the time a setImmediate callback waited). */
export const METRIC_EVENT_LOOP_LAG = "nodejs.eventloop.lag";
/** Gauge (value 1): the Node.js version, in the labels `version`, `major`, `minor`, `patch`. */
export const METRIC_NODEJS_VERSION = "nodejs.version_info";
