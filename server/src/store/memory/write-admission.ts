import type { StoreError } from "../store-error";
import type { AppRegistry } from "./app-registry";
import type { ExpiryCycle } from "./expiry-cycle";
import type { MemoryBudget } from "./memory-budget";

/**
 * Whether a write may add what it needs: a session of one more app (`--max-apps`) and more bytes
 * (`--max-memory`). Expired sessions not swept yet hold neither: they are reclaimed (as much as the
 * write needs) before a refusal, as Redis expires keys before it evicts. Checks change no session
 * the caller can see; a refusal is returned, for the caller to answer.
 */
export class WriteAdmission {
  /**
   * @param apps - the app limit.
   * @param budget - the memory budget.
   * @param cycle - reclaims expired sessions.
   */
  constructor(
    private readonly apps: AppRegistry,
    private readonly budget: MemoryBudget,
    private readonly cycle: ExpiryCycle,
  ) {}

  /** Refuses (TOO_MANY_APPS, MEMORY_BUDGET) a new session of `app` that needs `bytes`. */
  newSession(app: string, bytes: number, now: number): StoreError | undefined {
    const apps = this.apps;
    if (!apps.hasRoomFor(app)) {
      this.cycle.reclaim(now, () => apps.hasRoomFor(app));
      if (!apps.hasRoomFor(app)) return apps.refusal();
    }
    return this.moreBytes(bytes, now);
  }

  /** Refuses (MEMORY_BUDGET) a write that needs `extraBytes` more than are charged now (<= 0: none). */
  moreBytes(extraBytes: number, now: number): StoreError | undefined {
    const budget = this.budget;
    if (budget.fits(extraBytes)) return undefined;
    this.cycle.reclaim(now, () => budget.fits(extraBytes));
    return budget.fits(extraBytes) ? undefined : budget.refusal(extraBytes);
  }
}
