import type { GetResult, LockResult, WaitCallbacks, WaitHandle } from "./operations";
import type { SessionShard } from "./session-shard";

/** A Get or Lock call waiting in a session's FIFO queue. */
export class Waiter implements WaitHandle {
  /** Position in the shard's deadline heap; -1 when not there. */
  heapPosition = -1;
  /** Set once the waiter has been answered or cancelled. */
  settled = false;

  constructor(
    /** The shard holding the session. */
    readonly shard: SessionShard,
    /** The session's slot. */
    readonly slot: number,
    /** Epoch ms at which the wait ends with OUTCOME_LOCKED. */
    readonly deadline: number,
    /** What the caller wants: a reader's answer, or the lock (with this lease). */
    readonly request:
      | { readonly kind: "read"; readonly callbacks: WaitCallbacks<GetResult> }
      | { readonly kind: "write"; readonly callbacks: WaitCallbacks<LockResult>; readonly leaseMs: number },
    private readonly onCancel: (waiter: Waiter) => void,
  ) {}

  cancel(): void {
    if (!this.settled) this.onCancel(this);
  }
}
