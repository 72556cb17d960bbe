/**
 * The server's structured log: pino, JSON lines on stderr (stdout stays free for command output).
 *
 * Session ids and session data are bearer credentials and user data, and secrets (the hash key)
 * are secrets: no log line may contain them.
 * Callers never pass them; the redaction below is a second line of defence for fields with the
 * usual names, should a request object ever be logged by mistake.
 */
import pino from "pino";
import { SECRET_OPTIONS, type LogLevel } from "./config";

/** The logger type used throughout the server. */
export type Logger = pino.Logger;

/**
 * Field paths blanked in every log line (defence in depth; see the module comment): session ids
 * and data, and the secret options (config.ts marks them), should a configuration be logged.
 */
const REDACTED_PATHS = [
  "sessionId",
  "session_id",
  "data",
  "request",
  "*.sessionId",
  "*.session_id",
  "*.data",
  "*.request",
  // Credentials (bearer tokens), should call metadata or a header set ever be logged.
  "authorization",
  "token",
  "*.authorization",
  "*.token",
  ...SECRET_OPTIONS.flatMap((option) => [option.key, `*.${option.key}`]),
];

/**
 * Creates the server logger.
 *
 * @param level - minimum level to write.
 * @param destination - where to write; defaults to stderr (fd 2), written synchronously because the
 * server logs rarely (startup, shutdown, internal errors) and a line must not be lost on exit.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: "stateward",
      level,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
}
