/**
 * The Pipeline rpc: batches of the six operations over one bidirectional stream. Each operation
 * runs exactly as its unary twin (same conversions, same store call, same status mapping); only
 * the framing differs. Every operation is tracked from the moment it runs until its result is
 * queued, whether the store answers it at once, after a lock wait, or on a later turn (an
 * asynchronous backend). Results are sent as soon as each operation is done: those answered while
 * a batch runs together at the end of it, later ones coalesced per event-loop turn, in messages of
 * at most 4 MiB of results. Every operation gets exactly one result (a cancelled one gets
 * CANCELLED), so a client can always tell whether a lock it gave up on was granted meanwhile.
 */
import { performance } from "node:perf_hooks";
import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import { eventLoopPoller, type PipelineOperation, type PipelineRequest, type PipelineResponse, type PipelineResult } from "@stateward/protocol";
import type { Logger } from "../logger";
import type { AccessGuard, PipelineAccess } from "./access-guard";
import type { Clock } from "../store/clock";
import type { Cancellation } from "../store/session-backend";
import { NO_DEADLINE } from "../store/call-deadline";
import type { ExpireResult, GetResult, LockResult, ReleaseResult, RemoveResult, SetResult } from "../store/operations";
import type { SessionStore, StoreCompletion } from "../store/session-store";
import { operationDeadline } from "./deadline";
import { describeFailure, refusal, toOperationError, toStatus, unattendedCompletion, type Failure } from "./status-mapping";
import {
  toExpireInput,
  toExpireResponse,
  toGetInput,
  toGetResponse,
  toLockInput,
  toLockResponse,
  toReleaseInput,
  toReleaseResponse,
  toRemoveInput,
  toRemoveResponse,
  toSetInput,
  toSetResponse,
} from "./wire-conversion";

/** Limits and settings of the Pipeline streams. */
export interface PipelineSettings {
  /** Most operations per request message; the excess fails per operation. */
  readonly maxBatch: number;
  /**
   * Most operations in flight at once per stream (waiting for a lock, or for an asynchronous
   * backend's answer): the next one that may wait fails, and the stream stops running further
   * operations while this many are pending on the backend without waiting for a lock.
   */
  readonly maxInFlight: number;
  /**
   * After a request message comes in and after a response message is written, the event loop
   * keeps polling for this many microseconds instead of sleeping (0: never); see
   * `@stateward/protocol`'s event-loop-poller.ts.
   */
  readonly pollUs: number;
}

/** The Pipeline handler and a way to end every open stream (for shutdown). */
export interface PipelineService {
  /** The grpc-js handler for `SessionState/Pipeline`. */
  readonly handle: (call: ServerDuplexStream<PipelineRequest, PipelineResponse>) => void;
  /** Sends what is pending on every open stream and ends it (OK status): used at shutdown. */
  endAll(): void;
}

type Result = NonNullable<PipelineResult["result"]>;

/** A lock granted to an operation of a stream, until its answer is delivered. */
interface Grant {
  readonly app: string;
  readonly sessionId: string;
  readonly lockId: number;
}

/**
 * Observes each operation of every stream (telemetry: see pipeline-telemetry.ts). Absent, the
 * stream does no per-operation observation work at all.
 */
export interface PipelineObserver {
  /**
   * An operation starts running. The returned function is called exactly once: with its result
   * (`waited` true if the store queued it for a lock first), or with `undefined` if it was
   * cancelled or its stream ended before it was answered.
   */
  start(operation: PipelineOperation): OperationFinisher;
}

/** Ends the observation of one operation; see {@link PipelineObserver.start}. */
export type OperationFinisher = (result: Result | undefined, waited: boolean) => void;

/**
 * Creates the Pipeline handler over `store`.
 * @param store - the session store.
 * @param logger - receives the causes of INTERNAL answers.
 * @param limits - per-stream limits.
 * @param clock - the store's clock: operation timeouts are measured on it.
 * @param observer - telemetry; absent = none.
 * @param guard - with an auth file: authenticates each stream as it opens and authorises each
 *   operation; absent = every operation runs.
 */
