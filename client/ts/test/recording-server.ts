/**
 * A stand-in Stateward server for the TLS and token tests: a small in-memory SessionState (unary
 * calls, Pipeline and Watch) that records, per call, the `authorization` metadata, the :authority
 * and the client certificate's common name, and that can refuse calls the way the server's auth
 * checks do (UNAUTHENTICATED / PERMISSION_DENIED with a google.rpc.ErrorInfo). The real server's
 * auth is tested against it by the lead's end-to-end tests; this one checks what the SDK sends and
 * how it reads the answers.
 */
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import {
  LEGACY_REASON_TRAILER,
  Outcome,
  STATUS_DETAILS_TRAILER,
  SessionEventKind,
  encodeStatusDetails,
  type OperationError,
  type PipelineOperation,
  type PipelineRequest,
  type PipelineResponse,
  type PipelineResult,
  type SessionStateServer,
} from "@stateward/protocol";
import { startFakeServer, type FakeServer } from "./helpers";

/** What one call (a unary call, a pipeline stream or a Watch) arrived with. */
export interface RecordedCall {
  readonly method: "get" | "lock" | "set" | "release" | "expire" | "remove" | "pipeline" | "watch";
  /** The `authorization` values (none: the call carried no token). */
  readonly authorization: readonly string[];
  /** The call's :authority. */
  readonly host: string;
  /** The client certificate's subject CN (mutual TLS), if one was presented. */
  readonly clientCn: string | undefined;
}

