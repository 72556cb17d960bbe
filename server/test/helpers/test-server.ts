/**
 * Test harness: a real Stateward server on 127.0.0.1, port 0, driven through the generated
 * `SessionStateClient`. Every test starts its own server (optionally on a {@link FakeClock}) and
 * closes it in teardown, so the suite never leaks ports, timers or channels.
 */
import * as assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";

import {
  ExpireRequest,
  GetRequest,
  LockRequest,
  Outcome,
  PipelineClient,
  PipelineOperationError,
  ReleaseRequest,
  RemoveRequest,
  SessionStateClient,
  SetRequest,
} from "../../../client/ts/src";
import type {
  ExpireResponse,
  GetResponse,
  LockResponse,
  ReleaseResponse,
  RemoveResponse,
  SetResponse,
} from "../../../client/ts/src";
import { decodeStatusDetails, ERROR_DOMAIN, LEGACY_REASON_TRAILER, STATUS_DETAILS_TRAILER } from "@stateward/protocol";
import { createBackend, resolveConfig, startServer, systemClock } from "../../src/index";
import type { BackendContext, Logger, ServerDependencies, StartedServer } from "../../src/index";
import type { Clock } from "../../src/store/clock";
import { FakeClock } from "../../src/store/fake-clock";
import { MemoryBackend } from "../../src/store/memory/memory-backend";
import type { BackendCounts, SessionBackend } from "../../src/store/session-backend";
import { RedisBackend } from "../../src/store/redis/redis-backend";
import { DeferredBackend } from "./deferred-backend";
import { sharedRedis } from "./redis-server";

export { Outcome };
export type { GetResponse, LockResponse, SetResponse, ReleaseResponse, ExpireResponse, RemoveResponse };

// ---------------------------------------------------------------------------------------------
// Request builders: every field defaulted, the key defaults to ("app", "s1").
// ---------------------------------------------------------------------------------------------

/** Default key used by the builders. */
export const DEFAULT_APP = "app";
export const DEFAULT_SESSION = "s1";

type Partial2<T> = { [K in keyof T]?: T[K] };

export function getReq(p: Partial2<GetRequest> = {}): GetRequest {
  return GetRequest.fromPartial({ app: DEFAULT_APP, sessionId: DEFAULT_SESSION, ...p });
}
export function lockReq(p: Partial2<LockRequest> = {}): LockRequest {
  return LockRequest.fromPartial({ app: DEFAULT_APP, sessionId: DEFAULT_SESSION, ...p });
}
/** `data` may be given as a string (UTF-8) for brevity. */
export function setReq(p: Omit<Partial2<SetRequest>, "data"> & { data?: Buffer | string } = {}): SetRequest {
  const { data, ...rest } = p;
  return SetRequest.fromPartial({
    app: DEFAULT_APP,
    sessionId: DEFAULT_SESSION,
    ...rest,
    data: typeof data === "string" ? Buffer.from(data) : (data ?? Buffer.alloc(0)),
  });
}
export function releaseReq(p: Partial2<ReleaseRequest> = {}): ReleaseRequest {
  return ReleaseRequest.fromPartial({ app: DEFAULT_APP, sessionId: DEFAULT_SESSION, ...p });
}
export function expireReq(p: Partial2<ExpireRequest> = {}): ExpireRequest {
  return ExpireRequest.fromPartial({ app: DEFAULT_APP, sessionId: DEFAULT_SESSION, ...p });
}
export function removeReq(p: Partial2<RemoveRequest> = {}): RemoveRequest {
  return RemoveRequest.fromPartial({ app: DEFAULT_APP, sessionId: DEFAULT_SESSION, ...p });
}

// ---------------------------------------------------------------------------------------------
// Promisified calls
// ---------------------------------------------------------------------------------------------

/** Per-call options. */
export interface CallOpts {
  /** Deadline in ms from now (none by default). */
  readonly deadlineMs?: number;
}

/** A call in flight: its eventual response, and a way to cancel it as a client would. */
export interface Pending<T> {
  readonly response: Promise<T>;
  /** Cancels the call (unary: the grpc-js call; pipeline: the operation's AbortSignal). */
  cancel(): void;
  /** True once the response promise has settled (either way). */
  settled(): boolean;
}

