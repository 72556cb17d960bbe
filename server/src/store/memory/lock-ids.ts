import type { Clock } from "../clock";

/** Ids stay far below 2^53 (exact in a double) even after decades of restarts. */
const MAX_SEED = 2 ** 52;

/**
 * Lock ids (fencing tokens): one counter for all sessions, so that no id is ever issued twice.
 * Seeded from the clock so that ids keep growing across restarts of the server (1024 ids per
 * millisecond of downtime): a holder from before a restart can never match a lock granted after it.
 */
export class LockIds {
  private nextId: number;

  /** @param clock - seeds the counter (its time in ms times 1024). */
  constructor(clock: Clock) {
    const seed = Math.floor(clock.now()) * 1024;
    this.nextId = seed > 0 && seed < MAX_SEED ? seed : 1;
  }

  /** The id the next grant will get (every id issued from now on is at least this). */
  get upcoming(): number {
    return this.nextId;
  }

  /** Replay: `id` was issued before the restart, so every id from now on is above it. */
  passed(id: number): void {
    if (id >= this.nextId) this.nextId = id + 1;
  }

  /** Issues a new id. */
  issue(): number {
    return this.nextId++;
  }
}
