/**
 * Public API of the Stateward server package: start a server in-process (tests, embedding), resolve
 * its configuration, or use the session store directly.
 */
export { startServer, type StartedServer, type ServerDependencies, type ServerTelemetry } from "./stateward-server";
export {
  resolveConfig,
  ConfigError,
  OPTION_DOCS,
  LOG_LEVELS,
  type ServerConfig,
  type OptionDoc,
  type LogLevel,
} from "./config";
export { createLogger, type Logger } from "./logger";
export { SessionStore } from "./store/session-store";
export { DEFAULT_STORE_OPTIONS, KEY_LIMITS, type StoreOptions } from "./store/store-options";
export { StoreError, type StoreErrorKind, type StoreErrorReason } from "./store/store-error";
export { FakeClock } from "./store/fake-clock";
export { systemClock, type Clock, type TimerHandle } from "./store/clock";
export type * from "./store/operations";
