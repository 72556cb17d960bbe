/**
 * The high-level client: the six session operations with typed results, deadlines on every call,
 * one error class, safe retries, partitioning over several nodes, and the lock patterns
 * (`withLock`, `beginRequest`/`endRequest`) built on them.
 */
import * as grpc from "@grpc/grpc-js";
import { status, type ChannelCredentials, type ChannelOptions, type Metadata } from "@grpc/grpc-js";
import {
  ExpireRequest,
  GetRequest,
  LockRequest,
  ReleaseRequest,
  RemoveRequest,
  SessionStateClient,
  SetRequest,
  type ExpireResponse,
  type GetResponse,
  type LockResponse,
  type ReleaseResponse,
  type RemoveResponse,
  type SetResponse,
} from "@stateward/protocol";
import { FLOW_CONTROL_WINDOW_OPTION, PIPELINE_FLOW_CONTROL_WINDOW_BYTES, PipelineClient, type PipelineClientOptions } from "./pipeline-client";
import { resolveChannelSecurity, type TlsOptions, type TokenOptions } from "./channel-credentials";
import { createPipelineTracing, createTracingInterceptor, type ClientTracingOptions } from "./telemetry";
import { StatewardError, toStatewardError, type StatewardOperation } from "./errors";
import { Partitioner, type EndpointConfig, type EndpointLike } from "./partitioning";
import {
  toExpireResult,
  toGetResult,
  toLockResult,
  toReleaseResult,
  toRemoveResult,
  toSetResult,
  type ExpireResult,
  type GetResult,
  type LockResult,
  type ReleaseResult,
  type RemoveResult,
  type SetResult,
} from "./results";
import { withLock, type WithLockFunction, type WithLockOptions, type WithLockResult } from "./with-lock";
import {
  beginRequest,
  endRequest,
  type BeginRequestOptions,
  type BeginRequestResult,
  type EndRequestOptions,
  type EndRequestResult,
  type SessionRequest,
} from "./request-lifecycle";

/** Default address when neither `address` nor `endpoints` is given: the server's default. */
export const DEFAULT_ADDRESS = "127.0.0.1:42424";

/**
 * Default deadline of a call that does not wait, in ms; a waiting Get or Lock adds its wait. The same
 * in the Python and Go clients (docs/client-behaviour.md).
 */
export const DEFAULT_TIMEOUT_MS = 5_000;

/** Metadata given as a grpc-js `Metadata` or as plain string pairs. */
export type MetadataLike = Metadata | Readonly<Record<string, string>>;

/** Options every operation takes. */
export interface CallOptions {
  /**
   * The call's deadline in ms from now. Default: the client's `defaultTimeoutMs`, plus `waitMs` for
   * a waiting Get or Lock (so that a long wait is not cut short by the default deadline).
   */
  readonly timeoutMs?: number;
  /** Aborting cancels the call: it fails with CANCELLED, and a waiting Get or Lock leaves its queue. */
  readonly signal?: AbortSignal;
  /**
   * Metadata for this call only (e.g. auth headers), added to the client's `metadata`. A pipeline
   * stream's metadata is fixed when it opens, so a call with its own metadata travels unary.
   */
  readonly metadata?: MetadataLike;
}

/** Options of {@link SessionClient.get}. */
export interface GetOptions extends CallOptions {
  /** If a writer holds the lock, wait up to this many ms for it to be released (server-side). Default 0. */
  readonly waitMs?: number;
}

/** Options of {@link SessionClient.lock}. */
export interface LockOptions extends CallOptions {
  /** If another writer holds the lock, wait up to this many ms in the session's FIFO queue. Default 0. */
  readonly waitMs?: number;
  /** The lock's lease in ms; the server releases the lock when it ends. Default: the server's (110,000). */
  readonly leaseMs?: number;
  /** Create a missing session (empty, version 1) and lock it in one step. Default false. */
  readonly create?: boolean;
  /** TTL in seconds of a session created by this call. Default: the server's (1,200). */
  readonly ttlSeconds?: number;
}

