import { leaseExpired, lockedByOther, removeLocked, sessionGone, staleLockId, versionMismatch } from "../conflicts";
import type { StoreError } from "../store-error";
import type { SessionTable } from "./session-table";

/**
 * Which conflict a write or a removal meets on the memory backend (the session's lock, its
 * version); the refusals themselves, and their wording, are shared (../conflicts.ts). Pure checks:
 * they read the session and change nothing.
 */

/** A Set on a missing session: a lock id or a version can only be stale (a plain Set creates it). */
export function missingSessionConflict(lockId: number, expectedVersion: number): StoreError | undefined {
  if (lockId !== 0) return sessionGone(lockId, true);
  if (expectedVersion !== 0) return versionMismatch(expectedVersion, undefined);
  return undefined;
}

/** A Set on an existing session: with the holder's lock id, or none on an unlocked session. */
export function writeConflict(table: SessionTable, slot: number, lockId: number, now: number): StoreError | undefined {
  const holder = table.lockId[slot] as number;
  if (lockId === 0) return holder === 0 ? undefined : lockedByOther(holder, now - (table.lockedAt[slot] as number));
  if (holder === lockId) return undefined;
  if (lockId < (table.firstLockId[slot] as number)) return sessionGone(lockId, false);
  if (leaseEnded(table, slot, lockId)) return leaseExpired(lockId);
  return staleLockId(lockId, holder);
}

/** A Set with expected_version on an existing session. */
export function versionConflict(expectedVersion: number, version: number): StoreError | undefined {
  if (expectedVersion === 0 || expectedVersion === version) return undefined;
  return versionMismatch(expectedVersion, version);
}

/** A Remove: a locked session goes only with the holder's lock id. */
export function removeConflict(table: SessionTable, slot: number, lockId: number): StoreError | undefined {
  const holder = table.lockId[slot] as number;
  if (holder === 0 || holder === lockId) return undefined;
  return removeLocked(holder, lockId);
}

/**
 * Whether the lock `lockId` (not the holder's, issued for this incarnation) ended by its lease
 * rather than by a release. Locks of a session follow each other, so the last lease end and the
 * last release decide it for every id after the earlier of the two; an id older than both is
 * reported as released (the backend keeps no longer history).
 */
function leaseEnded(table: SessionTable, slot: number, lockId: number): boolean {
  const lastLease = table.lastLeaseExpiredLockId[slot] as number;
  const lastRelease = table.lastReleasedLockId[slot] as number;
  if (lockId === lastLease) return true;
  if (lockId === lastRelease) return false;
  return lockId > lastRelease && lockId < lastLease;
}
