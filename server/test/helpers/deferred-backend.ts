/**
 * A backend that answers every operation on a later tick: it hands each operation to an inner
 * backend on the next turn of the event loop, and delivers each answer on the turn after that, the
 * way a backend over the network would. The conformance suite runs over it to prove that the
 * gRPC layer, the Pipeline and the telemetry assume nothing synchronous of a backend.
 */
import type {
  BackendCounts,
  BackendStats,
  BackendExpireInput,
  BackendGetInput,
  BackendLockInput,
  BackendReleaseInput,
  BackendRemoveInput,
  BackendSetInput,
  Cancellation,
  Completion,
  SessionBackend,
} from "../../src/store/session-backend";
import type { ExpireResult, GetResult, LockResult, ReleaseResult, RemoveResult, SetResult } from "../../src/store/operations";

/** One operation between its call and its answer's delivery. */
class DeferredOperation<R> implements Cancellation {
  private state: "queued" | "sent" | "answered" | "withdrawn" = "queued";
  private inner: Cancellation | undefined;

  constructor(
    private readonly completion: Completion<R>,
    /** Operations not delivered yet (close waits for them). */
    private readonly outstanding: Set<DeferredOperation<unknown>>,
    send: (completion: Completion<R>) => Cancellation | undefined,
  ) {
    outstanding.add(this as DeferredOperation<unknown>);
    setImmediate(() => {
      if (this.state !== "queued") return;
      this.state = "sent";
      this.inner = send({
        resolve: (result) => this.later(() => completion.resolve(result)),
        reject: (error) => this.later(() => completion.reject(error)),
        waiting: () => completion.waiting?.(),
        isActive: () => completion.isActive?.() ?? true,
        dropped: () => this.later(() => completion.dropped?.()),
      });
    });
  }

  cancel(): boolean {
    if (this.state === "queued" || (this.state === "sent" && this.inner?.cancel() === true)) {
      this.state = "withdrawn";
      this.outstanding.delete(this as DeferredOperation<unknown>);
      return true;
    }
    return this.state === "withdrawn";
  }

  /** The inner backend answered: deliver on the next turn (it can no longer be withdrawn). */
  private later(deliver: () => void): void {
    if (this.state !== "sent") return;
    this.state = "answered";
    setImmediate(() => {
      this.outstanding.delete(this as DeferredOperation<unknown>);
      deliver();
    });
  }
}

/** See the module comment. */
export class DeferredBackend implements SessionBackend {
  readonly name: string;
  private readonly outstanding = new Set<DeferredOperation<unknown>>();

  constructor(readonly inner: SessionBackend) {
    this.name = `deferred(${inner.name})`;
  }

  get(input: BackendGetInput, completion: Completion<GetResult>): Cancellation {
    return new DeferredOperation(completion, this.outstanding, (c) => this.inner.get(input, c));
  }

  lock(input: BackendLockInput, completion: Completion<LockResult>): Cancellation {
    return new DeferredOperation(completion, this.outstanding, (c) => this.inner.lock(input, c));
  }

  set(input: BackendSetInput, completion: Completion<SetResult>): Cancellation {
    return new DeferredOperation(completion, this.outstanding, (c) => this.inner.set(input, c));
  }

  release(input: BackendReleaseInput, completion: Completion<ReleaseResult>): Cancellation {
    return new DeferredOperation(completion, this.outstanding, (c) => this.inner.release(input, c));
  }

  expire(input: BackendExpireInput, completion: Completion<ExpireResult>): Cancellation {
    return new DeferredOperation(completion, this.outstanding, (c) => this.inner.expire(input, c));
  }

  remove(input: BackendRemoveInput, completion: Completion<RemoveResult>): Cancellation {
    return new DeferredOperation(completion, this.outstanding, (c) => this.inner.remove(input, c));
  }

  counts(): Promise<BackendCounts> {
    return this.inner.counts();
  }

  stats(): BackendStats {
    return this.inner.stats();
  }

  /** Closes the inner backend, resolving once every operation it was given is answered or withdrawn. */
  async close(): Promise<void> {
    await this.inner.close();
    while (this.outstanding.size > 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