/** Options of {@link SessionClient.set}. */
export interface SetOptions extends CallOptions {
  /** New sliding-expiry window in seconds. Default: keep the session's (new sessions: the server's). */
  readonly ttlSeconds?: number;
  /**
   * Write as the lock's holder; the write also releases the lock unless `keepLock`. Without it the
   * write is unlocked, allowed only when nobody holds the lock.
   */
  readonly lockId?: bigint;
  /** With `lockId`: keep the lock after the write (its lease is not renewed). */
  readonly keepLock?: boolean;
  /** Write only if the session's version is this one (optimistic concurrency). */
  readonly expectedVersion?: bigint;
  /** Create the session only if it is missing; otherwise nothing changes (outcome `exists`). */
  readonly onlyIfAbsent?: boolean;
}

/** Options of {@link SessionClient.release}. */
export type ReleaseOptions = CallOptions;

/** Options of {@link SessionClient.expire}. */
export interface ExpireOptions extends CallOptions {
  /** New ttl in seconds. Default: keep the session's. */
  readonly ttlSeconds?: number;
}

/** Options of {@link SessionClient.remove}. */
export interface RemoveOptions extends CallOptions {
  /** The holder's lock id, needed only if the session is locked. */
  readonly lockId?: bigint;
}

/**
 * Retry policy for UNAVAILABLE answers of the idempotent operations (Get, Expire, Release); Lock,
 * Set and Remove are never retried, since they may have run. Unary calls retry through grpc-js's
 * service config (`retryPolicy`), pipeline operations through the same policy applied by the SDK.
 */
export interface RetryOptions {
  /** Attempts in all, including the first (grpc-js caps it at 5). Default 4. 1 disables retries. */
  readonly maxAttempts?: number;
  /** Backoff before the first retry in ms (randomised, as gRPC does). Default 50. */
  readonly initialBackoffMs?: number;
  /** Longest backoff in ms. Default 1,000. */
  readonly maxBackoffMs?: number;
  /** Factor by which the backoff grows. Default 2. */
  readonly backoffMultiplier?: number;
}

/** Options of a {@link SessionClient}. */
export interface SessionClientOptions extends TokenOptions {
  /** One Stateward server, `host:port`. Default `127.0.0.1:42424` when `endpoints` is absent too. */
  readonly address?: string;
  /**
   * Several Stateward nodes: each (app, sessionId) goes to one of them by rendezvous hashing (see
   * `proto/PARTITIONING.md`), so adding or removing a node moves only its share of sessions. Give
   * every client of a farm the same list (same strings or node ids); order does not matter.
   */
  readonly endpoints?: readonly EndpointLike[];
  /**
   * Channel credentials, for what `tls` does not cover. Default: plaintext (loopback), or TLS when
   * `tls` is given; not both. A `token` is composed into secure credentials.
   */
  readonly credentials?: ChannelCredentials;
  /** TLS: the CA to trust, a client certificate for mutual TLS, the server name. */
  readonly tls?: TlsOptions;
  /**
   * `"pipeline"` (default): operations are batched over long-lived streams, several times cheaper
   * per call. `"unary"`: one gRPC call per operation.
   */
  readonly transport?: "pipeline" | "unary";
  /** Deadline in ms of calls without their own `timeoutMs` (a waiting call adds its `waitMs`). Default 5,000. */
  readonly defaultTimeoutMs?: number;
  /** Metadata sent with every call and on every pipeline stream (for a bearer token, use `token`). */
  readonly metadata?: MetadataLike;
  /** Retries of idempotent operations on UNAVAILABLE; `false` disables them. */
  readonly retry?: RetryOptions | false;
  /**
   * grpc-js channel options, over the SDK's defaults ({@link DEFAULT_CHANNEL_OPTIONS}: keepalive,
   * reconnect backoff, message size, retry service config).
   */
  readonly channelOptions?: ChannelOptions;
  /** Batching options of the pipeline transport (and its `operationHook`); the token is the client's. */
  readonly pipeline?: Omit<PipelineClientOptions, "channelOptions" | keyof TokenOptions>;
  /** grpc-js client interceptors, on every unary call and pipeline stream. */
  readonly interceptors?: readonly grpc.Interceptor[];
  /**
   * OpenTelemetry client spans for every operation, on either transport (`true`: the global
   * tracer provider and propagator). Without an OpenTelemetry SDK registered this costs nothing.
   * Spans never carry session ids or data.
   */
  readonly tracing?: boolean | ClientTracingOptions;
}