type Method<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

function begin<Req, Res>(client: SessionStateClient, method: Method<Req, Res>, request: Req, opts: CallOpts): Pending<Res> {
  let done = false;
  let call: grpc.ClientUnaryCall | undefined;
  const options: Partial<grpc.CallOptions> = {};
  if (opts.deadlineMs !== undefined) options.deadline = new Date(Date.now() + opts.deadlineMs);
  const response = new Promise<Res>((resolve, reject) => {
    call = method.call(client, request, new grpc.Metadata(), options, (error, res) => {
      done = true;
      if (error) reject(error);
      else resolve(res);
    });
  });
  // Avoid unhandled-rejection noise for calls a test cancels and never awaits.
  response.catch(() => undefined);
  const started = call;
  assert.ok(started !== undefined);
  return { cancel: () => started.cancel(), response, settled: () => done };
}

type PipelineMethod<Req, Res> = (request: Req, options: { timeoutMs?: number; signal?: AbortSignal }) => Promise<Res>;

function beginPipelined<Req, Res>(method: PipelineMethod<Req, Res>, request: Req, opts: CallOpts): Pending<Res> {
  let done = false;
  const abort = new AbortController();
  // The operation's timeout is the pipeline's stand-in for the unary deadline.
  const response = method(request, { timeoutMs: opts.deadlineMs, signal: abort.signal }).finally(() => {
    done = true;
  });
  response.catch(() => undefined);
  return { cancel: () => abort.abort(), response, settled: () => done };
}

/** Starts calls and returns the in-flight handle (needed to cancel or to observe waiting). */
export interface Starters {
  get(p?: Partial2<GetRequest>, opts?: CallOpts): Pending<GetResponse>;
  lock(p?: Partial2<LockRequest>, opts?: CallOpts): Pending<LockResponse>;
  set(p?: Parameters<typeof setReq>[0], opts?: CallOpts): Pending<SetResponse>;
  release(p?: Partial2<ReleaseRequest>, opts?: CallOpts): Pending<ReleaseResponse>;
  expire(p?: Partial2<ExpireRequest>, opts?: CallOpts): Pending<ExpireResponse>;
  remove(p?: Partial2<RemoveRequest>, opts?: CallOpts): Pending<RemoveResponse>;
}

/** Calls returning a promise of the response; rejects with the grpc ServiceError. */
export interface Calls {
  get(p?: Partial2<GetRequest>, opts?: CallOpts): Promise<GetResponse>;
  lock(p?: Partial2<LockRequest>, opts?: CallOpts): Promise<LockResponse>;
  set(p?: Parameters<typeof setReq>[0], opts?: CallOpts): Promise<SetResponse>;
  release(p?: Partial2<ReleaseRequest>, opts?: CallOpts): Promise<ReleaseResponse>;
  expire(p?: Partial2<ExpireRequest>, opts?: CallOpts): Promise<ExpireResponse>;
  remove(p?: Partial2<RemoveRequest>, opts?: CallOpts): Promise<RemoveResponse>;
}

export function startersFor(client: SessionStateClient): Starters {
  return {
    get: (p = {}, o = {}) => begin<GetRequest, GetResponse>(client, client.get as Method<GetRequest, GetResponse>, getReq(p), o),
    lock: (p = {}, o = {}) => begin<LockRequest, LockResponse>(client, client.lock as Method<LockRequest, LockResponse>, lockReq(p), o),
    set: (p = {}, o = {}) => begin<SetRequest, SetResponse>(client, client.set as Method<SetRequest, SetResponse>, setReq(p), o),
    release: (p = {}, o = {}) =>
      begin<ReleaseRequest, ReleaseResponse>(client, client.release as Method<ReleaseRequest, ReleaseResponse>, releaseReq(p), o),
    expire: (p = {}, o = {}) =>
      begin<ExpireRequest, ExpireResponse>(client, client.expire as Method<ExpireRequest, ExpireResponse>, expireReq(p), o),
    remove: (p = {}, o = {}) =>
      begin<RemoveRequest, RemoveResponse>(client, client.remove as Method<RemoveRequest, RemoveResponse>, removeReq(p), o),
  };
}

