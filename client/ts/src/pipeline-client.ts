/**
 * The batched transport: the six session operations carried over long-lived `Pipeline` streams.
 * Operations issued in the same event-loop turn (up to a size cap) travel in one message, and
 * more of them while the previous message is still being written (adaptive batching, see
 * pipeline-stream.ts), which cuts the client's CPU per operation several-fold compared with one
 * unary call each.
 */
import { Metadata, status, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream } from "@grpc/grpc-js";
import {
  SessionStateClient,
  SessionStateService,
  decodePipelineResponse,
  encodePipelineRequest,
  pollWindowProblem,
  type ExpireRequest,
  type ExpireResponse,
  type GetRequest,
  type GetResponse,
  type LockRequest,
  type LockResponse,
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
import { DeadlineWheel } from "./deadline-wheel";
import { StatewardError } from "./errors";
import { PipelineOperationError } from "./pipeline-operation-error";
import { PendingOperation, PipelineStream, type BatchLimits, type Kind } from "./pipeline-stream";

export { PipelineOperationError, REASON_KEY } from "./pipeline-operation-error";

/**
 * The HTTP/2 flow-control window a pipeline channel announces by default, per stream and per
 * connection (grpc-js's `grpc-node.flow_control_window`): 16 MiB, as wide as the server's
 * connection window (SERVER_HTTP2_CONNECTION_WINDOW_BYTES; the server's per-stream window is
 * 1 MiB). With the protocol's 64 KiB default a stream carrying thousands of results a second
 * stalls until each WINDOW_UPDATE returns, which keeps batches small; the memory at stake is what
 * the client asked for anyway (the server answers only operations sent). A
 * `grpc-node.flow_control_window` in the client's `channelOptions` takes precedence.
 */
export const PIPELINE_FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/** The default of {@link PipelineClientOptions.pollMicros}: 500 µs. */
export const DEFAULT_POLL_MICROS = 500;

/** The grpc-js channel option that sets the window, per stream and per connection. */
export const FLOW_CONTROL_WINDOW_OPTION = "grpc-node.flow_control_window";

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
  /**
   * After a message goes out or an answer comes in, how long the process's event loop keeps
   * polling instead of sleeping, in microseconds (0 to 10000; 0 = never). The answer then finds
   * the client awake instead of paying for a wake-up: on a 2-core VM a Get at one in flight went
   * from 140 to 40 µs round trip with the server polling too. Costs CPU within these windows only;
   * windows that run out with nothing new shrink and then stop, so request/answer with think time
   * longer than the window stops polling after a few calls (see `EventLoopPoller` in
   * `@stateward/protocol`), and nothing is spent while idle. Default 500.
   */
  readonly pollMicros?: number;
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
  private readonly batchOptions: BatchLimits;
  /** Every deadline of the client's operations, behind one timer. */
  private readonly wheel = new DeadlineWheel();
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
   * @throws {@link StatewardError} INVALID_ARGUMENT for a `pollMicros` out of range, a token over plaintext without
   *   `insecureToken`, or a token given both here and in the credentials.
   */
  constructor(address: string, credentials: ChannelCredentials, options: PipelineClientOptions = {}) {
    const pollMicros = options.pollMicros ?? DEFAULT_POLL_MICROS;
    const pollProblem = pollWindowProblem("pollMicros", pollMicros);
    if (pollProblem !== undefined) throw new StatewardError(status.INVALID_ARGUMENT, undefined, pollProblem, "connect");
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
      pollMicros,
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
    this.wheel.clear();
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
    const lock = request.$case === "lock" ? request.value : undefined;
    const pending = new PendingOperation(id, kind, stream, operation, timeoutMs, signal, lock, done);
    stream.submit(pending, bytes);
    return pending.promise as Promise<T>;
  }

  /**
   * Opens a Pipeline stream, as the generated `client.pipeline` would, but with the hand-written
   * codecs: requests encoded at their exact size (`encodePipelineRequest`: one allocation and one
   * copy of each Set's payload, where the generated encoder copies and moves it several times,
   * joining per operation), and responses decoded with `decodePipelineResponse`: Get and Lock
   * `data` are views into the received message rather than copies. A view keeps that whole message
   * alive while the caller holds it (see the decoder; copy with `Buffer.from(data)` to keep one
   * session's data for long).
   */
  private openPipeline(): ClientDuplexStream<PipelineRequest, PipelineResponse> {
    const method = SessionStateService.pipeline;
    return this.client.makeBidiStreamRequest(method.path, encodePipelineRequest, decodePipelineResponse, this.streamMetadata?.clone() ?? new Metadata());
  }

  private pickStream(): PipelineStream {
    const index = this.nextStream;
    this.nextStream = (index + 1) % this.streams.length;
    let stream = this.streams[index];
    if (stream === undefined || stream.isDead) {
      stream = new PipelineStream(
        this.openPipeline(),
        this.batchOptions,
        this.wheel,
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
