/**
 * The constants of the Stateward contract that every side needs: the SDK, the server, the tools.
 *
 * This module imports nothing (no grpc-js, no generated code) and is published on its own as
 * `@stateward/protocol/contract`, so that code which must stay free of the transport, such as the
 * server's store, can share the contract's numbers without loading gRPC.
 */

/**
 * Size limits of a session's key, in bytes of visible ASCII (0x21-0x7E), as documented on every
 * request in proto/stateward/v1/session_state.proto: an app name of 0 to `maxAppBytes`, a session
 * id of 1 to `maxSessionIdBytes`.
 */
export const KEY_LIMITS = Object.freeze({
  /** Longest app name. */
  maxAppBytes: 128,
  /** Longest session id. */
  maxSessionIdBytes: 256,
} as const);

/** The `google.rpc.ErrorInfo.domain` of every Stateward refusal (the proto package). */
export const ERROR_DOMAIN = "stateward.v1";

/**
 * The standard gRPC trailer that carries a serialized `google.rpc.Status` (whose details hold the
 * `google.rpc.ErrorInfo` with the reason and its metadata).
 */
export const STATUS_DETAILS_TRAILER = "grpc-status-details-bin";

/**
 * The trailer in which servers also send the bare reason of a refusal, for clients that predate
 * the ErrorInfo; clients read it only when {@link STATUS_DETAILS_TRAILER} is absent.
 */
export const LEGACY_REASON_TRAILER = "stateward-reason";

/**
 * The longest event-loop polling window either end of a Pipeline stream accepts, in microseconds
 * (10 ms): the server's `--pipeline-poll-us` and the SDK's `pollMicros` (see event-loop-poller.ts).
 */
export const MAX_POLL_WINDOW_US = 10_000;
