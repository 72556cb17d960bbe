/**
 * The closed set of store failure kinds. The gRPC layer maps each to one status code, in one place
 * (`grpc/status-mapping.ts`); anything thrown that is not a {@link StoreError} is an internal error.
 */
export type StoreErrorKind =
  /** A request field breaks a rule (length, charset, range, size). Nothing changed. */
  | "invalid-argument"
  /** A write or remove conflicts with the session's lock or version. Nothing changed. */
  | "conflict"
  /** A limit was reached: the memory budget, the per-session waiter queue or the app limit. Nothing changed. */
  | "resource-exhausted"
  /** The store is shutting down. */
  | "unavailable";

/**
 * Stable machine-readable reasons, one per rule that can refuse a request (sent to clients in the
 * `stateward-reason` trailer so SDKs can branch without parsing messages).
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
  | "SHUTTING_DOWN";

/** A refusal by the store: the request changed nothing. Messages never contain session ids or data. */
export class StoreError extends Error {
  override readonly name = "StoreError";

  constructor(
    /** What kind of failure this is (decides the gRPC status code). */
    readonly kind: StoreErrorKind,
    /** Stable reason code. */
    readonly reason: StoreErrorReason,
    message: string,
  ) {
    super(message);
  }
}
