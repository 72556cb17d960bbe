import { KEY_LIMITS } from "@stateward/protocol/contract";
import type { SessionLimits } from "./session-limits";
import { StoreError } from "./store-error";

/**
 * Field checks shared by every operation and every backend. Messages name the field (as in the
 * .proto) and the rule, and never echo the value: a session id is a bearer credential. The
 * ErrorInfo metadata carries the field and, where one applies, the limit.
 */

function invalid(field: string, message: string, limit?: number): StoreError {
  return new StoreError("invalid-argument", "INVALID_FIELD", message, limit === undefined ? { field } : { field, limit: String(limit) });
}

/** True when every character is visible ASCII (0x21-0x7E), so length in chars equals bytes. */
export function isVisibleAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/** Checks an app name (0-128 bytes of visible ASCII); also used by Watch. */
export function validateApp(app: string): void {
  if (typeof app !== "string" || !isVisibleAscii(app)) {
    throw invalid("app", "app must be visible ASCII (0x21-0x7E), 0 to 128 bytes", KEY_LIMITS.maxAppBytes);
  }
  if (app.length > KEY_LIMITS.maxAppBytes) {
    throw invalid("app", `app must be at most ${KEY_LIMITS.maxAppBytes} bytes; got ${app.length}`, KEY_LIMITS.maxAppBytes);
  }
}

/** Checks `app` (0-128 bytes) and `session_id` (1-256 bytes), both visible ASCII. */
export function validateKey(app: string, sessionId: string): void {
  validateApp(app);
  if (typeof sessionId !== "string" || sessionId.length === 0) {
    throw invalid("session_id", "session_id is required (1 to 256 bytes of visible ASCII)", KEY_LIMITS.maxSessionIdBytes);
  }
  if (!isVisibleAscii(sessionId)) {
    throw invalid("session_id", "session_id must be visible ASCII (0x21-0x7E), 1 to 256 bytes", KEY_LIMITS.maxSessionIdBytes);
  }
  if (sessionId.length > KEY_LIMITS.maxSessionIdBytes) {
    throw invalid(
      "session_id",
      `session_id must be at most ${KEY_LIMITS.maxSessionIdBytes} bytes; got ${sessionId.length}`,
      KEY_LIMITS.maxSessionIdBytes,
    );
  }
}

/** Checks a non-negative integer field (the wire gives uint32/uint64; the store API is public). */
export function validateCount(field: string, value: number): void {
  if (!(value >= 0) || (!Number.isInteger(value) && value !== Infinity)) {
    throw invalid(field, `${field} must be a non-negative integer`);
  }
}

/** Checks `ttl_seconds` against --max-ttl-seconds. */
export function validateTtl(value: number, limits: SessionLimits): void {
  validateCount("ttl_seconds", value);
  if (value > limits.maxTtlSeconds) {
    throw invalid("ttl_seconds", `ttl_seconds must be at most ${limits.maxTtlSeconds} (--max-ttl-seconds); got ${value}`, limits.maxTtlSeconds);
  }
}

/** Checks `lease_ms` against --max-lock-lease-ms. */
export function validateLease(value: number, limits: SessionLimits): void {
  validateCount("lease_ms", value);
  if (value > limits.maxLockLeaseMs) {
    throw invalid("lease_ms", `lease_ms must be at most ${limits.maxLockLeaseMs} (--max-lock-lease-ms); got ${value}`, limits.maxLockLeaseMs);
  }
}

/** Checks the payload size against --max-item-bytes. */
export function validateData(data: Uint8Array, limits: SessionLimits): void {
  if (!(data instanceof Uint8Array)) throw invalid("data", "data must be bytes");
  if (data.length > limits.maxItemBytes) {
    throw new StoreError("invalid-argument", "ITEM_TOO_LARGE", `data is ${data.length} bytes; the limit (--max-item-bytes) is ${limits.maxItemBytes} bytes`, {
      field: "data",
      limit: String(limits.maxItemBytes),
      size: String(data.length),
    });
  }
}
