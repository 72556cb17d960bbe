/**
 * The TypeScript SDK of the Stateward session-state service.
 *
 * It re-exports the wire contract, `@stateward/protocol`: the generated `stateward.v1` messages and
 * enums (`Outcome`, `ErrorReason`, `SessionEventKind`, ...), the grpc-js client class
 * `SessionStateClient` and service definition `SessionStateService`, the contract's constants
 * (`KEY_LIMITS`, the trailer names) and its `google.rpc.Status` codec, so that code using the raw
 * stubs needs no second package. The server builds on the same generated messages, but encodes its
 * data-carrying responses with its own exact-size encoders: the two sides share the wire format,
 * not one codec.
 */
export * from "@stateward/protocol";
export * from "./pipeline-client";
export { channelCredentials, type ChannelCredentialsOptions, type TlsOptions, type TokenOptions } from "./channel-credentials";
export * from "./errors";
export type {
  ExpireResult,
  GetOkResult,
  GetResult,
  LockedResult,
  LockOkResult,
  LockResult,
  NotFoundResult,
  ReleaseResult,
  RemoveResult,
  SetResult,
} from "./results";
export * from "./partitioning";
export * from "./session-client";
export * from "./with-lock";
export * from "./request-lifecycle";
export * from "./telemetry";
export * from "./watch";
