/**
 * One long-lived `Pipeline` stream of a {@link PipelineClient}: its send queue, its operations
 * awaiting results, and its abandoned Locks. Internal (not exported by the package).
 *
 * The hot path allocates as little per operation as it can: an operation is one
 * {@link PendingOperation} (its own abort listener and deadline-wheel entry, so no closures), its
 * deadline is an entry in the client's one {@link DeadlineWheel} rather than a timer.
 */
import { status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { Outcome, eventLoopPoller, type LockRequest, type OperationError, type PipelineOperation, type PipelineRequest, type PipelineResponse } from "@stateward/protocol";
import type { DeadlineEntry, DeadlineWheel } from "./deadline-wheel";
import { PipelineOperationError } from "./pipeline-operation-error";
import { NO_REASON, reasonFromTrailers, type TrailerReason } from "./status-trailers";

/** The operation kinds, as the oneof cases of the request and the result. */
export type Kind = "get" | "lock" | "set" | "release" | "expire" | "remove";

/** The batch caps of a stream. */
export interface BatchLimits {
  readonly maxBatchOperations: number;
  readonly maxBatchBytes: number;
  /** The event-loop polling window around each message, in µs (PipelineClientOptions.pollMicros). */
  readonly pollMicros: number;
}

/** Called once as an operation settles: `undefined` on success, else its error. */
export type SettleHook = (error: Error | undefined) => void;

/**
 * How long after its own wait and deadline an abandoned Lock's result is still awaited. A server
 * that answers every cancelled operation (CANCELLED) never needs this; one that drops cancelled
 * waiters silently would otherwise leave one entry per abandoned Lock for the stream's lifetime.
 * Generous, because forgetting too early only costs what the fix avoids (a lock left to its lease).
 */
const ABANDONED_LOCK_GRACE_MS = 60_000;

/** Rough per-operation framing bytes, for the batch size cap. */
const OPERATION_OVERHEAD_BYTES = 64;

/** The options of every abort listener (shared: not one object per operation). */
const ONCE = Object.freeze({ once: true });

function noop(): void {
  // A placeholder, replaced by each promise's own functions before anything can call it.
}

/** Where {@link capturePromise} leaves the settle functions of the promise just constructed. */
const captured: { resolve: (value: unknown) => void; reject: (error: Error) => void } = { resolve: noop, reject: noop };

/**
 * The promise executor of every operation: a module function rather than a closure per
 * operation (it runs synchronously inside `new Promise`, so `captured` is read right after).
 */
function capturePromise(resolve: (value: unknown) => void, reject: (error: Error) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

/**
 * An operation from the moment it is issued until it settles. It is its own deadline-wheel entry
 * (`onDeadline`) and its own abort listener (`handleEvent`), so it needs no closures.
 */
export class PendingOperation implements DeadlineEntry {
  deadlineTick = -1;
  private readonly resolveFn: (value: unknown) => void;
  private readonly rejectFn: (error: Error) => void;
  /** The operation while it is still queued (not yet written). */
  operation: PipelineOperation | undefined;
  /** The promise the caller awaits. */
  readonly promise: Promise<unknown>;

  constructor(
    readonly id: bigint,
    readonly kind: Kind,
    readonly stream: PipelineStream,
    operation: PipelineOperation,
    /** The operation's `timeout_ms` (0: none). */
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
    /** Lock operations: the request, to give back a grant that arrives after they were abandoned. */
    readonly lock: LockRequest | undefined,
    private readonly done: SettleHook | undefined,
  ) {
    this.operation = operation;
    this.promise = new Promise(capturePromise);
    this.resolveFn = captured.resolve;
    this.rejectFn = captured.reject;
  }

  resolve(value: unknown): void {
    this.done?.(undefined);
    this.resolveFn(value);
  }

  reject(error: Error): void {
    this.done?.(error);
    this.rejectFn(error);
  }

  /** The deadline wheel's callback: no answer in time. */
  onDeadline(): void {
    this.stream.abandon(this, status.DEADLINE_EXCEEDED, `no answer within ${this.timeoutMs} ms`);
  }

  /** The abort listener. */
  handleEvent(): void {
    this.stream.abandon(this, status.CANCELLED, "the operation was aborted");
  }
}

/** A sent Lock the caller gave up on, whose one result is still to come. */
class AbandonedLock implements DeadlineEntry {
  deadlineTick = -1;

  constructor(
    readonly id: bigint,
    readonly app: string,
    readonly sessionId: string,
    private readonly locks: Map<bigint, AbandonedLock>,
  ) {}

  /** Its grace ran out: stop waiting for its result. */
  onDeadline(): void {
    this.locks.delete(this.id);
  }
}

/** One long-lived stream with its send queue. */
export class PipelineStream {
  readonly pending = new Map<bigint, PendingOperation>();
  /**
   * Sent Lock operations abandoned by their callers (aborted, timed out), by correlation id, until
   * their result arrives: a grant among them belongs to nobody and is released at once, instead of
   * keeping the session locked for the whole lease.
   */
  private readonly abandonedLocks = new Map<bigint, AbandonedLock>();
  queue: PipelineOperation[] = [];
  /** Approximate size of each queued operation, parallel to `queue`. */
  private queueBytes: number[] = [];
  private queuedBytes = 0;
  cancelIds: bigint[] = [];
  private writable = true;
  /** Messages handed to the call whose write has not completed yet. */
  private writesInFlight = 0;
  private flushing = false;
  private flushScheduled = false;
  private dead = false;
  private readonly onImmediate = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly onDrain = (): void => {
    this.writable = true;
    this.flush();
  };
  /** A message's write completed: what queued up meanwhile goes out as one message (or a few). */
  private readonly onWritten = (): void => {
    this.writesInFlight--;
    if (!this.flushing) this.flush();
  };

  constructor(
    private readonly call: ClientDuplexStream<PipelineRequest, PipelineResponse>,
    private readonly options: BatchLimits,
    /** The client's deadline wheel: operation deadlines and abandoned Locks' grace. */
    private readonly wheel: DeadlineWheel,
    private readonly onDead: (stream: PipelineStream) => void,
    /** Allocates correlation ids from the client's counter, for operations the stream sends itself. */
    private readonly allocateId: () => bigint,
  ) {
    call.on("data", (response: PipelineResponse) => this.onResponse(response));
    call.on("error", (error: ServiceError) => this.onStreamError(error));
    call.on("end", () => this.fail(status.UNAVAILABLE, "the server ended the pipeline stream"));
  }

  get isDead(): boolean {
    return this.dead;
  }

  /**
   * Issues an operation: books it (deadline, abort listener) and queues it for the next message.
   * `bytes`: its payload size, for the batch byte cap.
   */
  submit(pending: PendingOperation, bytes: number): void {
    this.pending.set(pending.id, pending);
    if (pending.timeoutMs > 0) this.wheel.add(pending, pending.timeoutMs);
    pending.signal?.addEventListener("abort", pending, ONCE);
    this.enqueue(pending.operation as PipelineOperation, bytes);
  }

  enqueue(operation: PipelineOperation, bytes: number): void {
    const size = bytes + OPERATION_OVERHEAD_BYTES;
    this.queue.push(operation);
    this.queueBytes.push(size);
    this.queuedBytes += size;
    if (this.queue.length >= this.options.maxBatchOperations || this.queuedBytes >= this.options.maxBatchBytes) {
      this.flush();
    } else {
      this.scheduleFlush();
    }
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: it collects everything issued in this turn of the event loop,
    // including by the continuations of the previous batch's results.
    setImmediate(this.onImmediate);
  }

  /**
   * Gives up on an operation: unsent ones are dropped, sent ones are cancelled on the server (and
   * a lock the server grants to one before the cancel arrives is released as soon as it arrives).
   */
  abandon(pending: PendingOperation, code: status, message: string): void {
    if (this.pending.get(pending.id) !== pending) return;
    this.settle(pending);
    if (pending.operation !== undefined) {
      this.unqueue(pending.operation);
    } else {
      this.cancelSent(pending);
    }
    pending.reject(new PipelineOperationError(code, message));
  }

  /** Drops a queued (unsent) operation. */
  private unqueue(operation: PipelineOperation): void {
    const at = this.queue.indexOf(operation);
    if (at < 0) return;
    this.queue.splice(at, 1);
    this.queuedBytes -= this.queueBytes.splice(at, 1)[0] ?? 0;
  }

  /**
   * Cancels a sent operation on the server. A Lock is remembered until its result arrives, since
   * the server may have granted it before the cancel reached it.
   */
  private cancelSent(pending: PendingOperation): void {
    this.cancelIds.push(pending.id);
    this.scheduleFlush();
    const lock = pending.lock;
    if (lock === undefined) return;
    // The server answers a Lock within its wait and its deadline, whichever ends first.
    const bound = pending.timeoutMs > 0 ? Math.min(lock.waitMs, pending.timeoutMs) : lock.waitMs;
    const abandoned = new AbandonedLock(pending.id, lock.app, lock.sessionId, this.abandonedLocks);
    this.abandonedLocks.set(pending.id, abandoned);
    this.wheel.add(abandoned, bound + ABANDONED_LOCK_GRACE_MS);
  }

  /** Sent Lock operations whose result is still awaited after they were abandoned (for tests). */
  get abandonedLockCount(): number {
    return this.abandonedLocks.size;
  }

  /**
   * Cancels the stream (the server drops its waiting operations at once: a half-close would let
   * them wait on) and fails what is still pending with `code`.
   */
  close(code: status, message: string): void {
    if (!this.dead) this.call.cancel();
    this.fail(code, message);
  }

  /** Takes an operation off the stream's books: deadline, abort listener, pending entry. */
  private settle(pending: PendingOperation): void {
    this.pending.delete(pending.id);
    if (pending.deadlineTick >= 0) this.wheel.remove(pending);
    pending.signal?.removeEventListener("abort", pending);
  }

  /**
   * Sends the queue as messages of at most the batch caps, while the transport accepts them.
   *
   * Adaptive batching: while a message written earlier is still on its way out (its write has not
   * completed, or the stream asked for a drain), nothing is sent; the operations issued meanwhile
   * accumulate and leave together when it completes. When idle the previous write is long done, so
   * an operation leaves in the turn it was issued (no added latency); under load, batches grow with
   * the time the transport takes. Each message stays within `maxBatchOperations` and
   * `maxBatchBytes` (a long queue leaves as several).
   */
  private flush(): void {
    if (this.dead || !this.writable || this.writesInFlight > 0) return;
    this.flushing = true;
    try {
      while (!this.dead && this.writable && (this.queue.length > 0 || this.cancelIds.length > 0)) {
        let count = 0;
        let bytes = 0;
        while (count < this.queue.length && count < this.options.maxBatchOperations) {
          const size = this.queueBytes[count] as number;
          if (count > 0 && bytes + size > this.options.maxBatchBytes) break;
          bytes += size;
          count++;
        }
        const operations = this.queue.splice(0, count);
        this.queueBytes.splice(0, count);
        this.queuedBytes -= bytes;
        for (const operation of operations) {
          const pending = this.pending.get(operation.id);
          if (pending !== undefined) pending.operation = undefined;
        }
        const request: PipelineRequest = { operations, cancelIds: this.cancelIds };
        this.cancelIds = [];
        this.writesInFlight++;
        // The answer, or more work from the caller, is likely to come within the window.
        eventLoopPoller.sent(this.options.pollMicros);
        // Respect the stream's flow control: hold further batches until the transport drains.
        if (!this.call.write(request, this.onWritten)) {
          this.writable = false;
          this.call.once("drain", this.onDrain);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private onResponse(response: PipelineResponse): void {
    eventLoopPoller.arrived(this.options.pollMicros);
    for (const result of response.results) {
      const abandoned = this.abandonedLocks.size === 0 ? undefined : this.abandonedLocks.get(result.id);
      if (abandoned !== undefined) {
        // Whatever the result (a grant, LOCKED, or the CANCELLED answer to our cancel id), it is
        // the operation's only one: stop waiting for it.
        this.abandonedLocks.delete(result.id);
        this.wheel.remove(abandoned);
        const outcome = result.result;
        if (outcome?.$case === "lock" && outcome.value.outcome === Outcome.OUTCOME_OK) this.releaseStaleGrant(abandoned, outcome.value.lockId);
        continue;
      }
      const pending = this.pending.get(result.id);
      if (pending === undefined || result.result === undefined) continue;
      this.settle(pending);
      const outcome = result.result;
      if (outcome.$case === "error") {
        pending.reject(toError(outcome.value));
      } else if (outcome.$case !== pending.kind) {
        pending.reject(new PipelineOperationError(status.INTERNAL, `the server answered a ${pending.kind} with a ${outcome.$case} result`));
      } else {
        pending.resolve(outcome.value);
      }
    }
  }

  /**
   * Gives back a lock granted to an operation nobody waits for any more. Fire-and-forget: its
   * result is ignored (an unknown id), and if it fails the lease still frees the lock. Its id is a
   * fresh one from the client's counter, so its result can never settle a caller's operation.
   */
  private releaseStaleGrant(target: AbandonedLock, lockId: bigint): void {
    if (this.dead) return;
    const operation: PipelineOperation = {
      id: this.allocateId(),
      timeoutMs: 0,
      request: { $case: "release", value: { app: target.app, sessionId: target.sessionId, lockId } },
    };
    this.enqueue(operation, 0);
  }

  /**
   * A stream refused for its credential (UNAUTHENTICATED when it opens without a valid one,
   * PERMISSION_DENIED) fails its operations with that status and the server's reason: a new stream
   * with the same credential would be refused alike, so it is no UNAVAILABLE to retry. Any other
   * end of a stream is a broken transport: UNAVAILABLE, and the next operation opens a new stream.
   */
  private onStreamError(error: ServiceError): void {
    const details = error.details || error.message;
    if (error.code === status.UNAUTHENTICATED || error.code === status.PERMISSION_DENIED) {
      this.fail(error.code, `the server refused the pipeline stream: ${details}`, reasonFromTrailers(error.metadata));
    } else {
      this.fail(error.code === status.CANCELLED ? status.CANCELLED : status.UNAVAILABLE, `the pipeline stream failed: ${details}`);
    }
  }

  private fail(code: status, message: string, reason: TrailerReason = NO_REASON): void {
    if (this.dead) return;
    this.dead = true;
    this.onDead(this);
    // A stream that dies drops its waiters on the server, and no result can arrive any more.
    for (const abandoned of this.abandonedLocks.values()) this.wheel.remove(abandoned);
    this.abandonedLocks.clear();
    const pending = [...this.pending.values()];
    this.queue = [];
    this.queueBytes = [];
    this.queuedBytes = 0;
    // Never retried: an operation that may have run (a Set, a Lock) must not run twice silently.
    for (const entry of pending) {
      this.settle(entry);
      entry.reject(new PipelineOperationError(code, message, reason.reason, reason.metadata));
    }
  }
}

function toError(error: OperationError): PipelineOperationError {
  // A decoded message's map is its own (nothing else holds it), so it is frozen rather than copied.
  return new PipelineOperationError(error.code as status, error.message, error.reason, Object.freeze(error.metadata));
}