export function createPipelineService(
  store: SessionStore,
  logger: Logger,
  limits: PipelineSettings,
  clock: Clock,
  observer?: PipelineObserver,
  guard?: AccessGuard,
): PipelineService {
  const open = new Set<PipelineStream>();
  return {
    handle(call) {
      let access: PipelineAccess | undefined;
      if (guard !== undefined) {
        access = guard.openPipeline(call);
        // Refused with UNAUTHENTICATED: nothing of it runs.
        if (access === undefined) return;
      }
      const stream = new PipelineStream(call, store, logger, limits, clock, () => open.delete(stream), observer, access);
      open.add(stream);
    },
    endAll() {
      for (const stream of [...open]) stream.end();
    },
  };
}

function errorResult(failure: Failure): Result {
  return { $case: "error", value: toOperationError(failure) };
}

function invalid(field: string, message: string): Result {
  return errorResult(refusal(status.INVALID_ARGUMENT, "INVALID_FIELD", message, { field }));
}

/**
 * Most result bytes (payloads and messages, approximately) in one response message; a single result
 * larger than this goes alone. Keeps every message far below the SDK's receive limit, and bounds
 * what one stream makes the server buffer: operations of a request are run only while the results
 * already written but not yet taken by the transport stay under it.
 */
export const MAX_RESPONSE_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Most result bytes one stream may hold for its client (written or not): beyond it, results of
 * waiting operations keep arriving faster than the client reads, and the stream is ended with
 * RESOURCE_EXHAUSTED.
 */
export const MAX_HELD_BYTES = 16 * 1024 * 1024;

/** How long a stream over {@link MAX_HELD_BYTES} of late results may go without its client taking any. */
export const STALL_MS = 1000;

/** Rough framing bytes per result (id, tags, scalar fields), for the message size cap. */
const RESULT_OVERHEAD_BYTES = 32;

/** The answer to operations held back by backpressure when the server shuts down. */
const SHUTTING_DOWN_RESULT: Result = Object.freeze(
  errorResult(refusal(status.UNAVAILABLE, "SHUTTING_DOWN", "the server is shutting down")),
);

/** The answer to an operation withdrawn by a cancel id: every operation gets exactly one result. */
const CANCELLED_RESULT: Result = Object.freeze(
  errorResult(refusal(status.CANCELLED, "OPERATION_CANCELLED", "the operation was cancelled by the client")),
);

const CLIENT_TOO_SLOW = refusal(
  status.RESOURCE_EXHAUSTED,
  "CLIENT_TOO_SLOW",
  `client too slow: the stream holds more than ${MAX_HELD_BYTES / (1024 * 1024)} MiB of results its client has not read`,
  { limit: String(MAX_HELD_BYTES) },
);

function resultBytes(result: Result): number {
  switch (result.$case) {
    case "get":
    case "lock":
      return RESULT_OVERHEAD_BYTES + result.value.data.length;
    case "error":
      return RESULT_OVERHEAD_BYTES + result.value.message.length;
    default:
      return RESULT_OVERHEAD_BYTES;
  }
}

/** The kinds of operation. */
type Kind = NonNullable<PipelineOperation["request"]>["$case"];

/**
 * One operation from the moment it runs until its result is queued, and the store's completion of
 * it (one object per operation: no closures on the hot path).
 */
class InFlight implements StoreCompletion<never> {
  /** The store's handle when the answer comes later (a wait, an asynchronous backend). */
  handle: Cancellation | undefined = undefined;
  /** The store said the operation waits in a session's queue. */
  waited = false;
  /** The operation's result has been queued (or dropped with its stream). */
  done = false;
  /** The store did not answer it while it ran: it was tracked in flight (its result comes late). */
  late = false;

  constructor(
    private readonly stream: PipelineStream,
    readonly id: bigint,
    readonly kind: Kind,
    /** Lock only: the key, to record (and if need be release) a grant. */
    private readonly key: { readonly app: string; readonly sessionId: string } | undefined,
    /** Its telemetry, when observed. */
    readonly finisher: OperationFinisher | undefined,
  ) {}

