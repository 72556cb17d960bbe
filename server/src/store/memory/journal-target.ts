import type { Clock } from "../clock";
import type { LockIds } from "./lock-ids";
import type { MemoryBudget } from "./memory-budget";
import type { SessionChanges } from "./session-changes";
import type { SessionEnds } from "./session-ends";
import type { JournalTarget, RestoredSession, ScanCursor, SessionRow } from "./session-journal";
import { keyHash } from "./session-shard";
import type { ShardSet } from "./shard-set";
import type { AppRegistry } from "./app-registry";

/**
 * The memory backend's side of durability (see session-journal.ts): replay writes records into the
 * shards through {@link SessionChanges} (without journaling them again), and snapshots scan the
 * shards slot by slot.
 */
export class MemoryJournalTarget implements JournalTarget {
  /**
   * @param shards - the sessions.
   * @param apps - the app names.
   * @param changes - restores records.
   * @param ends - settles leases and expiries after replay.
   * @param lockIds - the lock-id counter.
   * @param budget - the bytes held.
   * @param clock - the store's time.
   */
  constructor(
    private readonly shards: ShardSet,
    private readonly apps: AppRegistry,
    private readonly changes: SessionChanges,
    private readonly ends: SessionEnds,
    private readonly lockIds: LockIds,
    private readonly budget: MemoryBudget,
    private readonly clock: Clock,
  ) {}

  restore(session: RestoredSession): void {
    const hash = keyHash(session.app, session.sessionId);
    this.changes.restore(this.shards.of(hash), hash, session, this.clock.now());
  }

  restoreTouch(app: string, sessionId: string, expiresAt: number): void {
    const hash = keyHash(app, sessionId);
    const shard = this.shards.of(hash);
    const slot = this.slotOf(app, sessionId, hash);
    if (slot >= 0) this.changes.restoreDeadline(shard, slot, expiresAt);
  }

  restoreRemoval(app: string, sessionId: string): void {
    const hash = keyHash(app, sessionId);
    const slot = this.slotOf(app, sessionId, hash);
    if (slot >= 0) this.changes.delete(this.shards.of(hash), slot, this.clock.now());
  }

  restoreLockIds(next: number): void {
    this.lockIds.passed(next - 1);
  }

  finishRestore(): void {
    const now = this.clock.now();
    for (const shard of this.shards.shards) {
      const table = shard.table;
      for (let slot = 0; slot < table.capacity; slot++) {
        if (table.isLive(slot)) this.ends.settle(shard, slot, now);
      }
    }
  }

  scan(cursor: ScanCursor, limit: number, visit: (app: string, sessionId: string, row: SessionRow, data: Uint8Array) => void): boolean {
    const shards = this.shards.shards;
    const payloads = this.shards.payloads;
    const now = this.clock.now();
    let visited = 0;
    while (cursor.shard < shards.length) {
      const shard = shards[cursor.shard];
      if (shard === undefined) break;
      const table = shard.table;
      while (cursor.slot < table.capacity) {
        if (visited >= limit) return true;
        const slot = cursor.slot++;
        if (!table.isLive(slot)) continue;
        // An expired session is left out (a locked one lives to its lease end).
        const locked = table.lockId[slot] !== 0;
        if (locked ? (table.leaseEnd[slot] as number) <= now && (table.expiresAt[slot] as number) <= now : (table.expiresAt[slot] as number) <= now) continue;
        visited++;
        const data = payloads.view(table.payload[slot] as number, table.payloadLength[slot] as number);
        visit(this.apps.nameOf(table.appIndex[slot] as number), table.sessionIdOf(slot), this.changes.rowOf(table, slot), data);
      }
      cursor.shard++;
      cursor.slot = 0;
    }
    return false;
  }

  get liveBytes(): number {
    return this.budget.bytesUsed;
  }

  get nextLockId(): number {
    return this.lockIds.upcoming;
  }

  private slotOf(app: string, sessionId: string, hash: number): number {
    const appIndex = this.apps.indexOf(app);
    return appIndex < 0 ? -1 : this.shards.of(hash).table.find(appIndex, sessionId, hash);
  }
}
