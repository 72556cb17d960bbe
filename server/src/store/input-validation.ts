import { KEY_LIMITS, type StoreOptions } from "./store-options";
import { StoreError } from "./store-error";

/**
 * Field checks shared by every operation. Messages name the field (as in the .proto) and the rule,
 * and never echo the value: a session id is a bearer credential.
 */

function invalid(message: string): StoreError {
  return new StoreError("invalid-argument", "INVALID_FIELD", message);
}

/** True when every character is visible ASCII (0x21-0x7E), so length in chars equals bytes. */
function isVisibleAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/** Checks `app` (0-128 bytes) and `session_id` (1-256 bytes), both visible ASCII. */
export function validateKey(app: string, sessionId: string): void {
  if (typeof app !== "string" || !isVisibleAscii(app)) {
    throw invalid("app must be visible ASCII (0x21-0x7E), 0 to 128 bytes");
  }
  if (app.length > KEY_LIMITS.maxAppBytes) {
    throw invalid(`app must be at most ${KEY_LIMITS.maxAppBytes} bytes; got ${app.length}`);
  }
  if (typeof sessionId !== "string" || sessionId.length === 0) {
    throw invalid("session_id is required (1 to 256 bytes of visible ASCII)");
  }
  if (!isVisibleAscii(sessionId)) {
    throw invalid("session_id must be visible ASCII (0x21-0x7E), 1 to 256 bytes");
  }
  if (sessionId.length > KEY_LIMITS.maxSessionIdBytes) {
    throw invalid(`session_id must be at most ${KEY_LIMITS.maxSessionIdBytes} bytes; got ${sessionId.length}`);
  }
}

/** Checks a non-negative integer field (the wire gives uint32/uint64; the store API is public). */
export function validateCount(field: string, value: number): void {
  if (!(value >= 0) || (!Number.isInteger(value) && value !== Infinity)) {
    throw invalid(`${field} must be a non-negative integer`);
  }
}

/** Checks `ttl_seconds` against the maximum. */
export function validateTtl(value: number, options: StoreOptions): void {
  validateCount("ttl_seconds", value);
  if (value > options.maxTtlSeconds) {
    throw invalid(`ttl_seconds must be at most ${options.maxTtlSeconds} (one year by default); got ${value}`);
  }
}

/** Checks `lease_ms` against --max-lock-lease-ms. */
export function validateLease(value: number, options: StoreOptions): void {
  validateCount("lease_ms", value);
  if (value > options.maxLockLeaseMs) {
    throw invalid(`lease_ms must be at most ${options.maxLockLeaseMs} (max-lock-lease-ms); got ${value}`);
  }
}

/** Checks the payload size against --max-item-bytes. */
export function validateData(data: Uint8Array, options: StoreOptions): void {
  if (!(data instanceof Uint8Array)) throw invalid("data must be bytes");
  if (data.length > options.maxItemBytes) {
    throw new StoreError(
      "invalid-argument",
      "ITEM_TOO_LARGE",
      `data is ${data.length} bytes; the limit (max-item-bytes) is ${options.maxItemBytes} bytes`,
    );
  }
}