  resolve(answer: unknown): void {
    switch (this.kind) {
      case "get":
        this.stream.finish(this, { $case: "get", value: toGetResponse(answer as GetResult) });
        return;
      case "lock": {
        const result = answer as LockResult;
        const key = this.key as { readonly app: string; readonly sessionId: string };
        this.stream.finish(
          this,
          { $case: "lock", value: toLockResponse(result) },
          result.outcome === "ok" ? { app: key.app, sessionId: key.sessionId, lockId: result.lockId } : undefined,
        );
        return;
      }
      case "set":
        this.stream.finish(this, { $case: "set", value: toSetResponse(answer as SetResult) });
        return;
      case "release":
        this.stream.finish(this, { $case: "release", value: toReleaseResponse(answer as ReleaseResult) });
        return;
      case "expire":
        this.stream.finish(this, { $case: "expire", value: toExpireResponse(answer as ExpireResult) });
        return;
      case "remove":
        this.stream.finish(this, { $case: "remove", value: toRemoveResponse(answer as RemoveResult) });
        return;
    }
  }

  reject(error: unknown): void {
    this.stream.finishWithError(this, error);
  }

  waiting(): void {
    this.stream.markWaiting(this);
  }

  gone(): boolean {
    return this.stream.closed || this.stream.overflowing;
  }
}

/** One open Pipeline stream. */
class PipelineStream {
  /** Every operation running or waiting, by correlation id. */
  private readonly inFlight = new Map<bigint, InFlight>();
  /** Of those, the ones the store queued for a lock. */
  private waitingCount = 0;
  /** Operations received but not run yet (held back while the transport or the backend is full). */
  private backlog: PipelineOperation[] = [];
  /** When each backlog operation arrived (store clock): its `timeout_ms` counts from then. */
  private backlogArrivals: number[] = [];
  private backlogAt = 0;
  /**
   * Lock grants of messages written but not yet taken by the transport: if the stream breaks first,
   * nobody will ever release them, so the server does (with those still in the outbox).
   */
  private readonly unsentGrants = new Set<readonly Grant[]>();
  /** Grants among the outbox's results (a count, so that messages without any skip the search). */
  private outboxGrantCount = 0;
  /** Set once the stream is being ended for holding too much its client does not read. */
  overflowing = false;
  /** Set once the server ends the stream (shutdown): it ends when the backend has answered. */
  private ending = false;
  /** When the transport last took a message (real time, for the stall rule). */
  private lastProgressAt = performance.now();
  private stallTimer: NodeJS.Timeout | undefined;
  /** Ids cancelled while their operation was still in the backlog. */
  private readonly cancelledBeforeRun = new Set<bigint>();
  private outbox: PipelineResult[] = [];
  /** Per outbox entry: its size for the message cap, and the lock it grants (if any). */
  private outboxSizes: number[] = [];
  private outboxGrants: (Grant | undefined)[] = [];
  private outboxBytes = 0;
  /** Bytes of written messages the transport has not taken yet (their write callback is pending). */
  private unsentBytes = 0;
  private flushScheduled = false;
  /** The client half-closed: end once everything in flight is answered. */
  private inputEnded = false;
  /** The stream is over (ended, cancelled or failed): nothing more is sent. */
  closed = false;

  constructor(
    private readonly call: ServerDuplexStream<PipelineRequest, PipelineResponse>,
    private readonly store: SessionStore,
    private readonly logger: Logger,
    private readonly limits: PipelineSettings,
    private readonly clock: Clock,
    private readonly onClosed: () => void,
    private readonly observer?: PipelineObserver,
    private readonly access?: PipelineAccess,
  ) {
    this.releaseQuietly = unattendedCompletion(logger);
    // A revoked credential ends the stream: what waits for a lock is withdrawn, not granted.
    this.stopRevocation = access?.onRevoked((failure) => this.fail(failure));
    call.on("data", (request: PipelineRequest) => this.onRequest(request));
    call.on("end", () => {
      this.inputEnded = true;
      this.endIfIdle();
    });
    // The client went away (cancel, disconnect): every operation in flight is withdrawn where it
    // can be, and no queued lock is granted to it any more (gone turns true).
    call.on("cancelled", () => this.close());
    call.on("error", () => this.close());
    call.on("close", () => this.close());
  }

