/**
 * The Pipeline rpc: batches of the six operations over one bidirectional stream. Each operation
 * runs exactly as its unary twin (same conversions, same store call, same status mapping); only
 * the framing differs. Results are sent as soon as each operation is done: the synchronous ones of
 * a batch together at the end of that batch, later ones (lock waits) coalesced per event-loop turn,
 * in messages of at most 4 MiB of results. Every operation gets exactly one result (a cancelled one
 * gets CANCELLED), so a client can always tell whether a lock it gave up on was granted meanwhile.
 */
import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import type { PipelineOperation, PipelineRequest, PipelineResponse, PipelineResult } from "@stateward/client";
import type { Logger } from "../logger";
import type { WaitHandle } from "../store/operations";
import type { SessionStore } from "../store/session-store";
import { canStillDeliver, tooLateToLock, tooLateToLockMessage, waitWithinDeadline } from "./deadline";
import { describeFailure, type Failure } from "./status-mapping";
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

/** Limits of one Pipeline stream. */
export interface PipelineLimits {
  /** Most operations per request message; the excess fails per operation. */
  readonly maxBatch: number;
  /** Most operations waiting at once per stream; the next waiting one fails. */
  readonly maxInFlight: number;
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
   * (`waited` true if it was queued for a lock first), or with `undefined` if it was cancelled or
   * its stream ended before it was answered.
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
 */
export function createPipelineService(
  store: SessionStore,
  logger: Logger,
  limits: PipelineLimits,
  observer?: PipelineObserver,
): PipelineService {
  const open = new Set<PipelineStream>();
  return {
    handle(call) {
      const stream = new PipelineStream(call, store, logger, limits, () => open.delete(stream), observer);
      open.add(stream);
    },
    endAll() {
      for (const stream of [...open]) stream.end();
    },
  };
}

function failureResult(failure: Failure): Result {
  return { $case: "error", value: { code: failure.code, message: failure.message, reason: failure.reason } };
}

/** The answer to a Lock whose timeout leaves no time to deliver a lock (see deadline.ts). */
function tooLateResult(remainingMs: number): Result {
  return {
    $case: "error",
    value: { code: status.DEADLINE_EXCEEDED, message: tooLateToLockMessage("the operation's timeout", remainingMs), reason: "" },
  };
}

function invalid(message: string): Result {
  return { $case: "error", value: { code: status.INVALID_ARGUMENT, message, reason: "INVALID_FIELD" } };
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

/** Rough framing bytes per result (id, tags, scalar fields), for the message size cap. */
const RESULT_OVERHEAD_BYTES = 32;

/** The answer to an operation cancelled by a cancel id: every operation gets exactly one result. */
const SHUTTING_DOWN_RESULT: Result = Object.freeze({
  $case: "error",
  value: Object.freeze({ code: status.UNAVAILABLE, message: "the server is shutting down", reason: "SHUTTING_DOWN" }),
});

const CANCELLED_RESULT: Result = Object.freeze({
  $case: "error",
  value: Object.freeze({ code: status.CANCELLED, message: "the operation was cancelled by the client", reason: "" }),
});

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

/** One open Pipeline stream. */
class PipelineStream {
  /** Operations answered later (lock waits), by correlation id. */
  private readonly waiting = new Map<bigint, WaitHandle>();
  /** Operations received but not run yet (held back while the transport is full). */
  private backlog: PipelineOperation[] = [];
  /** When each backlog operation arrived (epoch ms): its `timeout_ms` counts from then. */
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
  private overflowing = false;
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
  /** The client half-closed: end once everything waiting is answered. */
  private inputEnded = false;
  /** The stream is over (ended, cancelled or failed): nothing more is sent. */
  private closed = false;
  private readonly isActive = (): boolean => !this.closed;
  /** Observations of operations answered later (lock waits), by correlation id. */
  private readonly finishers = new Map<bigint, OperationFinisher>();
  /** The operation being run right now (its result may come synchronously), and its observation. */
  private runningId: bigint | undefined;
  private runningFinisher: OperationFinisher | undefined;
  /** Set when the operation being run got its result synchronously. */
  private answeredNow = false;

  constructor(
    private readonly call: ServerDuplexStream<PipelineRequest, PipelineResponse>,
    private readonly store: SessionStore,
    private readonly logger: Logger,
    private readonly limits: PipelineLimits,
    private readonly onClosed: () => void,
    private readonly observer?: PipelineObserver,
  ) {
    call.on("data", (request: PipelineRequest) => this.onRequest(request));
    call.on("end", () => {
      this.inputEnded = true;
      this.endIfIdle();
    });
    // The client went away (cancel, disconnect): every waiting operation leaves its queue at once,
    // and none will be granted a lock (isActive turns false).
    call.on("cancelled", () => this.close());
    call.on("error", () => this.close());
    call.on("close", () => this.close());
  }

  /** Flushes and ends the stream with an OK status (shutdown, or input ended and nothing waits). */
  end(): void {
    if (this.closed) return;
    // Operations held back by backpressure are answered too: every operation gets its result.
    for (let i = this.backlogAt; i < this.backlog.length; i++) this.emit((this.backlog[i] as PipelineOperation).id, SHUTTING_DOWN_RESULT, false);
    this.backlog = [];
    this.backlogArrivals = [];
    this.backlogAt = 0;
    this.flush(true);
    // Handed to the transport with the stream's last messages: a clean end delivers them.
    this.unsentGrants.clear();
    this.close();
    this.call.end();
  }

  private onRequest(request: PipelineRequest): void {
    const arrived = Date.now();
    for (const id of request.cancelIds) this.cancel(id);
    const operations = request.operations;
    for (let i = 0; i < operations.length; i++) {
      const operation = operations[i] as PipelineOperation;
      if (i >= this.limits.maxBatch) {
        this.emit(
          operation.id,
          {
            $case: "error",
            value: {
              code: status.RESOURCE_EXHAUSTED,
              message: `the batch has ${operations.length} operations; the limit (max-pipeline-batch) is ${this.limits.maxBatch}`,
              reason: "BATCH_TOO_LARGE",
            },
          },
          false,
        );
        continue;
      }
      this.backlog.push(operation);
      this.backlogArrivals.push(arrived);
    }
    this.pump();
  }

  /** A cancel id: a waiting operation leaves its queue, a not yet run one is skipped; both answer CANCELLED. */
  private cancel(id: bigint): void {
    const handle = this.waiting.get(id);
    if (handle !== undefined) {
      this.waiting.delete(id);
      handle.cancel();
      this.finishObservation(id, undefined);
      this.emit(id, CANCELLED_RESULT, false);
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

  /**
   * Runs the backlog while the transport takes what is written, then sends the results: those of
   * one request together, split into messages of at most {@link MAX_RESPONSE_MESSAGE_BYTES}.
   */
  private pump(): void {
    while (!this.closed && this.backlogAt < this.backlog.length) {
      if (this.unsentBytes >= MAX_RESPONSE_MESSAGE_BYTES || this.outboxBytes >= MAX_RESPONSE_MESSAGE_BYTES) {
        // Backpressure: the client does not read as fast as we answer. Stop reading its requests
        // and running its operations until the transport drains (see onWritten).
        this.call.pause();
        return;
      }
      const arrived = this.backlogArrivals[this.backlogAt] as number;
      const operation = this.backlog[this.backlogAt++] as PipelineOperation;
      if (this.cancelledBeforeRun.delete(operation.id)) {
        this.emit(operation.id, CANCELLED_RESULT, false);
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

  private run(operation: PipelineOperation, arrived: number): void {
    const observer = this.observer;
    if (observer === undefined) {
      this.execute(operation, arrived);
      return;
    }
    const finisher = observer.start(operation);
    this.runningId = operation.id;
    this.runningFinisher = finisher;
    try {
      this.execute(operation, arrived);
    } finally {
      this.runningId = undefined;
      this.runningFinisher = undefined;
    }
    // Not answered synchronously: it waits for a lock (the result or a cancellation ends it later).
    if (!this.answeredNow) this.finishers.set(operation.id, finisher);
    this.answeredNow = false;
  }

  /** Ends the observation of operation `id`, if observed and not ended yet. */
  private finishObservation(id: bigint, result: Result | undefined): void {
    if (this.runningFinisher !== undefined && this.runningId === id) {
      const finisher = this.runningFinisher;
      this.runningFinisher = undefined;
      this.answeredNow = true;
      finisher(result, false);
      return;
    }
    const finisher = this.finishers.get(id);
    if (finisher !== undefined) {
      this.finishers.delete(id);
      finisher(result, true);
    }
  }

  private execute(operation: PipelineOperation, arrived: number): void {
    const id = operation.id;
    if (this.waiting.has(id)) {
      // Refused without touching the original: it stays tracked, cancellable and counted.
      this.emit(id, invalid(`operation id ${id} is already in flight on this stream`), false);
      return;
    }
    const request = operation.request;
    if (request === undefined) {
      this.emit(id, invalid("the operation has no request (set one of get, lock, set, release, expire, remove)"));
      return;
    }
    try {
      switch (request.$case) {
        case "get": {
          const waitMs = this.waitMs(request.value.waitMs, operation.timeoutMs, arrived);
          if (this.refuseIfFull(id, waitMs)) return;
          this.track(
            id,
            this.store.get(toGetInput(request.value, waitMs), {
              resolve: (result) => this.emit(id, { $case: "get", value: toGetResponse(result) }),
              reject: (error) => this.emit(id, failureResult(describeFailure(error, this.logger))),
            }),
          );
          return;
        }
        case "lock": {
          const timeoutMs = operation.timeoutMs;
          if (timeoutMs > 0) {
            const remaining = arrived + timeoutMs - Date.now();
            if (tooLateToLock(remaining, timeoutMs)) {
              // As the unary Lock: a lock granted now could not reach the caller in time.
              this.emit(id, tooLateResult(remaining), false);
              return;
            }
          }
          const waitMs = this.waitMs(request.value.waitMs, timeoutMs, arrived);
          if (this.refuseIfFull(id, waitMs)) return;
          const input = toLockInput(request.value, waitMs);
          this.track(
            id,
            this.store.lock(input, {
              resolve: (result) =>
                this.emit(id, { $case: "lock", value: toLockResponse(result) }, true, result.outcome === "ok" ? { app: input.app, sessionId: input.sessionId, lockId: result.lockId } : undefined),
              reject: (error) => this.emit(id, failureResult(describeFailure(error, this.logger))),
              // A grant too close to the operation's own timeout could not arrive in time.
              isActive: waitMs > 0 && timeoutMs > 0 ? canStillDeliver(() => this.closed, arrived + timeoutMs, arrived) : this.isActive,
              dropped: () => this.emit(id, tooLateResult(arrived + timeoutMs - Date.now())),
            }),
          );
          return;
        }
        case "set":
          this.emit(id, { $case: "set", value: toSetResponse(this.store.set(toSetInput(request.value))) });
          return;
        case "release":
          this.emit(id, { $case: "release", value: toReleaseResponse(this.store.release(toReleaseInput(request.value))) });
          return;
        case "expire":
          this.emit(id, { $case: "expire", value: toExpireResponse(this.store.expire(toExpireInput(request.value))) });
          return;
        case "remove":
          this.emit(id, { $case: "remove", value: toRemoveResponse(this.store.remove(toRemoveInput(request.value))) });
          return;
      }
    } catch (error) {
      this.emit(id, failureResult(describeFailure(error, this.logger)));
    }
  }

  /** The wait to ask the store for: the requested one, within the operation's own timeout (from its arrival). */
  private waitMs(requestedMs: number, timeoutMs: number, arrived: number): number {
    if (requestedMs === 0 || timeoutMs === 0) return requestedMs;
    return waitWithinDeadline(requestedMs, arrived + timeoutMs, Date.now());
  }

  /**
   * An operation that may wait counts against the stream's cap; past it, it fails before reaching
   * the store, so it changes nothing.
   */
  private refuseIfFull(id: bigint, waitMs: number): boolean {
    if (waitMs === 0 || this.waiting.size < this.limits.maxInFlight) return false;
    this.emit(id, {
      $case: "error",
      value: {
        code: status.RESOURCE_EXHAUSTED,
        message: `the stream already has ${this.waiting.size} waiting operations; the limit (max-pipeline-in-flight) is ${this.limits.maxInFlight}`,
        reason: "TOO_MANY_IN_FLIGHT",
      },
    });
    return true;
  }

  /** Records an operation that waits (the store returned a handle) so it can be cancelled. */
  private track(id: bigint, handle: WaitHandle | undefined): void {
    if (handle !== undefined) this.waiting.set(id, handle);
  }

  /**
   * Queues an operation's result. `untrack` false is for answers that do not end a tracked waiting
   * operation (refusals, cancellation acknowledgements).
   */
  private emit(id: bigint, result: Result, untrack = true, grant?: Grant): void {
    if (this.observer !== undefined) {
      // A refusal ends only the observation of the operation being run, never a tracked one's.
      if (untrack || (this.runningId === id && this.runningFinisher !== undefined)) this.finishObservation(id, result);
    }
    if (this.closed) return;
    if (untrack) this.waiting.delete(id);
    // The stream is being ended: its results are not kept (the error status is its answer).
    if (this.overflowing) return;
    const size = resultBytes(result);
    this.outbox.push({ id, result });
    this.outboxSizes.push(size);
    this.outboxGrants.push(grant);
    if (grant !== undefined) this.outboxGrantCount++;
    this.outboxBytes += size;
    if (this.outboxBytes + this.unsentBytes > MAX_HELD_BYTES) {
      // Results of waiting operations keep coming while the client does not read: end the stream
      // rather than hold them without bound. Its waiters leave their queues now, so that the rest
      // of this release answers nothing more to it; the status goes out on the next turn, outside
      // the store's call.
      this.overflowing = true;
      this.dropWaiters();
      setImmediate(() => this.fail(status.RESOURCE_EXHAUSTED, "client too slow: the stream holds more than 16 MiB of results its client has not read"));
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

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
    if (grants !== undefined) this.unsentGrants.delete(grants);
    if (this.closed) return;
    this.flush(false);
    if (this.unsentBytes >= MAX_RESPONSE_MESSAGE_BYTES || this.outboxBytes >= MAX_RESPONSE_MESSAGE_BYTES) return;
    this.call.resume();
    if (this.backlogAt < this.backlog.length) this.pump();
    else this.endIfIdle();
  }

  private endIfIdle(): void {
    if (this.inputEnded && this.waiting.size === 0 && this.outbox.length === 0 && this.backlogAt >= this.backlog.length) {
      this.end();
    }
  }

  /** Every waiting operation leaves its queue, unanswered (the stream is going away). */
  private dropWaiters(): void {
    for (const handle of this.waiting.values()) handle.cancel();
    this.waiting.clear();
    for (const finisher of this.finishers.values()) finisher(undefined, true);
    this.finishers.clear();
  }

  /** Ends the stream with an error status (its client reads too slowly). */
  private fail(code: status, details: string): void {
    if (this.closed) return;
    this.close();
    this.call.emit("error", { code, details });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    // Grants the client never got (the stream broke first) would stay locked for their lease.
    const undelivered = [...this.outboxGrants, ...[...this.unsentGrants].flat()];
    this.unsentGrants.clear();
    this.outboxGrants = [];
    this.outboxGrantCount = 0;
    for (const grant of undelivered) {
      if (grant === undefined) continue;
      try {
        this.store.release({ app: grant.app, sessionId: grant.sessionId, lockId: grant.lockId });
      } catch (error) {
        describeFailure(error, this.logger);
      }
    }
    this.dropWaiters();
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
