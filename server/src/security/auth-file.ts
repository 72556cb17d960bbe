/**
 * The auth file (`--auth-file`): JSON of the principals that may call, checked entry by entry.
 *
 * ```json
 * { "principals": [
 *     { "name": "shop-web", "token_sha256": "<64 lowercase hex>", "apps": ["shop"], "access": "read-write" },
 *     { "name": "web-mtls", "client_cert_cn": "web-01.example", "apps": ["*"], "access": "read-only" } ] }
 * ```
 *
 * The file holds no secret: a token is named by the SHA-256 of its UTF-8 bytes. Fields other than
 * these are ignored, so that later versions can add some.
 */
import { AccessPolicy, type Access, type Principal } from "./access-policy";

/** An auth file that cannot be used; the message names the file, the entry and the field. */
export class AuthFileError extends Error {
  override readonly name = "AuthFileError";
}

// As the contract's app names and the X.509 upper bound of a common name (RFC 5280 ub-common-name).
const MAX_APP_BYTES = 128;
const MAX_NAME_BYTES = 128;
const MAX_CN_LENGTH = 64;
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Parses and checks an auth file's text.
 * @param text - the file's content.
 * @param path - the file's path, for messages.
 * @throws {@link AuthFileError} naming the entry (index and name) and the field at fault.
 */
export function parseAuthFile(text: string, path: string): AccessPolicy {
  const where = `auth file ${JSON.stringify(path)}`;
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (error) {
    throw new AuthFileError(`${where} is not valid JSON: ${error instanceof Error ? error.message : String(error)}.`);
  }
  if (typeof root !== "object" || root === null || Array.isArray(root)) {
    throw new AuthFileError(`${where} must hold a JSON object {"principals": [...]}, not ${typeName(root)}.`);
  }
  const principals = (root as Record<string, unknown>)["principals"];
  if (!Array.isArray(principals)) {
    throw new AuthFileError(`${where}: field "principals" must be an array of principals, not ${principals === undefined ? "missing" : typeName(principals)}.`);
  }
  const tokens = new Map<string, Principal>();
  const certificates = new Map<string, Principal>();
  const names = new Map<string, number>();
  principals.forEach((entry: unknown, index) => {
    const fail = (field: string, rule: string, name?: string): never => {
      const label = name === undefined ? `principals[${index}]` : `principals[${index}] (${JSON.stringify(name)})`;
      throw new AuthFileError(`${where}: ${label}: field ${JSON.stringify(field)} ${rule}.`);
    };
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new AuthFileError(`${where}: principals[${index}] must be an object, not ${typeName(entry)}.`);
    }
    const fields = entry as Record<string, unknown>;
    const name = fields["name"];
    if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_BYTES || !VISIBLE_ASCII.test(name)) {
      fail("name", `must be a string of 1 to ${MAX_NAME_BYTES} visible ASCII characters (it names the principal in errors and logs)`);
    }
    const principalName = name as string;
    const earlier = names.get(principalName);
    if (earlier !== undefined) fail("name", `repeats the name of principals[${earlier}]: names must be unique`, principalName);
    names.set(principalName, index);

    const token = fields["token_sha256"];
    const cn = fields["client_cert_cn"];
    if ((token === undefined) === (cn === undefined)) {
      fail("token_sha256", 'or "client_cert_cn" is needed, exactly one of them (a principal is a token or a client certificate)', principalName);
    }
    if (token !== undefined && (typeof token !== "string" || !/^[0-9a-f]{64}$/.test(token))) {
      fail("token_sha256", 'must be 64 lowercase hex digits, the SHA-256 of the token (as "stateward token create" prints it)', principalName);
    }
    if (cn !== undefined && (typeof cn !== "string" || cn.length === 0 || cn.length > MAX_CN_LENGTH)) {
      fail("client_cert_cn", `must be the subject common name of a client certificate, 1 to ${MAX_CN_LENGTH} characters`, principalName);
    }

    const apps = fields["apps"];
    if (!Array.isArray(apps) || apps.length === 0) {
      fail("apps", 'must be a non-empty array of app names, or ["*"] for all apps', principalName);
    }
    const appList = apps as unknown[];
    for (const [i, app] of appList.entries()) {
      if (typeof app !== "string" || Buffer.byteLength(app) > MAX_APP_BYTES || !VISIBLE_ASCII.test(app)) {
        fail("apps", `entry ${i} must be an app name (0 to ${MAX_APP_BYTES} visible ASCII characters, as in requests) or "*"`, principalName);
      }
    }
    const access = fields["access"];
    if (access !== "read-only" && access !== "read-write") {
      fail("access", 'must be "read-only" (Get and Watch) or "read-write" (every operation)', principalName);
    }
    const principal: Principal = Object.freeze({
      name: principalName,
      apps: appList.includes("*") ? "*" : new Set(appList as string[]),
      access: access as Access,
    });
    if (typeof token === "string") {
      const other = tokens.get(token);
      if (other !== undefined) fail("token_sha256", `is the same as principal ${JSON.stringify(other.name)}'s: a token names one principal`, principalName);
      tokens.set(token, principal);
    } else {
      const other = certificates.get(cn as string);
      if (other !== undefined) fail("client_cert_cn", `is the same as principal ${JSON.stringify(other.name)}'s: a certificate names one principal`, principalName);
      certificates.set(cn as string, principal);
    }
  });
  return new AccessPolicy(tokens, certificates);
}