  /** Flushes and ends the stream with an OK status (shutdown, or input ended and nothing in flight). */
  end(): void {
    if (this.closed) return;
    if (!this.ending) {
      this.ending = true;
      // Operations held back by backpressure are answered too: every operation gets its result.
      for (let i = this.backlogAt; i < this.backlog.length; i++) this.emit((this.backlog[i] as PipelineOperation).id, SHUTTING_DOWN_RESULT);
      this.backlog = [];
      this.backlogArrivals = [];
      this.backlogAt = 0;
      // What the backend can still withdraw changed nothing: SHUTTING_DOWN. The rest is answered
      // by the backend (a write under way); the stream ends once those answers are in.
      for (const tracked of [...this.inFlight.values()]) {
        if (tracked.handle?.cancel() === true) this.finish(tracked, SHUTTING_DOWN_RESULT);
      }
    }
    // (Finishing the last of those may have ended the stream already.)
    if (this.closed || this.inFlight.size > 0) return;
    this.flush(true);
    // Handed to the transport with the stream's last messages: a clean end delivers them.
    this.unsentGrants.clear();
    this.close();
    this.call.end();
  }

  private onRequest(request: PipelineRequest): void {
    if (this.ending) {
      // The server is shutting down: nothing new runs.
      for (const operation of request.operations) this.emit(operation.id, SHUTTING_DOWN_RESULT);
      return;
    }
    eventLoopPoller.arrived(this.limits.pollUs);
    const arrived = this.clock.now();
    for (const id of request.cancelIds) this.cancel(id);
    const operations = request.operations;
    const maxBatch = this.limits.maxBatch;
    for (let i = 0; i < operations.length; i++) {
      const operation = operations[i] as PipelineOperation;
      if (i >= maxBatch) {
        this.emit(
          operation.id,
          errorResult(
            refusal(
              status.RESOURCE_EXHAUSTED,
              "BATCH_TOO_LARGE",
              `the batch has ${operations.length} operations; the limit (--max-pipeline-batch) is ${maxBatch}`,
              { limit: String(maxBatch) },
            ),
          ),
        );
        continue;
      }
      this.backlog.push(operation);
      this.backlogArrivals.push(arrived);
    }
    this.pump();
  }

  /**
   * A cancel id: an operation in flight is withdrawn if the store still can (a waiting one leaves
   * its queue), one not run yet is skipped; both are answered CANCELLED. One the store can no
   * longer withdraw is answered by its own result.
   */
  private cancel(id: bigint): void {
    const operation = this.inFlight.get(id);
    if (operation !== undefined) {
      if (operation.handle?.cancel() === true) this.finish(operation, CANCELLED_RESULT, undefined, true);
      return;
    }
    for (let i = this.backlogAt; i < this.backlog.length; i++) {
      if ((this.backlog[i] as PipelineOperation).id === id) {
        this.cancelledBeforeRun.add(id);
        return;
      }
    }
    // Otherwise already answered (its result is on the way) or unknown: nothing to do.
  }

  /** Operations pending on the backend that do not wait for a lock (they end by themselves). */
  private get pendingCount(): number {
    return this.inFlight.size - this.waitingCount;
  }

  /**
   * Runs the backlog while the transport takes what is written and the backend keeps up, then
   * sends the results: those of one request together, split into messages of at most
   * {@link MAX_RESPONSE_MESSAGE_BYTES}.
   */
  private pump(): void {
    while (!this.closed && !this.overflowing && this.backlogAt < this.backlog.length) {
      if (this.unsentBytes >= MAX_RESPONSE_MESSAGE_BYTES || this.outboxBytes >= MAX_RESPONSE_MESSAGE_BYTES) {
        // Backpressure: the client does not read as fast as we answer. Stop reading its requests
        // and running its operations until the transport drains (see onWritten).
        this.call.pause();
        return;
      }
      if (this.pendingCount >= this.limits.maxInFlight) {
        // The backend is behind: hold the rest until one of its answers comes (see finish).
        this.call.pause();
        return;
      }
      const arrived = this.backlogArrivals[this.backlogAt] as number;
      const operation = this.backlog[this.backlogAt++] as PipelineOperation;
      if (this.cancelledBeforeRun.delete(operation.id)) {
        this.emit(operation.id, CANCELLED_RESULT);
      } else {
        this.run(operation, arrived);
      }
      if (this.outboxBytes >= MAX_RESPONSE_MESSAGE_BYTES) this.flush(false);
    }
    if (this.backlogAt >= this.backlog.length) {
      this.backlog = [];
      this.backlogArrivals = [];
      this.backlogAt = 0;
    }
    this.flush(false);
    this.endIfIdle();
  }

