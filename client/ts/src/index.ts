/**
 * Generated, typed gRPC stubs for the Stateward `stateward.v1.SessionState` service.
 *
 * `SessionStateClient` is the grpc-js client class; `SessionStateService` the service definition
 * (used by the server too, so both sides share one codec).
 */
export * from "./gen/stateward/v1/session_state";
export * from "./pipeline-client";
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
