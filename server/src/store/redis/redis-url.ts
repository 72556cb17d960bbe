/**
 * The Redis URL (`--redis-url`): its rule, and the forms of it that may be shown. The URL may carry
 * a password (`redis://user:password@host`), which no message, log line or span may repeat.
 */

/** What replaces a URL's password wherever the URL is shown. */
const REDACTED = "***";

/** A host name or IPv4 address as written in a URL (IPv6 comes bracketed and is checked by URL). */
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** Databases of a stock Redis (`databases 16`); Redis Cluster has only 0. */
const MAX_DB = 15;

function parsed(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * Why `url` is not a usable Redis URL, or undefined when it is: `redis://` or `rediss://`, a host,
 * an optional port 1 to 65535, optional user and password, an optional database `/0` to `/15`, no
 * query or fragment. The reason never contains the password.
 */
export function redisUrlProblem(url: string): string | undefined {
  const text = url.trim();
  if (!/^rediss?:\/\//i.test(text)) return "must start with redis:// or rediss:// (TLS)";
  const parts = parsed(text);
  if (parts === undefined) return "must be a URL such as redis://127.0.0.1:6379 (redis://[user:password@]host[:port][/db], rediss:// for TLS)";
  const host = parts.hostname;
  const bracketed = host.startsWith("[") && host.endsWith("]");
  if (host === "" || (!bracketed && !HOST_NAME.test(host))) return "must name a host (redis://host[:port][/db])";
  if (parts.port === "0") return "must have a port from 1 to 65535 (or none: 6379)";
  if (parts.search !== "" || parts.hash !== "") return "must not have a query or fragment (redis://[user:password@]host[:port][/db])";
  const db = parts.pathname.replace(/^\//, "");
  if (db !== "" && (!/^[0-9]{1,2}$/.test(db) || Number(db) > MAX_DB)) return `must end with no database or a database number from 0 to ${MAX_DB} (redis://host:port/0)`;
  return undefined;
}

/** `url` with its password replaced by `***` (as it may appear in messages and logs); unchanged when it has none. */
export function redactRedisUrl(url: string): string {
  const parts = parsed(url);
  const wellFormed = parts !== undefined && /^rediss?:$/.test(parts.protocol) && parts.hostname !== "" && !`${parts.pathname}${parts.search}${parts.hash}`.includes("@");
  if (wellFormed) {
    if (parts.password === "") return url;
    parts.password = REDACTED;
    return parts.href;
  }
  // Not a Redis URL that parses as one: hide all that could be credentials, up to the last "@".
  return url.includes("@") ? url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, (_match, scheme: string | undefined) => `${scheme ?? ""}${REDACTED}@`) : url;
}

/**
 * The password in `url`, as written and decoded (both can appear in output: the process's command
 * line has the first), for redaction; empty when it has none.
 */
export function redisUrlPasswords(url: string): readonly string[] {
  const password = parsed(url)?.password ?? "";
  if (password === "") return [];
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // A malformed escape: the written form is the only one.
  }
  return decoded === password ? [password] : [password, decoded];
}
