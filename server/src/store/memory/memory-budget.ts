import { StoreError } from "../store-error";

/**
 * Memory charged per session on top of its id and payload chunk: the typed-array columns, the key
 * index, the id's slab chunk rounding and the expiry-index entry, as measured at a million
 * sessions (about 176 B of RSS beyond the payload with 24-byte ids; see README, Limits).
 */
export const SESSION_OVERHEAD_BYTES = 160;

/** What a session costs without its payload: the fixed overhead and its id's bytes. */
export function sessionBytes(sessionIdLength: number): number {
  return SESSION_OVERHEAD_BYTES + sessionIdLength;
}

/**
 * The memory budget (`--max-memory`): the bytes charged for payload chunks, session ids and the
 * per-session overhead, and the refusal of a write that would pass it.
 */
export class MemoryBudget {
  /** Bytes charged now. */
  bytesUsed = 0;

  /** @param maxMemoryBytes - the budget. */
  constructor(readonly maxMemoryBytes: number) {}

  /** Whether `extraBytes` more (a negative or zero amount always) fit. */
  fits(extraBytes: number): boolean {
    return extraBytes <= 0 || this.bytesUsed + extraBytes <= this.maxMemoryBytes;
  }

  /** Charges `bytes` (negative: gives them back). */
  charge(bytes: number): void {
    this.bytesUsed += bytes;
  }

  /** The refusal of a write that needs `extraBytes` more than fit. */
  refusal(extraBytes: number): StoreError {
    return new StoreError(
      "resource-exhausted",
      "MEMORY_BUDGET",
      `the memory budget (--max-memory ${this.maxMemoryBytes} bytes) is full: ${this.bytesUsed} bytes used, this write needs ${extraBytes} more`,
      { limit: String(this.maxMemoryBytes) },
    );
  }
}
