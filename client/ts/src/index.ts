/**
 * Generated, typed gRPC stubs for the Stateward `stateward.v1.SessionState` service.
 *
 * `SessionStateClient` is the grpc-js client class; `SessionStateService` the service definition
 * (used by the server too, so both sides share one codec).
 */
export * from "./gen/stateward/v1/session_state";
export * from "./pipeline-client";
