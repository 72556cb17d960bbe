/**
 * The closed set of store failure kinds. The gRPC layer maps each to one status code, in one place
 * (`grpc/status-mapping.ts`); anything else a backend rejects with is an internal error.
 */
export type StoreErrorKind =
  /** A request field breaks a rule (length, charset, range, size). Nothing changed. */
  | "invalid-argument"
  /** A write or remove conflicts with the session's lock or version. Nothing changed. */
  | "conflict"
  /** A limit was reached: the memory budget, the per-session waiter queue or the app limit. Nothing changed. */
  | "resource-exhausted"
  /** A lock could no longer reach its caller before the caller's deadline. Nothing changed. */
  | "deadline-exceeded"
  /** The store is shutting down, its backend (Redis) cannot be reached, or its log cannot be written. */
  | "unavailable";

/**
 * The reasons the store refuses with: a subset of the contract's `stateward.v1.ErrorReason`
 * (proto/stateward/v1/errors.proto; status-mapping.ts checks at compile time that each is one).
 * Sent to clients as the `google.rpc.ErrorInfo` reason, so SDKs can branch without parsing messages.
 */
export type StoreErrorReason =
  | "INVALID_FIELD"
  | "ITEM_TOO_LARGE"
  | "LOCKED_BY_OTHER"
  | "STALE_LOCK_ID"
  | "LEASE_EXPIRED"
  | "SESSION_GONE"
  | "VERSION_MISMATCH"
  | "MEMORY_BUDGET"
  | "TOO_MANY_WAITERS"
  | "TOO_MANY_APPS"
  | "DEADLINE_TOO_CLOSE"
  | "SHUTTING_DOWN"
  | "BACKEND_UNAVAILABLE"
  | "PERSISTENCE_FAILED";

/** No metadata (shared, frozen). */
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** A refusal by the store: the request changed nothing. Messages never contain session ids or data. */
export class StoreError extends Error {
  override readonly name = "StoreError";

  constructor(
    /** What kind of failure this is (decides the gRPC status code). */
    readonly kind: StoreErrorKind,
    /** Stable reason code. */
    readonly reason: StoreErrorReason,
    message: string,
    /**
     * Facts for programs, sent as `google.rpc.ErrorInfo.metadata`: the field (`field`), the limit
     * (`limit`) and the like, as strings. Never a session id or data.
     */
    readonly metadata: Readonly<Record<string, string>> = NO_METADATA,
  ) {
    super(message);
  }
}
