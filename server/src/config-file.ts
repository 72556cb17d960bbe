/**
 * The configuration file (`--config`, `STATEWARD_CONFIG`): TOML, one top-level key per option,
 * named like its flag without the dashes (`max-item-bytes = "1MiB"`). This module reads and parses
 * the file; config.ts checks its keys and values against the options.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type * as SmolToml from "smol-toml" with { "resolution-mode": "import" };
import { ConfigError } from "./config-error";

// smol-toml ships CommonJS next to ES modules, but its one set of typings is declared as an ES
// module, which TypeScript will not let a CommonJS file import; so it is required, with its types.
const { parse, TomlError } = createRequire(__filename)("smol-toml") as typeof SmolToml;

/** Reads a file as UTF-8 text (injectable for tests). */
export type ReadTextFile = (path: string) => string;

/** A parsed configuration file. */
export interface ConfigFile {
  /** The path as given (messages name it so). */
  readonly path: string;
  /** The top-level keys and their TOML values (integers as bigint, so 1 and 1.0 differ). */
  readonly entries: ReadonlyMap<string, unknown>;
}

const readUtf8: ReadTextFile = (path) => readFileSync(path, "utf8");

/**
 * Reads and parses the configuration file at `path`.
 * @param namedBy - where the path came from, for messages (e.g. `--config`).
 * @throws {@link ConfigError} if the file cannot be read or is not valid TOML.
 */
export function readConfigFile(path: string, namedBy: string, readFile: ReadTextFile = readUtf8): ConfigFile {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`Cannot read the configuration file ${JSON.stringify(path)} (from ${namedBy}): ${error instanceof Error ? error.message : String(error)}.`);
  }
  let document: Record<string, unknown>;
  try {
    // integersAsBigInt: a float where an integer belongs is then a type error, not silently truncated.
    document = parse(text, { integersAsBigInt: true });
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    // Only the first line: the parser appends a frame of the lines around the error, which would
    // print a secret on a neighbouring line (session-hash-key) to stderr and the journal.
    const detail = (error.message.replace(/^Invalid TOML document: /, "").split("\n")[0] ?? "").trimEnd();
    throw new ConfigError(`The configuration file ${JSON.stringify(path)} is not valid TOML (line ${error.line}, column ${error.column}): ${detail}`);
  }
  return { path, entries: new Map(Object.entries(document)) };
}

/** The TOML type of a parsed value, as messages name it ("an integer", "a string", ...). */
export function tomlTypeOf(value: unknown): string {
  if (typeof value === "bigint") return "an integer";
  if (typeof value === "number") return "a float";
  if (typeof value === "string") return "a string";
  if (typeof value === "boolean") return "a boolean";
  if (value instanceof Date) return "a date-time";
  if (Array.isArray(value)) return "an array";
  return "a table";
}
