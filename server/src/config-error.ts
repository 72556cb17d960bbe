/** A configuration value is missing, malformed or out of range; the message says which and why. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}