/** Starters whose calls travel as operations over a batched Pipeline stream. */
export function pipelineStartersFor(client: PipelineClient): Starters {
  return {
    get: (p = {}, o = {}) => beginPipelined((r: GetRequest, x) => client.get(r, x), getReq(p), o),
    lock: (p = {}, o = {}) => beginPipelined((r: LockRequest, x) => client.lock(r, x), lockReq(p), o),
    set: (p = {}, o = {}) => beginPipelined((r: SetRequest, x) => client.set(r, x), setReq(p), o),
    release: (p = {}, o = {}) => beginPipelined((r: ReleaseRequest, x) => client.release(r, x), releaseReq(p), o),
    expire: (p = {}, o = {}) => beginPipelined((r: ExpireRequest, x) => client.expire(r, x), expireReq(p), o),
    remove: (p = {}, o = {}) => beginPipelined((r: RemoveRequest, x) => client.remove(r, x), removeReq(p), o),
  };
}

export function callsFor(client: SessionStateClient): Calls {
  return callsOf(startersFor(client));
}

/** Promisified calls over `s`: each call's response. */
export function callsOf(s: Starters): Calls {
  return {
    get: (p, o) => s.get(p, o).response,
    lock: (p, o) => s.lock(p, o).response,
    set: (p, o) => s.set(p, o).response,
    release: (p, o) => s.release(p, o).response,
    expire: (p, o) => s.expire(p, o).response,
    remove: (p, o) => s.remove(p, o).response,
  };
}

// ---------------------------------------------------------------------------------------------
// Transports: the conformance suite runs over unary calls and over the batched pipeline
// ---------------------------------------------------------------------------------------------

/** How calls reach the server. */
export type Transport = "unary" | "pipeline";

/** Every transport the conformance suite runs over. */
export const TRANSPORTS: readonly Transport[] = ["unary", "pipeline"];

/** The transport of the suite being registered (read by useServer/useFakeServer at registration). */
let registeringTransport: Transport = "unary";

/**
 * The backends the conformance suite runs over: the memory backend as it is, the same behind
 * {@link DeferredBackend}, which answers every operation on a later tick (an asynchronous backend),
 * and the Redis backend on a Redis of this test process (its own key prefix per server).
 */
export type BackendKind = "memory" | "deferred" | "redis";

/** Every backend the conformance suite runs over. */
export const BACKEND_KINDS: readonly BackendKind[] = ["memory", "deferred", "redis"];

/** The backend of the suite being registered (read by useServer/useFakeServer at registration). */
let registeringBackend: BackendKind = "memory";

/** Tells the Redis-backed test servers apart on the one shared Redis. */
let redisServers = 0;

/** The server dependency that builds a backend of `kind`. */
async function backendFactory(kind: BackendKind): Promise<ServerDependencies["backend"]> {
  if (kind === "memory") return undefined;
  if (kind === "deferred") return (context: BackendContext) => new DeferredBackend(createBackend(context));
  const redis = await sharedRedis();
  const prefix = `test-${process.pid}-${++redisServers}:`;
  // A fake clock's time goes with every script; the system clock means Redis's own time, as deployed.
  return (context: BackendContext) =>
    new RedisBackend({ url: redis.url, prefix, recheckMs: 200 }, context.config.limits, context.clock === systemClock ? undefined : context.clock, context.events);
}

/**
 * Registers `body` once per backend and transport, as `title [memory, unary]`,
 * `title [deferred, pipeline]` and so on: the same tests over each. Tests in it assert through the
 * API and {@link TestServer.counts}; a test that needs the fake clock's exact instants or memory
 * internals belongs in a {@link describeEachTransport} suite, which runs on the memory backend.
 */
