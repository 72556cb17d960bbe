/**
 * Where a session lives in Redis: one hash per session, whose key carries a hash tag (the
 * base64url form of its app and id, so that any visible-ASCII id, braces included, makes one
 * well-formed tag) and so names one slot of a Redis Cluster.
 */

/** The key of (app, sessionId)'s hash under `prefix`. */
export function sessionKey(prefix: string, app: string, sessionId: string): string {
  return `${prefix}{${Buffer.from(`${app}\n${sessionId}`, "latin1").toString("base64url")}}`;
}

/**
 * The (app, sessionId) of a session hash's key under `prefix`, or undefined for any other key:
 * for the expiry and removal events Watch reports.
 */
export function sessionOfKey(prefix: string, key: string): { app: string; sessionId: string } | undefined {
  if (!key.startsWith(prefix) || key.length < prefix.length + 3) return undefined;
  if (key[prefix.length] !== "{" || !key.endsWith("}")) return undefined;
  const decoded = Buffer.from(key.slice(prefix.length + 1, -1), "base64url").toString("latin1");
  const cut = decoded.indexOf("\n");
  if (cut < 0) return undefined;
  return { app: decoded.slice(0, cut), sessionId: decoded.slice(cut + 1) };
}
