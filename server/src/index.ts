/**
 * Public API of the Stateward server package: start a server in-process (tests, embedding), resolve
 * its configuration, or use the session store directly over a backend.
 */
export {
  startServer,
  createBackend,
  type BackendContext,
  type StartedServer,
  type ServerDependencies,
  type ServerTelemetry,
} from "./stateward-server";
export {
  resolveConfig,
  ConfigError,
  OPTION_DOCS,
  OPTION_SECTIONS,
  LOG_LEVELS,
  BACKENDS,
  type ServerConfig,
  type OptionDoc,
  type OptionSection,
  type LogLevel,
  type BackendName,
} from "./config";
export { createLogger, type Logger } from "./logger";
export { PortInUseError } from "./port-in-use";
export { SessionStore, type StoreCompletion } from "./store/session-store";
export { NO_DEADLINE, type CallDeadline } from "./store/call-deadline";
export type * from "./store/session-backend";
export { DEFAULT_SESSION_LIMITS, type SessionLimits } from "./store/session-limits";
export { MemoryBackend } from "./store/memory/memory-backend";
export { DEFAULT_MEMORY_OPTIONS, type MemoryOptions } from "./store/memory/memory-options";
export { StoreError, type StoreErrorKind, type StoreErrorReason } from "./store/store-error";
export { FakeClock } from "./store/fake-clock";
export { systemClock, type Clock, type TimerHandle } from "./store/clock";
export type * from "./store/operations";
export { RELEASED, NOT_RELEASED, REMOVED, NOT_REMOVED } from "./store/operations";
