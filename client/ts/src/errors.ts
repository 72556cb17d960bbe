/**
 * The one error class of the high-level SDK. Unary calls fail with grpc-js `ServiceError`s (the
 * reason in a `google.rpc.ErrorInfo` in the `grpc-status-details-bin` trailer, or, from servers
 * that predate it, in the `stateward-reason` trailer), pipeline operations with
 * `PipelineOperationError`s (the reason and its metadata in fields); both, and the SDK's own
 * refusals, reach the caller as a {@link StatewardError} so that code can branch on `code` and
 * `reason` without knowing which transport carried the call.
 */
import { Metadata, status } from "@grpc/grpc-js";
import type { ErrorReasonName } from "@stateward/protocol";
import { reasonFromTrailers, type TrailerReason } from "./status-trailers";

/**
 * Stable reasons the server sends with a refusal: the names of the contract's `ErrorReason` enum
 * (proto/stateward/v1/errors.proto, exported as `ErrorReason`, whose values document each
 * reason's status code and metadata keys). Each names the rule that refused the request; the
 * request changed nothing.
 */
export type ServerReason = ErrorReasonName;

/**
 * Reasons the SDK itself gives, for refusals that happen on the client: the same names, for the same
 * events, as the Python and Go clients' (docs/client-behaviour.md, proto/client-behaviour.json).
 * Compare `error.reason` with these (`ClientReason.LOCK_WAIT_TIMEOUT`), as with `ErrorReason` for
 * the server's.
 */
export const ClientReason = Object.freeze({
  /**
   * ABORTED: the session was still locked by another holder when the lock wait ran out (the
   * Express store; `withLock` and `beginRequest` answer the outcome `locked` instead). Was
   * `LOCK_TIMEOUT` before the client behaviour spec.
   */
  LOCK_WAIT_TIMEOUT: "LOCK_WAIT_TIMEOUT",
  /** INTERNAL: the server answered an outcome this SDK does not know (nothing is assumed from it). */
  UNKNOWN_OUTCOME: "UNKNOWN_OUTCOME",
  /** CANCELLED: the client was closed. */
  CLIENT_CLOSED: "CLIENT_CLOSED",
  /** FAILED_PRECONDITION: a read-only request tried to change its session (Express middleware, endRequest). */
  READ_ONLY_REQUEST: "READ_ONLY_REQUEST",
  /** ABORTED: endRequest would create a session that another request created meanwhile. */
  SESSION_EXISTS: "SESSION_EXISTS",
  /** ABORTED: an Express writer request's lock was released (its client went away) before it saved: nothing written. */
  LOCK_RELEASED: "LOCK_RELEASED",
  /** CANCELLED: an Express writer request's client went away while it waited for its session's lock. */
  REQUEST_GONE: "REQUEST_GONE",
} as const);

/** The partitioning reasons (the spelling of proto/PARTITIONING.md), with INVALID_ARGUMENT. */
export type PartitionReason =
  /** The endpoint list is empty. */
  | "no-endpoints"
  /** An endpoint has neither an address nor a node id. */
  | "empty-identity"
  /** Two endpoints have the same identity. */
  | "duplicate-identity"
  /** Two endpoint identities hash to the same seed: give one a node id. */
  | "seed-collision";

/** Reasons the SDK itself gives: a {@link ClientReason} value or a {@link PartitionReason}. */
export type ClientReason = (typeof ClientReason)[keyof typeof ClientReason] | PartitionReason;

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

/** No metadata: shared, and frozen so that no error can change another's. */
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

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
  /**
   * Facts that go with the server's reason (its `google.rpc.ErrorInfo` metadata, or a pipeline
   * `OperationError`'s): for example `field` and `limit` for `INVALID_FIELD`, `limit` and `size`
   * for `ITEM_TOO_LARGE` (the keys of each reason are listed on `ErrorReason`). Empty when
   * none were sent, and for servers that predate the ErrorInfo.
   */
  readonly metadata: Readonly<Record<string, string>>;
  /** The response trailers of a failed unary call (empty otherwise). */
  readonly trailers: Metadata;

  /**
   * @param code - the gRPC status code.
   * @param reason - the stable reason ("" or absent: the status name).
   * @param details - the status message.
   * @param operation - the operation that failed.
   * @param options - the underlying error (`cause`), the reason's metadata and the trailers.
   */
  constructor(
    code: status,
    reason: StatewardReason | undefined,
    details: string,
    operation: StatewardOperation,
    options: { cause?: unknown; metadata?: Readonly<Record<string, string>>; trailers?: Metadata } = {},
  ) {
    const name = status[code] ?? "UNKNOWN";
    const why = reason === undefined || reason === "" ? name : reason;
    super(`${operation} failed: ${name} (${why}): ${details}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = why;
    this.details = details;
    this.operation = operation;
    this.metadata = options.metadata === undefined ? NO_METADATA : Object.freeze({ ...options.metadata });
    this.trailers = options.trailers ?? new Metadata();
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
  /** A pipeline error's reason. */
  readonly reason?: string;
  /** A pipeline error's reason metadata. */
  readonly reasonMetadata?: Readonly<Record<string, string>>;
}

function isStatusLike(error: unknown): error is StatusLike {
  return error instanceof Error && typeof (error as Partial<StatusLike>).code === "number";
}

/**
 * The reason of a pipeline error's fields, or of a unary error's trailers (see
 * {@link reasonFromTrailers}).
 */
function reasonOf(error: StatusLike): TrailerReason {
  if (typeof error.reason === "string" && error.reason !== "") {
    return { reason: error.reason, metadata: error.reasonMetadata ?? NO_METADATA };
  }
  return reasonFromTrailers(error.metadata);
}

/**
 * Converts whatever a transport threw into a {@link StatewardError}. Errors that are not gRPC
 * statuses (a bug, a throwing callback) become INTERNAL with the original as `cause`.
 */
export function toStatewardError(error: unknown, operation: StatewardOperation): StatewardError {
  if (StatewardError.is(error)) return error;
  if (isStatusLike(error)) {
    const code = (status[error.code] === undefined ? status.UNKNOWN : error.code) as status;
    const { reason, metadata } = reasonOf(error);
    return new StatewardError(code, reason, error.details ?? error.message, operation, {
      cause: error,
      metadata,
      trailers: error.metadata ?? new Metadata(),
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StatewardError(status.INTERNAL, undefined, message, operation, { cause: error });
}

/** grpc-js's status codes, re-exported so that `error.code` can be compared without another import. */
export { status } from "@grpc/grpc-js";