export function describeEachBackend(
  title: string,
  body: (this: Mocha.Suite) => void,
  /** Only these backends (for rules of one backend's own options, e.g. the memory budget). */
  only: readonly BackendKind[] = BACKEND_KINDS,
): void {
  for (const backend of only) {
    for (const transport of TRANSPORTS) {
      describe(`${title} [${backend}, ${transport}]`, function () {
        const previous = [registeringBackend, registeringTransport] as const;
        registeringBackend = backend;
        registeringTransport = transport;
        try {
          body.call(this);
        } finally {
          [registeringBackend, registeringTransport] = previous;
        }
      });
    }
  }
}

/** The backend kind of the suite being registered (for tests that skip what a kind cannot show). */
export function currentBackendKind(): BackendKind {
  return registeringBackend;
}

/**
 * Registers `body` once per transport, as `title [unary]` and `title [pipeline]`: the same tests,
 * with `t().call` / `t().start` / `t().connect()` carried by that transport.
 */
export function describeEachTransport(title: string, body: (this: Mocha.Suite) => void): void {
  for (const transport of TRANSPORTS) {
    describe(`${title} [${transport}]`, function () {
      const previous = [registeringBackend, registeringTransport] as const;
      registeringBackend = "memory";
      registeringTransport = transport;
      try {
        body.call(this);
      } finally {
        [registeringBackend, registeringTransport] = previous;
      }
    });
  }
}

/** One client connection of a transport. */
export interface Connection {
  /** Promisified calls. */
  readonly call: Calls;
  /** Call starters (for cancel / waiting). */
  readonly start: Starters;
  /** Closes the connection. */
  close(): void;
}

/** Opens a connection of `transport` to `address` (any server, also one in a child process). */
export function connectWith(transport: Transport, address: string): Connection {
  if (transport === "unary") {
    const client = newChannelClient(address);
    const start = startersFor(client);
    return { call: callsOf(start), start, close: () => client.close() };
  }
  const client = new PipelineClient(address, grpc.credentials.createInsecure(), { channelOptions: CHANNEL_OPTIONS });
  const start = pipelineStartersFor(client);
  return { call: callsOf(start), start, close: () => client.close() };
}

// ---------------------------------------------------------------------------------------------
// Server + client
// ---------------------------------------------------------------------------------------------

export interface TestServer {
  readonly server: StartedServer;
  /** A unary client (for the gRPC-level tests that are not about the SessionState operations). */
  readonly client: SessionStateClient;
  readonly clock: Clock;
  /** The transport {@link call} and {@link start} use. */
  readonly transport: Transport;
  /** The backend the server runs on. */
  readonly backendKind: BackendKind;
  /** The backend-neutral probe: sessions, locked sessions and waiters, as the backend counts them. */
  counts(): Promise<BackendCounts>;
  /**
   * The memory backend's internals (its `stats()`, `runDueWork()`), for tests marked memory-only:
   * fails the test on another backend.
   */
  memory(): MemoryBackend;
  /** Promisified calls over {@link transport}. */
  readonly call: Calls;
  /** Call starters over {@link transport} (for cancel / waiting). */
  readonly start: Starters;
  /** Opens another connection of {@link transport}; closed by {@link close}. */
  connect(): Connection;
  /** Opens another unary client (its own channel); closed by {@link close}. */
  newClient(): SessionStateClient;
  /** Closes every client and shuts the server down. Idempotent. */
  close(): Promise<void>;
}

/** Channel options: a separate channel per client (no subchannel sharing between clients). */
const CHANNEL_OPTIONS = {
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 64 * 1024 * 1024,
  // Own subchannel pool: each client really is a separate connection.
  "grpc.use_local_subchannel_pool": 1,
};