/** A refusal as the server's auth checks answer: code, message, reason and its metadata. */
export interface Refusal {
  readonly code: status.UNAUTHENTICATED | status.PERMISSION_DENIED;
  readonly message: string;
  readonly reason: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Decides whether to refuse: called for every unary call and Watch (with its app), for a pipeline
 * stream when it opens (method "pipeline", app undefined) and for each of its operations (method
 * the operation's kind, with its app).
 */
export type RefusalRule = (call: { readonly method: RecordedCall["method"]; readonly app: string | undefined; readonly authorization: readonly string[] }) => Refusal | undefined;

/** A started {@link startRecordingServer}. */
export interface RecordingServer extends FakeServer {
  /** Every call so far, in arrival order. */
  readonly calls: RecordedCall[];
}

/** The trailers the server sends with a refusal: the ErrorInfo and the legacy reason. */
export function refusalStatus(refusal: Refusal): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(STATUS_DETAILS_TRAILER, encodeStatusDetails(refusal));
  metadata.set(LEGACY_REASON_TRAILER, refusal.reason);
  return { code: refusal.code, details: refusal.message, metadata };
}

interface StoredSession {
  data: Buffer;
  version: bigint;
  lockId: bigint;
}

type Call = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

function record(method: RecordedCall["method"], call: Call): RecordedCall {
  const cn = call.getAuthContext().sslPeerCertificate?.subject?.CN;
  return {
    method,
    authorization: call.metadata.get("authorization").map(String),
    host: call.getHost(),
    clientCn: cn === undefined ? undefined : String(cn),
  };
}

/** Starts the server on 127.0.0.1, port 0, with `credentials` (TLS or plaintext). */
export async function startRecordingServer(credentials: grpc.ServerCredentials, refuse: RefusalRule = () => undefined): Promise<RecordingServer> {
  const calls: RecordedCall[] = [];
  const sessions = new Map<string, StoredSession>();
  let nextLockId = 1n;
  const key = (app: string, sessionId: string): string => `${app}\u0000${sessionId}`;

  /** Runs one operation on the in-memory sessions (the few semantics the tests need). */
  function run(request: NonNullable<PipelineOperation["request"]>): NonNullable<PipelineResult["result"]> {
    const stored = sessions.get(key(request.value.app, request.value.sessionId));
    switch (request.$case) {
      case "get":
        return {
          $case: "get",
          value: stored === undefined
            ? { outcome: Outcome.OUTCOME_NOT_FOUND, data: Buffer.alloc(0), version: 0n, lockId: 0n, lockAgeMs: 0n, ttlSeconds: 0 }
            : { outcome: Outcome.OUTCOME_OK, data: stored.data, version: stored.version, lockId: 0n, lockAgeMs: 0n, ttlSeconds: 60 },
        };
      case "lock": {
        let session = stored;
        if (session === undefined && request.value.create) {
          session = { data: Buffer.alloc(0), version: 1n, lockId: 0n };
          sessions.set(key(request.value.app, request.value.sessionId), session);
        }
        if (session === undefined) return { $case: "lock", value: { outcome: Outcome.OUTCOME_NOT_FOUND, data: Buffer.alloc(0), version: 0n, lockId: 0n, lockAgeMs: 0n, ttlSeconds: 0, created: false, leaseMs: 0 } };
        session.lockId = nextLockId++;
        return {
          $case: "lock",
          value: { outcome: Outcome.OUTCOME_OK, data: session.data, version: session.version, lockId: session.lockId, lockAgeMs: 0n, ttlSeconds: 60, created: stored === undefined, leaseMs: 10_000 },
        };
      }
      case "set": {
        const session = stored ?? { data: Buffer.alloc(0), version: 0n, lockId: 0n };
        session.data = Buffer.from(request.value.data);
        session.version += 1n;
        if (request.value.lockId !== 0n && !request.value.keepLock) session.lockId = 0n;
        sessions.set(key(request.value.app, request.value.sessionId), session);
        return { $case: "set", value: { version: session.version, written: true } };
      }
      case "release": {
        const released = stored !== undefined && stored.lockId !== 0n && stored.lockId === request.value.lockId;
        if (released) stored.lockId = 0n;
        return { $case: "release", value: { released } };
      }
      case "expire":
        return { $case: "expire", value: { found: stored !== undefined, ttlSeconds: stored === undefined ? 0 : 60 } };
      case "remove":
        sessions.delete(key(request.value.app, request.value.sessionId));
        return { $case: "remove", value: { removed: stored !== undefined } };
    }
  }

  function unary<K extends "get" | "lock" | "set" | "release" | "expire" | "remove">(method: K): grpc.handleUnaryCall<{ app: string; sessionId: string }, never> {
    return (call, callback) => {
      const recorded = record(method, call);
      calls.push(recorded);
      const refusal = refuse({ method, app: call.request.app, authorization: recorded.authorization });
      if (refusal !== undefined) {
        callback(refusalStatus(refusal));
        return;
      }
      const result = run({ $case: method, value: call.request } as NonNullable<PipelineOperation["request"]>);
      callback(null, result.value as never);
    };
  }

  const implementation: Partial<SessionStateServer> = {
    get: unary("get"),
    lock: unary("lock"),
    set: unary("set"),
    release: unary("release"),
    expire: unary("expire"),
    remove: unary("remove"),
    pipeline: (call: grpc.ServerDuplexStream<PipelineRequest, PipelineResponse>) => {
      const recorded = record("pipeline", call);
      calls.push(recorded);
      // As the server does: a stream without a valid credential is refused when it opens.
      const refusal = refuse({ method: "pipeline", app: undefined, authorization: recorded.authorization });
      if (refusal !== undefined) {
        call.emit("error", refusalStatus(refusal));
        return;
      }
      call.on("data", (request: PipelineRequest) => {
        const results: PipelineResult[] = request.operations.map((operation) => {
          const op = operation.request;
          if (op === undefined) throw new Error("an operation without a request");
          const denied = refuse({ method: op.$case, app: op.value.app, authorization: recorded.authorization });
          if (denied === undefined) return { id: operation.id, result: run(op) };
          const error: OperationError = { code: denied.code, message: denied.message, reason: denied.reason, metadata: { ...denied.metadata } };
          return { id: operation.id, result: { $case: "error", value: error } };
        });
        if (results.length > 0) call.write({ results });
      });
      call.on("end", () => call.end());
    },
    watch: (call) => {
      const recorded = record("watch", call);
      calls.push(recorded);
      const refusal = refuse({ method: "watch", app: call.request.app, authorization: recorded.authorization });
      if (refusal !== undefined) {
        call.emit("error", refusalStatus(refusal));
        return;
      }
      // One event, then the end of the call: enough to show the stream was accepted.
      call.write({ kind: SessionEventKind.SESSION_EVENT_KIND_REMOVED, app: call.request.app, sessionId: "watched", time: new Date(0) });
      call.end();
    },
  };
  const server = await startFakeServer(implementation, credentials);
  return { ...server, calls };
}
