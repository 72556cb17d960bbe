/** The version of the running Stateward server: the `version` of server/package.json. */
import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * The server package's version, read from its package.json, which sits one level above this file
 * both as server/src/version.ts (under tsx) and as server/dist/version.js (built).
 */
export function statewardVersion(): string {
  const manifest = JSON.parse(readFileSync(path.resolve(__dirname, "../package.json"), "utf8")) as { version?: unknown };
  if (typeof manifest.version !== "string") throw new Error("server/package.json has no version");
  return manifest.version;
}
