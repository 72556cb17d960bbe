import type { GetResult, LockResult } from "../operations";
import type { Cancellation, Completion } from "../session-backend";
import type { SessionShard } from "./session-shard";

/** What a waiting call wants: a reader's answer, or the lock (with this lease). */
export type WaitRequest =
  | { readonly kind: "read"; readonly completion: Completion<GetResult> }
  | { readonly kind: "write"; readonly completion: Completion<LockResult>; readonly leaseMs: number };

/** Where a waiter is: in its queue, answered (or dropped, or refused at close), or withdrawn by its caller. */
export type WaiterState = "waiting" | "answered" | "withdrawn";

/** A Get or Lock call waiting in a session's FIFO queue; its own {@link Cancellation}. */
export class Waiter implements Cancellation {
  /** Position in the shard's deadline heap; -1 when not there. */
  heapPosition = -1;
  /** Set by the wait queues as the waiter leaves its queue. */
  state: WaiterState = "waiting";

  constructor(
    /** The shard holding the session. */
    readonly shard: SessionShard,
    /** The session's slot. */
    readonly slot: number,
    /** Store-clock ms at which the wait ends with OUTCOME_LOCKED. */
    readonly deadline: number,
    /** What the caller wants. */
    readonly request: WaitRequest,
    /** Withdraws a waiting waiter from its queue (the wait queues' cancel). */
    private readonly withdraw: (waiter: Waiter) => void,
  ) {}

  /** Leaves the queue unanswered. False once the waiter has been answered; idempotent. */
  cancel(): boolean {
    if (this.state === "waiting") this.withdraw(this);
    return this.state === "withdrawn";
  }
}