/**
 * Channel defaults, documented because they decide how a farm behaves when a node restarts:
 *
 * - `grpc.keepalive_time_ms` 30 s / `grpc.keepalive_timeout_ms` 10 s: a silently dead peer (a
 *   node that lost power, a NAT that dropped the flow) is noticed within ~40 s while a call or a
 *   pipeline stream is open, instead of at the next TCP timeout (minutes). Pings are sent only
 *   while calls are active (`grpc.keepalive_permit_without_calls` 0), which servers accept.
 * - `grpc.initial_reconnect_backoff_ms` 250 / `grpc.max_reconnect_backoff_ms` 5 s: a restarted
 *   node is found again within seconds (grpc's default maximum is 120 s).
 * - `grpc.max_receive_message_length` unlimited (-1): the server bounds what it sends (an item is
 *   at most its `--max-item-bytes`, up to 1 GiB, and a pipeline batch can carry many sessions), so a
 *   client-side cap would only break reads of items the server accepted.
 * - With the pipeline transport, `grpc-node.flow_control_window`
 *   {@link PIPELINE_FLOW_CONTROL_WINDOW_BYTES} (16 MiB) on the node's channel, which the pipeline
 *   shares (not in this object: the unary transport keeps grpc-js's default).
 *
 * The same values as the Python and Go clients' (docs/client-behaviour.md).
 */
export const DEFAULT_CHANNEL_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 0,
  "grpc.initial_reconnect_backoff_ms": 250,
  "grpc.max_reconnect_backoff_ms": 5_000,
  "grpc.max_receive_message_length": -1,
  "grpc.enable_retries": 1,
});

/** The gRPC service name, as the service config names it. */
const SERVICE = "stateward.v1.SessionState";

/** The operations that are safe to run twice (idempotent). */
const IDEMPOTENT = new Set<StatewardOperation>(["get", "expire", "release"]);

type ResolvedRetry = Required<RetryOptions>;

/**
 * Defaults of {@link RetryOptions}: 4 attempts in all, backoffs from 50 ms doubling up to 1 s, each
 * retry after a random delay up to the backoff (gRPC's retry policy; the same in the Python and Go
 * clients, docs/client-behaviour.md).
 */
export const DEFAULT_RETRY: Readonly<ResolvedRetry> = Object.freeze({ maxAttempts: 4, initialBackoffMs: 50, maxBackoffMs: 1_000, backoffMultiplier: 2 });

function resolveRetry(retry: RetryOptions | false | undefined): ResolvedRetry {
  if (retry === false) return { ...DEFAULT_RETRY, maxAttempts: 1 };
  return {
    maxAttempts: Math.max(1, Math.min(5, Math.floor(retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts))),
    initialBackoffMs: Math.max(1, retry?.initialBackoffMs ?? DEFAULT_RETRY.initialBackoffMs),
    maxBackoffMs: Math.max(1, retry?.maxBackoffMs ?? DEFAULT_RETRY.maxBackoffMs),
    backoffMultiplier: Math.max(1, retry?.backoffMultiplier ?? DEFAULT_RETRY.backoffMultiplier),
  };
}

/**
 * The grpc-js service config carrying the retry policy: UNAVAILABLE only, Get/Expire/Release only.
 * Exported so that users of the raw stubs can apply the same policy.
 */
