/**
 * `stateward token create --name NAME [--app APP]... [--access read-only|read-write]`: a new random
 * bearer token (256 bits, base64url) on the first line, and the auth file entry that names it (the
 * token's SHA-256, never the token) as one JSON object on the second. Nothing else is needed to mint
 * a credential: add the second line to the auth file's "principals", give the first to the client.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { tokenSha256 } from "./access-policy";
import { parseAuthFile } from "./auth-file";

/** Bytes of randomness in a token: 256 bits. */
export const TOKEN_BYTES = 32;

/** Usage of the command, for `--help` and errors. */
export const TOKEN_USAGE = [
  "Usage:",
  "  stateward token create --name NAME [--app APP]... [--access read-only|read-write]",
  "",
  "Prints a new random token (256 bits, base64url) on the first line and its auth file entry",
  "(JSON, holding only the token's SHA-256) on the second. Add the entry to the \"principals\" of",
  "the --auth-file; give the token to the client, which sends it as \"authorization: Bearer <token>\".",
  "",
  "  --name NAME      the principal's name (shown in errors and logs), required",
  "  --app APP        an app it may use; repeat for several; default * (every app)",
  "  --access ACCESS  read-write (every operation, the default) or read-only (Get and Watch)",
  "",
].join("\n");

/** A command-line mistake; the message says what is wrong. */
export class TokenUsageError extends Error {
  override readonly name = "TokenUsageError";
}

/** A new token and its auth file entry. */
export interface MintedToken {
  readonly token: string;
  /** The entry, in the auth file's shape. */
  readonly principal: { readonly name: string; readonly token_sha256: string; readonly apps: readonly string[]; readonly access: string };
  /** True when --app or --access was left at its default (every app, read-write): the CLI says so on stderr. */
  readonly broad: boolean;
}

/**
 * Mints a token for `token create`'s arguments (after `create`).
 * @throws {@link TokenUsageError} for unknown or missing flags and values the auth file would refuse.
 */
export function mintToken(args: readonly string[]): MintedToken {
  let values;
  try {
    values = parseArgs({
      args: [...args],
      options: { name: { type: "string" }, app: { type: "string", multiple: true }, access: { type: "string" } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new TokenUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.name === undefined) throw new TokenUsageError("--name NAME is required: the principal's name in the auth file.");
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  const principal = {
    name: values.name,
    token_sha256: tokenSha256(token),
    apps: values.app ?? ["*"],
    access: values.access ?? "read-write",
  };
  // The entry must be one the server accepts: the same checks as the auth file's.
  try {
    parseAuthFile(JSON.stringify({ principals: [principal] }), "(the new entry)");
  } catch (error) {
    throw new TokenUsageError(error instanceof Error ? error.message.replace(/^auth file "\(the new entry\)": principals\[0\]( \([^)]*\))?: /, "") : String(error));
  }
  return { token, principal, broad: values.app === undefined || values.access === undefined };
}
