import type { GetResult, LockedResult, LockResult, NotFoundResult } from "../operations";
import type { PayloadSlabs } from "./payload-slabs";
import type { SessionTable } from "./session-table";

/** The answer for a missing session (shared, frozen). */
export const NOT_FOUND: NotFoundResult = Object.freeze({ outcome: "not-found" });

/** The answers Get and Lock give, read from a session's columns (reading changes nothing). */
export class SessionResults {
  /** @param payloads - the slabs holding the payloads (results carry private copies). */
  constructor(private readonly payloads: PayloadSlabs) {}

  /** Get found the session unlocked. */
  read(table: SessionTable, slot: number): GetResult {
    return {
      outcome: "ok",
      data: this.payloads.read(table.payload[slot] as number, table.payloadLength[slot] as number),
      version: table.version[slot] as number,
      ttlSeconds: table.ttlSeconds[slot] as number,
    };
  }

  /** Lock took the lock `lockId` of an existing session. */
  lockOk(table: SessionTable, slot: number, lockId: number, leaseMs: number): LockResult {
    return {
      outcome: "ok",
      data: this.payloads.read(table.payload[slot] as number, table.payloadLength[slot] as number),
      version: table.version[slot] as number,
      lockId,
      ttlSeconds: table.ttlSeconds[slot] as number,
      created: false,
      leaseMs,
    };
  }

  /** Lock created the session (empty, version 1) and took its lock. */
  created(lockId: number, ttlSeconds: number, leaseMs: number): LockResult {
    return { outcome: "ok", data: Buffer.alloc(0), version: 1, lockId, ttlSeconds, created: true, leaseMs };
  }

  /** A writer holds the lock. */
  locked(table: SessionTable, slot: number, now: number): LockedResult {
    return {
      outcome: "locked",
      lockId: table.lockId[slot] as number,
      lockAgeMs: Math.max(0, Math.floor(now - (table.lockedAt[slot] as number))),
      ttlSeconds: table.ttlSeconds[slot] as number,
    };
  }
}
