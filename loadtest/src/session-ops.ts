/**
 * The seam between scenarios and transports: the few session operations a scenario issues,
 * implemented by the unary gRPC transport, the pipelined transport and the Redis baseline (see
 * transport-factory.ts); no scenario knows which it runs over.
 */

/** Outcome of Get or Lock, as the contract names it (without the OUTCOME_ prefix). */
export type SessionOutcome = "OK" | "NOT_FOUND" | "LOCKED";

/** Opaque lock token: Stateward's uint64 lock id, or the Redis baseline's lock value. */
export type LockToken = bigint | string;

/** Options of {@link SessionOps.lock}. */
export interface LockOptions {
  /** Wait in the session's queue up to this long for the lock, ms (0: answer LOCKED at once). */
  readonly waitMs: number;
  /** Lease of the lock, ms (0: the server default). */
  readonly leaseMs: number;
  /** Create a missing session, locked. */
  readonly create: boolean;
}

/** Result of {@link SessionOps.lock}. */
export interface LockResult {
  readonly outcome: SessionOutcome;
  /** With OK: the token to write and release with. */
  readonly token: LockToken;
}

/** Session operations over one channel (connection) of one transport. */
export interface SessionOps {
  /** Reader request: data without taking the lock (ASP.NET GetItem). */
  get(sessionId: string): Promise<SessionOutcome>;
  /** Writer request: take the lock and read (GetItemExclusive). */
  lock(sessionId: string, options: LockOptions): Promise<LockResult>;
  /**
   * Write `data`; with a token also release the lock (SetAndReleaseItemExclusive); without one an
   * unlocked write (used to preload). Rejects when the write is refused.
   */
  set(sessionId: string, data: Buffer, token?: LockToken): Promise<void>;
  /** Closes the channel. */
  close(): void;
}