export function retryServiceConfig(retry: RetryOptions = {}): string {
  const policy = resolveRetry(retry);
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(3)}s`;
  const methodConfig =
    policy.maxAttempts < 2
      ? []
      : [
          {
            name: ["Get", "Expire", "Release"].map((method) => ({ service: SERVICE, method })),
            retryPolicy: {
              maxAttempts: policy.maxAttempts,
              initialBackoff: seconds(policy.initialBackoffMs),
              maxBackoff: seconds(policy.maxBackoffMs),
              backoffMultiplier: policy.backoffMultiplier,
              retryableStatusCodes: ["UNAVAILABLE"],
            },
          },
        ];
  return JSON.stringify({ methodConfig });
}

function toMetadata(value: MetadataLike | undefined): grpc.Metadata {
  if (value === undefined) return new grpc.Metadata();
  if (value instanceof grpc.Metadata) return value.clone();
  const metadata = new grpc.Metadata();
  for (const [key, entry] of Object.entries(value)) metadata.set(key, entry);
  return metadata;
}

/**
 * The client-wide metadata: the `metadata` option, plus the token over plaintext (opted in). A
 * token given beside an `authorization` entry would be sent twice: refused.
 */
function withPlaintextToken(metadata: MetadataLike | undefined, plaintextToken: grpc.Metadata | undefined, hasToken: boolean): grpc.Metadata | undefined {
  if (metadata === undefined && plaintextToken === undefined) return undefined;
  const merged = toMetadata(metadata);
  if (hasToken && merged.get("authorization").length > 0) {
    throw new StatewardError(status.INVALID_ARGUMENT, undefined, "SessionClient: token and an authorization entry in metadata are both given: give the token once", "connect");
  }
  if (plaintextToken !== undefined) merged.merge(plaintextToken);
  return merged;
}

/** Adds the client-wide metadata to every call and stream, without overriding a call's own keys. */
function metadataInterceptor(clientMetadata: grpc.Metadata): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        for (const [key, values] of Object.entries(clientMetadata.toJSON())) {
          if (metadata.get(key).length > 0) continue;
          for (const value of values) metadata.add(key, value);
        }
        next(metadata, listener);
      },
    });
}

/** One node: a channel shared by its unary client and its pipeline. */
interface Connection {
  readonly endpoint: EndpointConfig;
  readonly channel: grpc.Channel;
  readonly unary: SessionStateClient;
  readonly pipeline: PipelineClient | undefined;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

type PipelineMethod<Req, Res> = (request: Req, options: { timeoutMs?: number; signal?: AbortSignal }) => Promise<Res>;

/** Resolves after `ms`, or rejects at once if `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined, operation: StatewardOperation): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(new StatewardError(status.CANCELLED, undefined, "the operation was aborted", operation));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The six operations a lock pattern needs. {@link SessionClient} implements it; `withLock`,
 * `beginRequest` and the Express store are written against it.
 */
export interface SessionOperations {
  /** See {@link SessionClient.get}. */
  get(app: string, sessionId: string, options?: GetOptions): Promise<GetResult>;
  /** See {@link SessionClient.lock}. */
  lock(app: string, sessionId: string, options?: LockOptions): Promise<LockResult>;
  /** See {@link SessionClient.set}. */
  set(app: string, sessionId: string, data: Uint8Array | string, options?: SetOptions): Promise<SetResult>;
  /** See {@link SessionClient.release}. */
  release(app: string, sessionId: string, lockId: bigint, options?: ReleaseOptions): Promise<ReleaseResult>;
  /** See {@link SessionClient.expire}. */
  expire(app: string, sessionId: string, options?: ExpireOptions): Promise<ExpireResult>;
  /** See {@link SessionClient.remove}. */
  remove(app: string, sessionId: string, options?: RemoveOptions): Promise<RemoveResult>;
}

/**
 * A Stateward client. Operations are carried over batched pipeline streams by default (one per
 * endpoint), or as unary calls (`transport: "unary"`); with several `endpoints`, each session goes
 * to its node by rendezvous hashing.
 *
 * Results are discriminated unions on `outcome` (a missing session or a held lock is an outcome);
 * refusals and failures throw {@link StatewardError} with the gRPC code and a stable reason.
 *
 * @example
 * ```ts
 * const client = new SessionClient({ address: "127.0.0.1:42424" });
 * const r = await client.get("shop", sid);
 * if (r.outcome === "ok") console.log(r.data.toString());
 * client.close();
 * ```
 */
export class SessionClient implements SessionOperations {
  /** The transport operations travel over by default. */
  readonly transport: "pipeline" | "unary";
  /** The deadline of calls without their own `timeoutMs`, in ms. */
  readonly defaultTimeoutMs: number;
  private readonly partitioner: Partitioner;
  private readonly connections: readonly Connection[];
  private readonly retry: ResolvedRetry;
  private closed = false;