  /** Refuses what cannot run; otherwise tracks the operation and hands it to the store. */
  private run(operation: PipelineOperation, arrived: number): void {
    const id = operation.id;
    const finisher = this.observer?.start(operation);
    const refusalResult = this.refusalOf(operation);
    if (refusalResult !== undefined) {
      finisher?.(refusalResult, false);
      this.emit(id, refusalResult);
      return;
    }
    const request = operation.request as NonNullable<PipelineOperation["request"]>;
    const tracked = new InFlight(this, id, request.$case, request.$case === "lock" ? request.value : undefined, finisher);
    let handle: Cancellation | undefined;
    try {
      handle = this.execute(request, tracked, operation.timeoutMs, arrived);
    } catch (error) {
      // The store answers through completions; a throw here is a bug of this layer.
      this.finishWithError(tracked, error);
      return;
    }
    // Answered while the store ran it (the memory backend, mostly): it was in flight only then.
    if (tracked.done) return;
    tracked.handle = handle;
    tracked.late = true;
    this.inFlight.set(id, tracked);
  }

  /** Why the stream refuses an operation before the store sees it (so it changes nothing), if it does. */
  private refusalOf(operation: PipelineOperation): Result | undefined {
    const id = operation.id;
    // Refused without touching the original: it stays tracked, cancellable and counted.
    if (this.inFlight.has(id)) {
      return errorResult(
        refusal(status.INVALID_ARGUMENT, "DUPLICATE_OPERATION_ID", `operation id ${id} is already in flight on this stream`, { field: "id" }),
      );
    }
    const request = operation.request;
    if (request === undefined) return invalid("request", "the operation has no request (set one of get, lock, set, release, expire, remove)");
    // Each operation on its own app: a denied one fails alone, the stream goes on.
    const denied = this.access?.check(request.value.app, request.$case);
    if (denied !== undefined) return errorResult(denied);
    const mayWait = (request.$case === "get" || request.$case === "lock") && request.value.waitMs > 0;
    const max = this.limits.maxInFlight;
    if (!mayWait || this.inFlight.size < max) return undefined;
    // An operation that may wait counts against the stream's cap.
    return errorResult(
      refusal(
        status.RESOURCE_EXHAUSTED,
        "TOO_MANY_IN_FLIGHT",
        `the stream already has ${this.inFlight.size} operations in flight; the limit (--max-pipeline-in-flight) is ${max}`,
        { limit: String(max) },
      ),
    );
  }

  private execute(request: NonNullable<PipelineOperation["request"]>, tracked: InFlight, timeoutMs: number, arrived: number): Cancellation | undefined {
    const store = this.store;
    switch (request.$case) {
      case "get": {
        const value = request.value;
        // Only a wait has to fit into the timeout.
        return store.get(toGetInput(value), tracked, value.waitMs > 0 ? operationDeadline(timeoutMs, arrived) : NO_DEADLINE);
      }
      case "lock":
        return store.lock(toLockInput(request.value), tracked, operationDeadline(timeoutMs, arrived));
      case "set":
        return store.set(toSetInput(request.value), tracked);
      case "release":
        return store.release(toReleaseInput(request.value), tracked);
      case "expire":
        return store.expire(toExpireInput(request.value), tracked);
      case "remove":
        return store.remove(toRemoveInput(request.value), tracked);
    }
  }

  /** A tracked operation failed (a refusal, or an internal error: logged, answered INTERNAL). */
  finishWithError(tracked: InFlight, error: unknown): void {
    this.finish(tracked, errorResult(describeFailure(error, this.logger)));
  }

  /** The store queued a tracked operation for a lock. */
  markWaiting(tracked: InFlight): void {
    if (tracked.waited || tracked.done) return;
    tracked.waited = true;
    this.waitingCount++;
    // One fewer pending on the backend: a stream held back for it may run (or refuse) the rest.
    this.resumeIfHeldBack();
  }

  /** Schedules the backlog again once fewer than the cap are pending on the backend. */
  private resumeIfHeldBack(): void {
    if (this.backlogAt < this.backlog.length && this.pendingCount === this.limits.maxInFlight - 1) setImmediate(this.resumeLater);
  }