export function newChannelClient(address: string): SessionStateClient {
  return new SessionStateClient(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

/**
 * Starts a real server on 127.0.0.1:0 with `--log-level silent` plus `flags`, and a client on it.
 */
export async function startTestServer(
  flags: string[] = [],
  opts: { clock?: Clock; logger?: Logger; transport?: Transport; backend?: BackendKind } = {},
): Promise<TestServer> {
  const clock = opts.clock ?? systemClock;
  const transport = opts.transport ?? "unary";
  const backendKind = opts.backend ?? "memory";
  const config = resolveConfig(["--host", "127.0.0.1", "--port", "0", "--log-level", "silent", ...flags], {});
  const backend = await backendFactory(backendKind);
  const server = await startServer(config, {
    clock,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(backend ? { backend } : {}),
  });
  const clients: { close(): void }[] = [];
  const newClient = (): SessionStateClient => {
    const c = newChannelClient(server.address);
    clients.push(c);
    return c;
  };
  const connect = (): Connection => {
    const connection = connectWith(transport, server.address);
    clients.push(connection);
    return connection;
  };
  const client = newClient();
  const main = connect();
  let closed: Promise<void> | undefined;
  return {
    server,
    client,
    clock,
    transport,
    backendKind,
    counts: () => server.store.counts(),
    memory: () => memoryBackendOf(server.backend),
    call: main.call,
    start: main.start,
    connect,
    newClient,
    close: () => {
      closed ??= (async () => {
        for (const c of clients) c.close();
        await withTimeout(server.shutdown(), 5000, "server.shutdown()").catch((error: unknown) => {
          server.forceShutdown();
          throw error;
        });
      })();
      return closed;
    },
  };
}

/**
 * Registers a per-test server: `const t = useServer(flags, () => ({ clock }))` gives a getter that
 * is valid inside `it`; the server is closed in `afterEach` whatever happens.
 */
export function useServer(flags: string[] = [], opts: () => { clock?: Clock; logger?: Logger } = () => ({})): () => TestServer {
  let current: TestServer | undefined;
  const transport = registeringTransport;
  const backend = registeringBackend;
  beforeEach(async () => {
    current = await startTestServer(flags, { ...opts(), transport, backend });
  });
  afterEach(async () => {
    const t = current;
    current = undefined;
    if (t) await t.close();
  });
  return () => {
    assert.ok(current, "server not started");
    return current;
  };
}

/** A test server whose store runs on a {@link FakeClock}. */
export interface FakeTestServer extends TestServer {
  readonly clock: FakeClock;
}

/** Start time of every fake clock (epoch ms). */
export const FAKE_START_MS = 1_700_000_000_000;

/** Like {@link useServer}, on a fresh {@link FakeClock} per test. */
export function useFakeServer(flags: string[] = []): () => FakeTestServer {
  let current: FakeTestServer | undefined;
  const transport = registeringTransport;
  const backend = registeringBackend;
  beforeEach(async () => {
    const clock = new FakeClock(FAKE_START_MS);
    const t = await startTestServer(flags, { clock, transport, backend });
    current = { ...t, clock };
  });
  afterEach(async () => {
    const t = current;
    current = undefined;
    if (t) await t.close();
  });
  return () => {
    assert.ok(current, "server not started");
    return current;
  };
}

// ---------------------------------------------------------------------------------------------
// Assertions and waiting
// ---------------------------------------------------------------------------------------------

export function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === "number";
}

/** The memory backend under `backend` (directly, or behind a DeferredBackend); fails on another. */
function memoryBackendOf(backend: SessionBackend): MemoryBackend {
  const inner = backend instanceof DeferredBackend ? backend.inner : backend;
  assert.ok(inner instanceof MemoryBackend, "this test reads memory-backend internals: run it on the memory backend");
  return inner;
}

/**
 * The reason of a refusal: the `google.rpc.ErrorInfo` in `grpc-status-details-bin`, checked against
 * the status itself (same code and message, domain `stateward.v1`) and against the legacy
 * `stateward-reason` trailer, which must agree with it.
 */
export function reasonOf(error: grpc.ServiceError): string | undefined {
  // A pipelined operation's error carries the reason in the OperationError itself.
  if (error instanceof PipelineOperationError) return error.reason === "" ? undefined : error.reason;
  const details = errorInfoOf(error);
  const legacy = error.metadata?.get(LEGACY_REASON_TRAILER)[0];
  assert.equal(legacy === undefined ? undefined : String(legacy), details?.reason, "the stateward-reason trailer and the ErrorInfo reason agree");
  return details?.reason;
}

/** The ErrorInfo of a refusal (reason, domain, metadata), checked against the status; undefined if none. */
export function errorInfoOf(error: grpc.ServiceError): { readonly reason: string; readonly metadata: Readonly<Record<string, string>> } | undefined {
  if (error instanceof PipelineOperationError) {
    return error.reason === "" ? undefined : { reason: error.reason, metadata: error.reasonMetadata };
  }
  const raw = error.metadata?.get(STATUS_DETAILS_TRAILER)[0];
  if (raw === undefined) return undefined;
  assert.ok(Buffer.isBuffer(raw), "grpc-status-details-bin is binary");
  const status = decodeStatusDetails(raw);
  assert.ok(status !== undefined, "grpc-status-details-bin decodes as a google.rpc.Status");
  assert.equal(status.code, error.code, "the Status in the details has the call's code");
  assert.equal(status.message, error.details, "the Status in the details has the call's message");
  const info = status.errorInfo;
  assert.ok(info !== undefined, "the Status carries a google.rpc.ErrorInfo");
  assert.equal(info.domain, ERROR_DOMAIN);
  return { reason: info.reason, metadata: info.metadata };
}

export interface ExpectedError {
  /** Expected `stateward-reason` trailer (one of them, if several are acceptable). */
  readonly reason?: string | readonly string[];
  /** Each pattern must match the message (details). */
  readonly message?: readonly RegExp[];
}

/** Awaits `promise`, asserting that it fails with the given gRPC status (strictly). */
export async function expectStatus(
  promise: Promise<unknown>,
  code: grpc.status,
  expected: ExpectedError = {},
): Promise<grpc.ServiceError> {
  let result: unknown;
  try {
    result = await promise;
  } catch (error) {
    assert.ok(isServiceError(error), `expected a grpc ServiceError, got ${String(error)}`);
    assert.equal(
      error.code,
      code,
      `expected status ${grpc.status[code]}, got ${grpc.status[error.code]}: ${error.details}`,
    );
    if (expected.reason !== undefined) {
      const allowed: readonly string[] = typeof expected.reason === "string" ? [expected.reason] : expected.reason;
      const reason = reasonOf(error);
      assert.ok(
        reason !== undefined && allowed.includes(reason),
        `stateward-reason trailer ${String(reason)} should be ${allowed.join(" or ")} (message: ${error.details})`,
      );
    }
    for (const pattern of expected.message ?? []) {
      assert.match(error.details, pattern, `message should match ${String(pattern)}`);
    }
    return error;
  }
  assert.fail(`expected status ${grpc.status[code]}, but the call succeeded: ${JSON.stringify(result, jsonBigint)}`);
}

function jsonBigint(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  return value;
}

/** Regex matching the integer `n` written plainly or with thousands separators (`,`, `_`, ` `, `.`). */
export function numberPattern(n: number): RegExp {
  const digits = String(n);
  const groups: string[] = [];
  for (let end = digits.length; end > 0; end -= 3) groups.unshift(digits.slice(Math.max(0, end - 3), end));
  const separated = groups.join("[,_ .\\u00a0]?");
  return new RegExp(`(^|[^0-9])${separated}($|[^0-9])`);
}

/** Regex matching a proto field name written snake_case or camelCase. */
export function fieldPattern(snake: string): RegExp {
  const camel = snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  return new RegExp(snake === camel ? `\\b${snake}\\b` : `${snake}|${camel}`, "i");
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `condition` (with a short backoff) until it returns true; fails after `timeoutMs`.
 * Used to wait for server-side state (waiters queued, a lock released), never a fixed sleep.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}

/** Waits until the backend reports exactly `n` waiters (through the backend-neutral probe). */
export async function waitForWaiters(t: TestServer, n: number): Promise<void> {
  let last = -1;
  await waitFor(async () => (last = (await t.counts()).waiters) === n, `${n} waiter(s) (have ${last})`);
}

/** Lets in-flight responses arrive: one full round trip on the same channel. */
export async function roundTrip(t: TestServer): Promise<void> {
  await t.call.expire({ sessionId: "__roundtrip__" });
}

/** Rejects if `promise` does not settle within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export { grpc };