  /** @param options - where the servers are, and how to talk to them. */
  constructor(options: SessionClientOptions = {}) {
    const endpoints = options.endpoints ?? [options.address ?? DEFAULT_ADDRESS];
    this.partitioner = new Partitioner(endpoints);
    this.transport = options.transport ?? "pipeline";
    this.defaultTimeoutMs = Math.max(1, options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.retry = resolveRetry(options.retry);
    const security = resolveChannelSecurity(options, "SessionClient");
    const credentials = security.credentials;
    const channelOptions: ChannelOptions = {
      ...DEFAULT_CHANNEL_OPTIONS,
      "grpc.service_config": retryServiceConfig(options.retry === false ? { maxAttempts: 1 } : options.retry),
      // The pipeline shares this channel (its own options would be ignored): the large window here.
      ...(this.transport === "pipeline" ? { [FLOW_CONTROL_WINDOW_OPTION]: PIPELINE_FLOW_CONTROL_WINDOW_BYTES } : {}),
      ...security.channelOptions,
      ...options.channelOptions,
    };
    const clientMetadata = withPlaintextToken(options.metadata, security.plaintextMetadata, options.token !== undefined);
    const tracing = options.tracing === undefined || options.tracing === false ? undefined : options.tracing === true ? {} : options.tracing;
    const interceptors: grpc.Interceptor[] = [
      ...(clientMetadata === undefined ? [] : [metadataInterceptor(clientMetadata)]),
      ...(options.interceptors ?? []),
      ...(tracing === undefined ? [] : [createTracingInterceptor(tracing)]),
    ];
    const pipelineOptions: Omit<PipelineClientOptions, "channelOptions"> = {
      ...options.pipeline,
      ...(tracing === undefined || options.pipeline?.operationHook !== undefined ? {} : { operationHook: createPipelineTracing(tracing) }),
    };
    // grpc-js deletes `interceptors` from the options object it is given: a fresh object each time.
    const clientOptions = (channel: grpc.Channel): grpc.ClientOptions => ({
      channelOverride: channel,
      ...(interceptors.length === 0 ? {} : { interceptors: [...interceptors] }),
    });
    this.connections = this.partitioner.endpoints.map((endpoint) => {
      // One channel per node, shared by the unary client and the pipeline: one connection each.
      const channel = new grpc.Channel(endpoint.address, credentials, channelOptions);
      const unary = new SessionStateClient(endpoint.address, credentials, clientOptions(channel));
      const pipeline =
        this.transport === "pipeline"
          ? // The token is on the shared channel (or in the client's metadata): never a second time.
            new PipelineClient(endpoint.address, credentials, { ...pipelineOptions, token: undefined, insecureToken: undefined, channelOptions: clientOptions(channel) })
          : undefined;
      return { endpoint, channel, unary, pipeline };
    });
  }

  /** The endpoints, in the order given. */
  get endpoints(): readonly EndpointConfig[] {
    return this.partitioner.endpoints;
  }

  /** The endpoint that owns a session (where its calls go). */
  endpointFor(app: string, sessionId: string): EndpointConfig {
    return this.partitioner.endpointFor(app, sessionId);
  }

  /**
   * Reads a session without locking it (ASP.NET GetItem). Slides its expiry window.
   *
   * @returns `ok` with data, version and ttl; `locked` with the holder's lock id and age (no data)
   *   when a writer holds it and `waitMs` ran out; or `not-found`.
   */
  async get(app: string, sessionId: string, options: GetOptions = {}): Promise<GetResult> {
    const waitMs = uint32("waitMs", options.waitMs, "get");
    const request = GetRequest.fromPartial({ app, sessionId, waitMs });
    const response = await this.call<GetRequest, GetResponse>("get", app, sessionId, request, options, waitMs);
    return toGetResult(response);
  }

  /**
   * Takes a session's exclusive lock and reads it (ASP.NET GetItemExclusive). The lock is a lease:
   * the server releases it by itself `leaseMs` after granting it.
   *
   * @returns `ok` with data and your lock id; `locked` (holder's id and age) when `waitMs` ran out;
   *   or `not-found` (nothing created unless `create`).
   */
  async lock(app: string, sessionId: string, options: LockOptions = {}): Promise<LockResult> {
    const waitMs = uint32("waitMs", options.waitMs, "lock");
    const request = LockRequest.fromPartial({
      app,
      sessionId,
      waitMs,
      leaseMs: uint32("leaseMs", options.leaseMs, "lock"),
      create: options.create ?? false,
      ttlSeconds: uint32("ttlSeconds", options.ttlSeconds, "lock"),
    });
    const response = await this.call<LockRequest, LockResponse>("lock", app, sessionId, request, options, waitMs);
    return toLockResult(response);
  }

  /**
   * Writes a session. With `lockId` it must be the holder's, and the write releases the lock unless
   * `keepLock` (ASP.NET SetAndReleaseItemExclusive). Conflicts are never silent: a write under
   * someone else's lock, with a stale lock id (lease ended, released) or a wrong `expectedVersion`
   * changes nothing and throws ABORTED with the reason.
   *
   * @param data - the new data (a string is stored as UTF-8).
   */
  async set(app: string, sessionId: string, data: Uint8Array | string, options: SetOptions = {}): Promise<SetResult> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const request = SetRequest.fromPartial({
      app,
      sessionId,
      data: bytes,
      ttlSeconds: uint32("ttlSeconds", options.ttlSeconds, "set"),
      lockId: options.lockId ?? 0n,
      keepLock: options.keepLock ?? false,
      expectedVersion: options.expectedVersion ?? 0n,
      onlyIfAbsent: options.onlyIfAbsent ?? false,
    });
    const response = await this.call<SetRequest, SetResponse>("set", app, sessionId, request, options, 0);
    return toSetResult(response);
  }

