/**
 * A secret in a configuration file that other users can read: worth a warning at every start,
 * since the file is usually not where people look for secrets (the systemd unit, for one, takes
 * them from a root-only EnvironmentFile instead).
 */
import { statSync } from "node:fs";
import { readConfigFile } from "./config-file";
import { SECRET_OPTIONS } from "./config";

/** Group or other may read. */
const READABLE_BY_OTHERS = 0o044;

/**
 * The warning to log, or undefined: when `path` sets a secret option (its key named like the flag,
 * without dashes) and its mode lets the group or others read it. Never includes the value.
 * @param path - the configuration file that was resolved (ServerConfig.configFile); "" for none.
 */
export function configFileExposure(path: string): string | undefined {
  if (path === "") return undefined;
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return undefined;
  }
  if ((mode & READABLE_BY_OTHERS) === 0) return undefined;
  const entries = readConfigFile(path, "--config").entries;
  const keys = SECRET_OPTIONS.map((option) => option.flag.replace(/^--/, "")).filter((key) => entries.has(key));
  if (keys.length === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(3, "0");
  return `the configuration file ${JSON.stringify(path)} sets ${keys.join(", ")} and is readable by other users (mode ${octal}): chmod 600 it, or pass the secret through its STATEWARD_* variable`;
}
