/**
 * The batched transport: the six session operations carried over long-lived `Pipeline` streams.
 * Operations issued in the same event-loop turn (up to a size cap) travel in one message, which
 * cuts the client's CPU per operation several-fold compared with one unary call each.
 */
import { Metadata, status, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import {
  LEGACY_REASON_TRAILER,
  Outcome,
  SessionStateClient,
  type ExpireRequest,
  type ExpireResponse,
  type GetRequest,
  type GetResponse,
  type LockRequest,
  type LockResponse,
  type OperationError,
  type PipelineOperation,
  type PipelineRequest,
  type PipelineResponse,
  type ReleaseRequest,
  type ReleaseResponse,
  type RemoveRequest,
  type RemoveResponse,
  type SetRequest,
  type SetResponse,
} from "@stateward/protocol";
import { resolveChannelSecurity, type TokenOptions } from "./channel-credentials";
import { NO_REASON, reasonFromTrailers, type TrailerReason } from "./status-trailers";

/**
 * The trailer with the bare refusal reason (`stateward-reason`): servers send it beside the
 * `google.rpc.ErrorInfo` (in `grpc-status-details-bin`) for clients that predate the ErrorInfo, and a
 * {@link PipelineOperationError}'s `metadata` carries it too. `StatewardError` reads both.
 */
export const REASON_KEY = LEGACY_REASON_TRAILER;

/**
 * Options of a {@link PipelineClient}. A `token` is composed into secure credentials (those of
 * `channelCredentials({ tls })`); over plaintext it is sent on every stream only with
 * `insecureToken`.
 */
export interface PipelineClientOptions extends TokenOptions {
  /** Most operations per message. Default 256. */
  readonly maxBatchOperations?: number;
  /** Approximate most payload bytes per message before it is sent. Default 256 KiB. */
  readonly maxBatchBytes?: number;
  /** Streams per endpoint, used round-robin. Default 1 (one stream already carries >100 k ops/s). */
  readonly streams?: number;
  /**
   * grpc-js channel options (keepalive, message sizes, ...). `grpc-node.flow_control_window`
   * defaults to {@link PIPELINE_FLOW_CONTROL_WINDOW_BYTES}; a `channelOverride` brings its own
   * channel, whose options are its creator's.
   */
  readonly channelOptions?: ChannelOptions;
  /** Observes each operation, e.g. tracing from `createPipelineTracing()` (telemetry.ts). */
  readonly operationHook?: PipelineOperationHook;
}

/**
 * Observes the operations of a {@link PipelineClient}. `start` runs synchronously as an operation
 * is issued (so the caller's context is the active one) and may set the operation's
 * `traceparent` / `tracestate`; the function it returns is called once when the operation settles,
 * with `undefined` on success or the error it failed with.
 */
export interface PipelineOperationHook {
  start(kind: string, operation: PipelineOperation): ((error: Error | undefined) => void) | undefined;
}

/** Per-operation options. */
export interface OperationOptions {
  /**
   * The operation's deadline in ms (0 or absent: none). Sent to the server, which answers a waiting
   * Get or Lock with OUTCOME_LOCKED shortly before it; if no answer has come when it passes, the
   * operation fails with DEADLINE_EXCEEDED and is cancelled on the server (as on abort, below).
   */
  readonly timeoutMs?: number;
  /**
   * Aborting cancels the operation: it fails with CANCELLED at once and leaves any lock queue. A
   * Lock that the server granted before the cancel reached it is released by the client as soon
   * as that grant arrives, so the session is not left locked for the whole lease.
   */
  readonly signal?: AbortSignal;
}

/** No reason metadata (shared, frozen). */
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/**
 * A failed pipeline operation. Shaped like grpc-js's `ServiceError` (code, details, metadata with
 * the `stateward-reason` entry), so code that handles unary errors by that trailer handles these too.
 */
export class PipelineOperationError extends Error implements ServiceError {
  override readonly name = "PipelineOperationError";
  /** The gRPC status code. */
  readonly code: status;
  /** The status message. */
  readonly details: string;
  /** Carries `stateward-reason` when the server gave one. */
  readonly metadata: Metadata;
  /** The server's stable reason ("" when none). */
  readonly reason: string;
  /** The facts that go with the reason (the OperationError's metadata, as a unary call's ErrorInfo's). */
  readonly reasonMetadata: Readonly<Record<string, string>>;

  constructor(code: status, details: string, reason = "", reasonMetadata: Readonly<Record<string, string>> = NO_METADATA) {
    super(`${code} ${status[code] ?? "UNKNOWN"}: ${details}`);
    this.code = code;
    this.details = details;
    this.reason = reason;
    this.reasonMetadata = reasonMetadata;
    this.metadata = new Metadata();
    if (reason !== "") this.metadata.set(REASON_KEY, reason);
  }
}

type Kind = "get" | "lock" | "set" | "release" | "expire" | "remove";

interface Pending {
  readonly id: bigint;
  readonly kind: Kind;
  readonly resolve: (value: never) => void;
  readonly reject: (error: Error) => void;
  readonly stream: PipelineStream;
  /** The operation while it is still queued (not yet written). */
  operation: PipelineOperation | undefined;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Lock operations: the request, to give back a grant that arrives after they were abandoned. */
  readonly lock: LockRequest | undefined;
  /** The operation's `timeout_ms` (0: none). */
  readonly timeoutMs: number;
}

/** A sent Lock the caller gave up on, whose one result is still to come. */
interface AbandonedLock {
  readonly app: string;
  readonly sessionId: string;
  readonly forget: NodeJS.Timeout;
}

/**
 * How long after its own wait and deadline an abandoned Lock's result is still awaited. A server
 * that answers every cancelled operation (CANCELLED) never needs this; one that drops cancelled
 * waiters silently would otherwise leave one entry per abandoned Lock for the stream's lifetime.
 * Generous, because forgetting too early only costs what the fix avoids (a lock left to its lease).
 */
const ABANDONED_LOCK_GRACE_MS = 60_000;

/** The longest delay `setTimeout` honours, in ms. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The HTTP/2 flow-control window a pipeline channel announces by default, per stream and per
 * connection (grpc-js's `grpc-node.flow_control_window`): 16 MiB, the server's own window
 * (SERVER_HTTP2_WINDOW_BYTES). With the protocol's 64 KiB default a stream carrying thousands of
 * results a second stalls until each WINDOW_UPDATE returns, which keeps batches small; the memory
 * at stake is what the client asked for anyway (the server answers only operations sent). A
 * `grpc-node.flow_control_window` in the client's `channelOptions` takes precedence.
 */
export const PIPELINE_FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/** The grpc-js channel option that sets the window, per stream and per connection. */
export const FLOW_CONTROL_WINDOW_OPTION = "grpc-node.flow_control_window";

/** Rough per-operation framing bytes, for the batch size cap. */
const OPERATION_OVERHEAD_BYTES = 64;

/** One long-lived stream with its send queue. */
class PipelineStream {
  readonly pending = new Map<bigint, Pending>();
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
  private flushScheduled = false;
  private dead = false;

  constructor(
    private readonly call: ClientDuplexStream<PipelineRequest, PipelineResponse>,
    private readonly options: Required<Pick<PipelineClientOptions, "maxBatchOperations" | "maxBatchBytes">>,
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
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Drops a queued (unsent) operation. */
  unqueue(operation: PipelineOperation): void {
    const at = this.queue.indexOf(operation);
    if (at < 0) return;
    this.queue.splice(at, 1);
    this.queuedBytes -= this.queueBytes.splice(at, 1)[0] ?? 0;
  }

  /**
   * Cancels a sent operation on the server. A Lock is remembered until its result arrives, since
   * the server may have granted it before the cancel reached it.
   */
  cancelSent(pending: Pending): void {
    this.cancelIds.push(pending.id);
    this.scheduleFlush();
    const lock = pending.lock;
    if (lock === undefined) return;
    // The server answers a Lock within its wait and its deadline, whichever ends first.
    const bound = pending.timeoutMs > 0 ? Math.min(lock.waitMs, pending.timeoutMs) : lock.waitMs;
    // Clamped: Node fires a longer timer at once (a uint32 wait can exceed its 2^31 - 1 ms limit).
    const forget = setTimeout(() => this.abandonedLocks.delete(pending.id), Math.min(bound + ABANDONED_LOCK_GRACE_MS, MAX_TIMER_MS));
    forget.unref();
    this.abandonedLocks.set(pending.id, { app: lock.app, sessionId: lock.sessionId, forget });
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

  /** Sends the queue as messages of at most the batch caps, while the transport accepts them. */
  private flush(): void {
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
      // Respect the stream's flow control: hold further batches until the transport drains.
      if (!this.call.write(request)) {
        this.writable = false;
        this.call.once("drain", () => {
          this.writable = true;
          this.flush();
        });
      }
    }
  }

  private onResponse(response: PipelineResponse): void {
    for (const result of response.results) {
      const abandoned = this.abandonedLocks.size === 0 ? undefined : this.abandonedLocks.get(result.id);
      if (abandoned !== undefined) {
        // Whatever the result (a grant, LOCKED, or the CANCELLED answer to our cancel id), it is
        // the operation's only one: stop waiting for it.
        this.abandonedLocks.delete(result.id);
        clearTimeout(abandoned.forget);
        const outcome = result.result;
        if (outcome?.$case === "lock" && outcome.value.outcome === Outcome.OUTCOME_OK) this.releaseStaleGrant(abandoned, outcome.value.lockId);
        continue;
      }
      const pending = this.pending.get(result.id);
      if (pending === undefined || result.result === undefined) continue;
      settle(pending);
      const outcome = result.result;
      if (outcome.$case === "error") {
        pending.reject(toError(outcome.value));
      } else if (outcome.$case !== pending.kind) {
        pending.reject(new PipelineOperationError(status.INTERNAL, `the server answered a ${pending.kind} with a ${outcome.$case} result`));
      } else {
        (pending.resolve as (value: unknown) => void)(outcome.value);
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
    for (const abandoned of this.abandonedLocks.values()) clearTimeout(abandoned.forget);
    this.abandonedLocks.clear();
    const pending = [...this.pending.values()];
    this.queue = [];
    this.queueBytes = [];
    this.queuedBytes = 0;
    // Never retried: an operation that may have run (a Set, a Lock) must not run twice silently.
    for (const entry of pending) {
      settle(entry);
      entry.reject(new PipelineOperationError(code, message, reason.reason, reason.metadata));
    }
  }
}

function toError(error: OperationError): PipelineOperationError {
  // A decoded message's map is its own (nothing else holds it), so it is frozen rather than copied.
  return new PipelineOperationError(error.code as status, error.message, error.reason, Object.freeze(error.metadata));
}

/** Takes an operation off its stream's books: timer, abort listener, pending entry. */
function settle(pending: Pending): void {
  pending.stream.pending.delete(pending.id);
  if (pending.timer !== undefined) clearTimeout(pending.timer);
  if (pending.onAbort !== undefined) pending.signal?.removeEventListener("abort", pending.onAbort);
}

/**
 * A client for the `SessionState` service that carries every operation over batched `Pipeline`
 * streams. Same request and response messages as the unary client; failures are
 * {@link PipelineOperationError}s with the same codes and reasons as the unary calls'.
 *
 * When a stream breaks, its in-flight operations fail with UNAVAILABLE (never retried: they may
 * have run) and the next operation opens a new stream. A stream the server refuses for its
 * credential fails them with UNAUTHENTICATED or PERMISSION_DENIED and the server's reason. An operation abandoned after it was sent
 * (abort, client-side timeout) is cancelled on the server; if it was a Lock that got granted in
 * the meantime, the grant is released as soon as it arrives.
 */
export class PipelineClient {
  private readonly client: SessionStateClient;
  private readonly streams: (PipelineStream | undefined)[];
  private readonly batchOptions: Required<Pick<PipelineClientOptions, "maxBatchOperations" | "maxBatchBytes">>;
  private readonly operationHook: PipelineOperationHook | undefined;
  /** The token as stream metadata, over plaintext with `insecureToken` only. */
  private readonly streamMetadata: Metadata | undefined;
  private nextStream = 0;
  private nextId = 1n;
  private closed = false;

  /**
   * @param address - `host:port` of a Stateward server.
   * @param credentials - `channelCredentials({ tls })` (TLS, files read now), or any grpc-js
   *   credentials such as `credentials.createInsecure()`.
   * @param options - token, batching and channel options.
   * @throws {@link StatewardError} INVALID_ARGUMENT for a token over plaintext without
   *   `insecureToken`, or a token given both here and in the credentials.
   */
  constructor(address: string, credentials: ChannelCredentials, options: PipelineClientOptions = {}) {
    const security = resolveChannelSecurity({ credentials, token: options.token, insecureToken: options.insecureToken }, "PipelineClient");
    this.client = new SessionStateClient(address, security.credentials, {
      [FLOW_CONTROL_WINDOW_OPTION]: PIPELINE_FLOW_CONTROL_WINDOW_BYTES,
      ...security.channelOptions,
      ...options.channelOptions,
    });
    this.streamMetadata = security.plaintextMetadata;
    this.operationHook = options.operationHook;
    this.streams = new Array<PipelineStream | undefined>(Math.max(1, options.streams ?? 1)).fill(undefined);
    this.batchOptions = {
      maxBatchOperations: Math.max(1, options.maxBatchOperations ?? 256),
      maxBatchBytes: Math.max(1, options.maxBatchBytes ?? 256 * 1024),
    };
  }

  /** Reads a session without locking it. */
  get(request: GetRequest, options?: OperationOptions): Promise<GetResponse> {
    return this.submit("get", { $case: "get", value: request }, 0, options);
  }

  /** Takes a session's lock. */
  lock(request: LockRequest, options?: OperationOptions): Promise<LockResponse> {
    return this.submit("lock", { $case: "lock", value: request }, 0, options);
  }

  /** Writes a session. */
  set(request: SetRequest, options?: OperationOptions): Promise<SetResponse> {
    return this.submit("set", { $case: "set", value: request }, request.data.length, options);
  }

  /** Releases a lock. */
  release(request: ReleaseRequest, options?: OperationOptions): Promise<ReleaseResponse> {
    return this.submit("release", { $case: "release", value: request }, 0, options);
  }

  /** Restarts a session's sliding window. */
  expire(request: ExpireRequest, options?: OperationOptions): Promise<ExpireResponse> {
    return this.submit("expire", { $case: "expire", value: request }, 0, options);
  }

  /** Deletes a session. */
  remove(request: RemoveRequest, options?: OperationOptions): Promise<RemoveResponse> {
    return this.submit("remove", { $case: "remove", value: request }, 0, options);
  }

  /** Ends the streams (pending operations fail with CANCELLED) and closes the channel. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams) stream?.close(status.CANCELLED, "the client was closed");
    this.client.close();
  }

  private submit<T>(kind: Kind, request: NonNullable<PipelineOperation["request"]>, bytes: number, options?: OperationOptions): Promise<T> {
    if (this.closed) return Promise.reject(new PipelineOperationError(status.CANCELLED, "the client was closed"));
    const signal = options?.signal;
    if (signal?.aborted === true) return Promise.reject(new PipelineOperationError(status.CANCELLED, "the operation was aborted"));
    const timeoutMs = Math.max(0, Math.floor(options?.timeoutMs ?? 0));
    const stream = this.pickStream();
    const id = this.nextId++;
    const operation: PipelineOperation = { id, timeoutMs, request };
    const done = this.operationHook?.start(kind, operation);
    return new Promise<T>((settleOk, settleError) => {
      const resolve = done === undefined ? settleOk : (value: T): void => (done(undefined), settleOk(value));
      const reject = done === undefined ? settleError : (error: Error): void => (done(error), settleError(error));
      const lock = request.$case === "lock" ? request.value : undefined;
      const pending: Pending = { id, kind, resolve: resolve as (value: never) => void, reject, stream, operation, timer: undefined, signal, onAbort: undefined, lock, timeoutMs };
      stream.pending.set(id, pending);
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => this.abandon(pending, status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`), timeoutMs);
      }
      if (signal !== undefined) {
        pending.onAbort = () => this.abandon(pending, status.CANCELLED, "the operation was aborted");
        signal.addEventListener("abort", pending.onAbort, { once: true });
      }
      stream.enqueue(operation, bytes);
    });
  }

  /**
   * Gives up on an operation: unsent ones are dropped, sent ones are cancelled on the server (and
   * a lock the server grants to one before the cancel arrives is released as soon as it arrives).
   */
  private abandon(pending: Pending, code: status, message: string): void {
    const stream = pending.stream;
    if (!stream.pending.has(pending.id)) return;
    settle(pending);
    if (pending.operation !== undefined) {
      stream.unqueue(pending.operation);
    } else {
      stream.cancelSent(pending);
    }
    pending.reject(new PipelineOperationError(code, message));
  }

  private pickStream(): PipelineStream {
    const index = this.nextStream;
    this.nextStream = (index + 1) % this.streams.length;
    let stream = this.streams[index];
    if (stream === undefined || stream.isDead) {
      stream = new PipelineStream(
        this.client.pipeline(this.streamMetadata?.clone() ?? new Metadata()),
        this.batchOptions,
        (dead) => {
          if (this.streams[index] === dead) this.streams[index] = undefined;
        },
        () => this.nextId++,
      );
      this.streams[index] = stream;
    }
    return stream;
  }
}