  /**
   * A tracked operation is answered (or withdrawn, with `CANCELLED_RESULT`): it leaves the
   * in-flight set, its observation ends, its result is queued. A backend that was behind may take
   * the held-back operations again.
   */
  finish(tracked: InFlight, result: Result, grant?: Grant, withdrawn = false): void {
    if (tracked.done) return;
    tracked.done = true;
    const wasPending = !tracked.waited;
    if (tracked.waited) this.waitingCount--;
    this.inFlight.delete(tracked.id);
    // The result first: a failing observer must not cost the client its answer (or a grant).
    const delivered = !this.closed && !this.overflowing;
    this.emit(tracked.id, result, grant, tracked.waited, tracked.late);
    const finisher = tracked.finisher;
    if (finisher !== undefined) {
      try {
        finisher(withdrawn || !delivered ? undefined : result, tracked.waited);
      } catch (error) {
        describeFailure(error, this.logger);
      }
    }
    // Resume a stream held back because the backend was behind.
    if (wasPending) this.resumeIfHeldBack();
    // A stream being ended waits for the answers the backend still owes it.
    if (this.ending) this.endIfIdle();
  }

  private readonly resumeLater = (): void => {
    if (this.closed || this.unsentBytes >= MAX_RESPONSE_MESSAGE_BYTES || this.outboxBytes >= MAX_RESPONSE_MESSAGE_BYTES) return;
    this.call.resume();
    this.pump();
  };