  /**
   * Releases a lock given the holder's lock id (ASP.NET ReleaseItemExclusive). Anyone with the id
   * may force the release, as ASP.NET's waiters do. Never an error when the id does not hold it.
   */
  async release(app: string, sessionId: string, lockId: bigint, options: ReleaseOptions = {}): Promise<ReleaseResult> {
    const request = ReleaseRequest.fromPartial({ app, sessionId, lockId });
    const response = await this.call<ReleaseRequest, ReleaseResponse>("release", app, sessionId, request, options, 0);
    return toReleaseResult(response);
  }

  /**
   * Restarts a session's sliding window, optionally with a new ttl, without reading or writing its
   * data, version or lock (ASP.NET ResetItemTimeout). Nothing is created for a missing session.
   */
  async expire(app: string, sessionId: string, options: ExpireOptions = {}): Promise<ExpireResult> {
    const request = ExpireRequest.fromPartial({ app, sessionId, ttlSeconds: uint32("ttlSeconds", options.ttlSeconds, "expire") });
    const response = await this.call<ExpireRequest, ExpireResponse>("expire", app, sessionId, request, options, 0);
    return toExpireResult(response);
  }

  /**
   * Deletes a session (ASP.NET RemoveItem, Session.Abandon). A locked session needs the holder's
   * `lockId`; otherwise ABORTED.
   */
  async remove(app: string, sessionId: string, options: RemoveOptions = {}): Promise<RemoveResult> {
    const request = RemoveRequest.fromPartial({ app, sessionId, lockId: options.lockId ?? 0n });
    const response = await this.call<RemoveRequest, RemoveResponse>("remove", app, sessionId, request, options, 0);
    return toRemoveResult(response);
  }

  /**
   * Runs `fn` under the session's lock: acquires it with server-side waiting, calls `fn(data)`,
   * writes back and releases in one call if `fn` returned new data, releases otherwise, and
   * releases if `fn` throws. Nothing is renewed: if the lease ended before the write, the write
   * throws ABORTED (`LEASE_EXPIRED` or `STALE_LOCK_ID`) and nothing is written.
   */
  withLock(app: string, sessionId: string, fn: WithLockFunction, options: WithLockOptions = {}): Promise<WithLockResult> {
    return withLock(this, app, sessionId, fn, options);
  }

  /**
   * Starts a request the ASP.NET way: a reader (`readOnly: true`) reads without locking; a writer
   * takes the lock (waiting server-side). Hand the result to {@link endRequest}.
   */
  beginRequest(app: string, sessionId: string, options: BeginRequestOptions): Promise<BeginRequestResult> {
    return beginRequest(this, app, sessionId, options);
  }

  /**
   * Ends a request begun with {@link beginRequest}: writes and releases (`data`), removes
   * (`abandon`), or just releases a writer's lock.
   */
  endRequest(request: SessionRequest, options: EndRequestOptions = {}): Promise<EndRequestResult> {
    return endRequest(this, request, options);
  }

