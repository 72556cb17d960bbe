/**
 * The one error class of the high-level SDK. Unary calls fail with grpc-js `ServiceError`s (the
 * reason in the `stateward-reason` trailer), pipeline operations with `PipelineOperationError`s (the
 * reason in a field); both, and the SDK's own refusals, reach the caller as a {@link StatewardError}
 * so that code can branch on `code` and `reason` without knowing which transport carried the call.
 */
import { Metadata, status } from "@grpc/grpc-js";
import { REASON_KEY } from "./pipeline-client";

/**
 * Stable reasons the server sends with a refusal (the `stateward-reason` trailer). Each names the
 * rule that refused the request; the request changed nothing.
 */
export type ServerReason =
  /** A request field breaks a rule (length, charset, range). INVALID_ARGUMENT. */
  | "INVALID_FIELD"
  /** The data is larger than the server's `--max-item-bytes`. INVALID_ARGUMENT. */
  | "ITEM_TOO_LARGE"
  /** A write or remove without the lock on a session someone else has locked. ABORTED. */
  | "LOCKED_BY_OTHER"
  /** The lock id is not (or no longer) the holder's. ABORTED. */
  | "STALE_LOCK_ID"
  /** The lock's lease ended before the write: the server released it. ABORTED. */
  | "LEASE_EXPIRED"
  /** The session expired or was removed while the lock id was held. ABORTED. */
  | "SESSION_GONE"
  /** `expectedVersion` differs from the session's version. ABORTED. */
  | "VERSION_MISMATCH"
  /** The server's memory budget is full. RESOURCE_EXHAUSTED. */
  | "MEMORY_BUDGET"
  /** The session already has the most waiters the server allows. RESOURCE_EXHAUSTED. */
  | "TOO_MANY_WAITERS"
  /** The server's limit of apps with sessions (`--max-apps`) is reached. RESOURCE_EXHAUSTED. */
  | "TOO_MANY_APPS"
  /** A pipeline message had more operations than the server allows. RESOURCE_EXHAUSTED. */
  | "BATCH_TOO_LARGE"
  /** A pipeline stream had as many waiting operations as the server allows. RESOURCE_EXHAUSTED. */
  | "TOO_MANY_IN_FLIGHT"
  /** The server is shutting down. UNAVAILABLE. */
  | "SHUTTING_DOWN";

/** Reasons the SDK itself gives, for refusals that happen on the client. */
export type ClientReason =
  /** The Express store's request found its session still locked by another when the wait ran out. */
  | "LOCK_TIMEOUT"
  /** A read-only request tried to change its session (Express middleware, endRequest). */
  | "READ_ONLY_REQUEST"
  /** endRequest would create a session that another request created meanwhile. */
  | "SESSION_EXISTS"
  /** An Express writer request's lock was released (its client went away) before it saved: nothing written. */
  | "LOCK_RELEASED"
  /** An Express writer request's client went away while it waited for its session's lock. */
  | "REQUEST_GONE"
  /** The endpoint list is empty (partitioning; the spelling of proto/PARTITIONING.md). */
  | "no-endpoints"
  /** An endpoint has neither an address nor a node id (partitioning). */
  | "empty-identity"
  /** Two endpoints have the same identity (partitioning). */
  | "duplicate-identity"
  /** Two endpoint identities hash to the same seed: give one a node id (partitioning). */
  | "seed-collision"
  /** The client was closed. */
  | "CLIENT_CLOSED";

/** The name of a gRPC status code, used as the reason when the server gave none. */
export type StatusName = keyof typeof status;

/**
 * A stable, machine-readable reason: the server's, the SDK's, or the gRPC status name when neither
 * gave one (a transport failure is `"UNAVAILABLE"`, a missed deadline `"DEADLINE_EXCEEDED"`). A
 * reason added by a newer server is passed through unchanged, hence the open `string` end.
 */
export type StatewardReason = ServerReason | ClientReason | StatusName | (string & {});

/** Which SDK operation failed. */
export type StatewardOperation =
  | "get"
  | "lock"
  | "set"
  | "release"
  | "expire"
  | "remove"
  | "withLock"
  | "beginRequest"
  | "endRequest"
  | "connect"
  | "store";

/** Marks StatewardErrors across copies of this package (an app may load two versions). */
const BRAND = Symbol.for("@stateward/client/StatewardError");

/**
 * The error every {@link SessionClient} call fails with. The message never contains a session id
 * or data (they are credentials and user data), only the operation, the status and the reason.
 */
export class StatewardError extends Error {
  override readonly name = "StatewardError";
  /** The gRPC status code (`status.ABORTED`, `status.UNAVAILABLE`, ...). */
  readonly code: status;
  /** A stable reason to branch on; see {@link StatewardReason}. */
  readonly reason: StatewardReason;
  /** The server's (or the SDK's) status message, for humans. */
  readonly details: string;
  /** The operation that failed. */
  readonly operation: StatewardOperation;
  /** The response trailers of a failed unary call (empty otherwise). */
  readonly metadata: Metadata;

  /**
   * @param code - the gRPC status code.
   * @param reason - the stable reason ("" or absent: the status name).
   * @param details - the status message.
   * @param operation - the operation that failed.
   * @param options - the underlying error (`cause`) and trailers.
   */
  constructor(
    code: status,
    reason: StatewardReason | undefined,
    details: string,
    operation: StatewardOperation,
    options: { cause?: unknown; metadata?: Metadata } = {},
  ) {
    const name = status[code] ?? "UNKNOWN";
    const why = reason === undefined || reason === "" ? name : reason;
    super(`${operation} failed: ${name} (${why}): ${details}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = why;
    this.details = details;
    this.operation = operation;
    this.metadata = options.metadata ?? new Metadata();
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for a StatewardError from any copy of this package (safer than `instanceof`). */
  static is(error: unknown): error is StatewardError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Shape shared by grpc-js `ServiceError` and `PipelineOperationError`. */
interface StatusLike {
  readonly code: number;
  readonly details?: string;
  readonly message: string;
  readonly metadata?: Metadata;
  readonly reason?: string;
}

function isStatusLike(error: unknown): error is StatusLike {
  return error instanceof Error && typeof (error as Partial<StatusLike>).code === "number";
}

/** The `stateward-reason` of a grpc-js error's trailers or a pipeline error's field. */
function reasonOf(error: StatusLike): string {
  if (typeof error.reason === "string" && error.reason !== "") return error.reason;
  const value = error.metadata?.get(REASON_KEY)[0];
  return value === undefined ? "" : String(value);
}

/**
 * Converts whatever a transport threw into a {@link StatewardError}. Errors that are not gRPC
 * statuses (a bug, a throwing callback) become INTERNAL with the original as `cause`.
 */
export function toStatewardError(error: unknown, operation: StatewardOperation): StatewardError {
  if (StatewardError.is(error)) return error;
  if (isStatusLike(error)) {
    const code = (status[error.code] === undefined ? status.UNKNOWN : error.code) as status;
    return new StatewardError(code, reasonOf(error), error.details ?? error.message, operation, {
      cause: error,
      metadata: error.metadata ?? new Metadata(),
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StatewardError(status.INTERNAL, undefined, message, operation, { cause: error });
}

/** grpc-js's status codes, re-exported so that `error.code` can be compared without another import. */
export { status } from "@grpc/grpc-js";