  /**
   * Queues a result for sending. `afterWait` marks the result of an operation that waited for a
   * lock: such results arrive when others release, however slowly the client reads, and end a
   * stream that holds too much at once. `late` marks one the backend answered after it ran (an
   * asynchronous backend): a batch of those may arrive together for a client that reads, so they
   * end the stream only if it keeps holding too much while its client takes nothing for
   * {@link STALL_MS}.
   */
  private emit(id: bigint, result: Result, grant?: Grant, afterWait = false, late = false): void {
    // The stream is over or being ended: its results are not kept (the error status is its answer),
    // and a lock that came too late for it is released.
    if (this.closed || this.overflowing) {
      if (grant !== undefined) this.releaseGrant(grant);
      return;
    }
    const size = resultBytes(result);
    this.outbox.push({ id, result });
    this.outboxSizes.push(size);
    this.outboxGrants.push(grant);
    if (grant !== undefined) this.outboxGrantCount++;
    this.outboxBytes += size;
    if (this.outboxBytes + this.unsentBytes > MAX_HELD_BYTES) {
      if (afterWait) this.overflow();
      else if (late) this.checkStall();
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

  /**
   * Ends the stream with CLIENT_TOO_SLOW. Its operations are withdrawn now, so that the rest of a
   * release answers nothing more to it; the status goes out on the next turn, outside the store's
   * call.
   */
  private overflow(): void {
    if (this.overflowing || this.closed) return;
    this.overflowing = true;
    this.withdrawAll();
    setImmediate(() => this.fail(CLIENT_TOO_SLOW));
  }

  /** Holding too much: overflow if the client has taken nothing for {@link STALL_MS}, else look again then. */
  private readonly checkStall = (): void => {
    this.stallTimer = undefined;
    if (this.closed || this.overflowing || this.outboxBytes + this.unsentBytes <= MAX_HELD_BYTES) return;
    const stalledFor = performance.now() - this.lastProgressAt;
    if (stalledFor >= STALL_MS) {
      this.overflow();
      return;
    }
    this.stallTimer ??= setTimeout(this.checkStall, STALL_MS - stalledFor);
  };

  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush(false);
    this.endIfIdle();
  };
  /**
   * Writes the outbox as messages of at most {@link MAX_RESPONSE_MESSAGE_BYTES} of results (a larger
   * single result goes alone), as long as what the client has not taken stays within that (unless
   * `all`): the rest waits in the outbox for the write callbacks.
   */
  private flush(all: boolean): void {
    if (this.closed) return;
    const outbox = this.outbox;
    const sizes = this.outboxSizes;
    let from = 0;
    while (from < outbox.length) {
      let to = from;
      let bytes = 0;
      while (to < outbox.length) {
        const size = sizes[to] as number;
        if (to > from && bytes + size > MAX_RESPONSE_MESSAGE_BYTES) break;
        bytes += size;
        to++;
      }
      // At most 4 MiB not yet taken by the client (or one larger message alone).
      if (!all && this.unsentBytes > 0 && this.unsentBytes + bytes > MAX_RESPONSE_MESSAGE_BYTES) break;
      const results = from === 0 && to === outbox.length ? outbox : outbox.slice(from, to);
      const grants = this.outboxGrantCount === 0 ? undefined : this.takeGrants(from, to);
      from = to;
      this.unsentBytes += bytes;
      this.outboxBytes -= bytes;
      this.call.write({ results }, () => this.onWritten(bytes, grants));
      // The client's next message is likely to follow the answer within the window.
      eventLoopPoller.sent(this.limits.pollUs);
    }
    if (from === outbox.length) {
      this.outbox = [];
      this.outboxSizes = [];
      this.outboxGrants = [];
    } else if (from > 0) {
      this.outbox = outbox.slice(from);
      this.outboxSizes = sizes.slice(from);
      this.outboxGrants = this.outboxGrants.slice(from);
    }
  }

  /** The grants among outbox entries [from, to), now written: held until the transport takes them. */
  private takeGrants(from: number, to: number): readonly Grant[] | undefined {
    const grants: Grant[] = [];
    for (let i = from; i < to; i++) {
      const grant = this.outboxGrants[i];
      if (grant !== undefined) grants.push(grant);
    }
    if (grants.length === 0) return undefined;
    this.outboxGrantCount -= grants.length;
    this.unsentGrants.add(grants);
    return grants;
  }

  /** The transport took a message: send what waits, and run held-back operations again. */
  private onWritten(bytes: number, grants: readonly Grant[] | undefined): void {
    this.unsentBytes -= bytes;
    this.lastProgressAt = performance.now();
    if (grants !== undefined) this.unsentGrants.delete(grants);
    if (this.closed) return;
    this.flush(false);
    if (this.unsentBytes >= MAX_RESPONSE_MESSAGE_BYTES || this.outboxBytes >= MAX_RESPONSE_MESSAGE_BYTES) return;
    this.call.resume();
    if (this.backlogAt < this.backlog.length) this.pump();
    else this.endIfIdle();
  }

  private endIfIdle(): void {
    if (this.ending) {
      if (this.inFlight.size === 0) this.end();
      return;
    }
    if (this.inputEnded && this.inFlight.size === 0 && this.outbox.length === 0 && this.backlogAt >= this.backlog.length) {
      this.end();
    }
  }

  /**
   * Every operation in flight is withdrawn where the store still can, unanswered (the stream is
   * going away). One it cannot withdraw finishes by itself; a lock it is granted is released then.
   */
  private withdrawAll(): void {
    let waiting = 0;
    for (const tracked of [...this.inFlight.values()]) {
      if (tracked.handle?.cancel() === true) {
        tracked.done = true;
        this.inFlight.delete(tracked.id);
        tracked.finisher?.(undefined, tracked.waited);
      } else if (tracked.waited) {
        waiting++;
      }
    }
    this.waitingCount = waiting;
  }

  /** Ends the stream with an error status (its client reads too slowly). */
  private fail(failure: Failure): void {
    if (this.closed) return;
    this.close();
    this.call.emit("error", toStatus(failure));
  }

  /** Releases a lock its stream will never deliver (nobody would release it before its lease ends). */
  private releaseGrant(grant: Grant): void {
    this.store.release({ app: grant.app, sessionId: grant.sessionId, lockId: grant.lockId }, this.releaseQuietly);
  }

  private readonly releaseQuietly: ReturnType<typeof unattendedCompletion>;
  private readonly stopRevocation: (() => void) | undefined;

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopRevocation?.();
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    // Grants the client never got (the stream broke first) would stay locked for their lease.
    const undelivered = [...this.outboxGrants, ...[...this.unsentGrants].flat()];
    this.unsentGrants.clear();
    this.outboxGrants = [];
    this.outboxGrantCount = 0;
    for (const grant of undelivered) if (grant !== undefined) this.releaseGrant(grant);
    this.withdrawAll();
    this.outbox = [];
    this.outboxSizes = [];
    this.outboxBytes = 0;
    this.backlog = [];
    this.backlogArrivals = [];
    this.backlogAt = 0;
    this.cancelledBeforeRun.clear();
    this.onClosed();
  }
}