  /**
   * Waits until every endpoint's channel is connected (useful at startup; calls do not need it).
   *
   * @throws {@link StatewardError} UNAVAILABLE if a node is not reachable within `timeoutMs`.
   */
  async ready(timeoutMs = this.defaultTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      this.connections.map(
        (connection) =>
          new Promise<void>((resolve, reject) => {
            connection.unary.waitForReady(deadline, (error) => {
              if (error === undefined || error === null) resolve();
              else reject(new StatewardError(status.UNAVAILABLE, undefined, `${connection.endpoint.address} is not reachable: ${error.message}`, "connect"));
            });
          }),
      ),
    );
  }

  /** Closes every stream and channel; pending calls fail with CANCELLED. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const connection of this.connections) {
      connection.pipeline?.close();
      connection.unary.close();
      connection.channel.close();
    }
  }

  /** Routes, picks the transport, applies the deadline and (for idempotent operations) the retries. */
  private async call<Req, Res>(
    operation: "get" | "lock" | "set" | "release" | "expire" | "remove",
    app: string,
    sessionId: string,
    request: Req,
    options: CallOptions,
    waitMs: number,
  ): Promise<Res> {
    if (this.closed) throw new StatewardError(status.CANCELLED, "CLIENT_CLOSED", "the client was closed", operation);
    const timeoutMs = Math.max(1, Math.floor(options.timeoutMs ?? this.defaultTimeoutMs + waitMs));
    const connection = this.connections[this.partitioner.indexFor(app, sessionId)] as Connection;
    try {
      if (connection.pipeline !== undefined && options.metadata === undefined) {
        const pipeline = connection.pipeline;
        const method = pipeline[operation] as unknown as PipelineMethod<Req, Res>;
        return await this.withPipelineRetries(operation, timeoutMs, options.signal, (remainingMs) =>
          method.call(pipeline, request, { timeoutMs: remainingMs, signal: options.signal }),
        );
      }
      return await this.unaryCall<Req, Res>(connection, operation, request, timeoutMs, options);
    } catch (error) {
      throw toStatewardError(error, operation);
    }
  }

  private unaryCall<Req, Res>(
    connection: Connection,
    operation: "get" | "lock" | "set" | "release" | "expire" | "remove",
    request: Req,
    timeoutMs: number,
    options: CallOptions,
  ): Promise<Res> {
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(new StatewardError(status.CANCELLED, undefined, "the operation was aborted", operation));
    const method = connection.unary[operation] as unknown as UnaryMethod<Req, Res>;
    return new Promise<Res>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      // Retries of Get/Expire/Release happen inside grpc-js, per the channel's service config.
      const call = method.call(connection.unary, request, toMetadata(options.metadata), { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
        if (error !== null) reject(error);
        else resolve(response);
      });
      if (signal !== undefined) {
        onAbort = () => call.cancel();
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  }

  /**
   * Runs a pipeline operation; an idempotent one that fails with UNAVAILABLE (a broken stream, a
   * restarting node) is retried with jittered exponential backoff, bounded by the attempts and by
   * the operation's deadline. Other operations are never retried: they may have run.
   */
  private async withPipelineRetries<Res>(
    operation: StatewardOperation,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    attempt: (remainingMs: number) => Promise<Res>,
  ): Promise<Res> {
    const deadline = Date.now() + timeoutMs;
    const attempts = IDEMPOTENT.has(operation) ? this.retry.maxAttempts : 1;
    let backoff = this.retry.initialBackoffMs;
    for (let n = 1; ; n++) {
      try {
        return await attempt(Math.max(1, deadline - Date.now()));
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        // Like gRPC's retry policy: a random delay up to the current backoff.
        const delay = Math.random() * backoff;
        if (n >= attempts || code !== status.UNAVAILABLE || this.closed || Date.now() + delay >= deadline) throw error;
        await sleep(delay, signal, operation);
        backoff = Math.min(backoff * this.retry.backoffMultiplier, this.retry.maxBackoffMs);
      }
    }
  }
}

/**
 * A uint32 request field: absent is 0 (the server's default); fractions are dropped; a negative,
 * non-finite or too large value is refused here, since on the wire it would wrap around silently.
 */
function uint32(field: string, value: number | undefined, operation: StatewardOperation): number {
  if (value === undefined) return 0;
  if (!Number.isFinite(value) || value < 0 || value > 0xffffffff) {
    throw new StatewardError(status.INVALID_ARGUMENT, "INVALID_FIELD", `${field} must be a number from 0 to 4294967295, got ${value}`, operation, {
      // The field as the contract names it, as the server's INVALID_FIELD does.
      metadata: { field: field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`), limit: "4294967295" },
    });
  }
  return Math.floor(value);
}
