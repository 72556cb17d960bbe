/**
 * Type tests of the public API (tstyche): the result unions narrow on `outcome`, lock ids and
 * versions are bigint, options reject the wrong types, and the Express entry fits express-session.
 */
import type { RequestHandler } from "express";
import session from "express-session";
import { describe, expect, test } from "tstyche";
import * as grpc from "@grpc/grpc-js";
import {
  ErrorReason,
  PipelineClient,
  SessionClient,
  StatewardError,
  channelCredentials,
  type BeginRequestResult,
  type EndRequestResult,
  type ExpireResult,
  type GetResult,
  type LockResult,
  type ReleaseResult,
  type RemoveResult,
  type ServerReason,
  type SetResult,
  type StatewardReason,
  type WithLockResult,
} from "../../src";
import { StatewardStore, statewardSession } from "../../src/express";

const client = new SessionClient({ endpoints: ["10.0.0.1:42424", { address: "10.0.0.2:42424", nodeId: "b" }] });

describe("results", () => {
  test("every operation returns its union", () => {
    expect(client.get("app", "sid")).type.toBe<Promise<GetResult>>();
    expect(client.lock("app", "sid")).type.toBe<Promise<LockResult>>();
    expect(client.set("app", "sid", "data")).type.toBe<Promise<SetResult>>();
    expect(client.release("app", "sid", 1n)).type.toBe<Promise<ReleaseResult>>();
    expect(client.expire("app", "sid")).type.toBe<Promise<ExpireResult>>();
    expect(client.remove("app", "sid")).type.toBe<Promise<RemoveResult>>();
  });

  test("outcomes are exactly the issue's", () => {
    expect<GetResult["outcome"]>().type.toBe<"ok" | "locked" | "not-found">();
    expect<LockResult["outcome"]>().type.toBe<"ok" | "locked" | "not-found">();
    expect<SetResult["outcome"]>().type.toBe<"ok" | "exists">();
    expect<ReleaseResult["outcome"]>().type.toBe<"ok" | "not-held">();
    expect<ExpireResult["outcome"]>().type.toBe<"ok" | "not-found">();
    expect<RemoveResult["outcome"]>().type.toBe<"ok" | "not-found">();
  });

  test("data is reachable only after narrowing", () => {
    const result = {} as GetResult;
    expect(result).type.not.toHaveProperty("data");
    if (result.outcome === "ok") {
      expect(result.data).type.toBe<Buffer>();
      expect(result.version).type.toBe<bigint>();
      expect(result.ttlSeconds).type.toBe<number>();
    }
    if (result.outcome === "locked") {
      expect(result.lockId).type.toBe<bigint>();
      expect(result.lockAgeMs).type.toBe<number>();
      expect(result).type.not.toHaveProperty("data");
    }
  });

  test("a taken lock carries its fencing token, creation flag and lease", () => {
    const result = {} as LockResult;
    if (result.outcome === "ok") {
      expect(result.lockId).type.toBe<bigint>();
      expect(result.created).type.toBe<boolean>();
      expect(result.leaseMs).type.toBe<number>();
      expect(result.data).type.toBe<Buffer>();
    }
  });
});

describe("arguments", () => {
  test("lock ids and versions are bigint, never number", () => {
    expect(client.release).type.toBeCallableWith("app", "sid", 5n);
    expect(client.release).type.not.toBeCallableWith("app", "sid", 5);
    expect(client.set).type.not.toBeCallableWith("app", "sid", "x", { lockId: 5 });
    expect(client.set).type.not.toBeCallableWith("app", "sid", "x", { expectedVersion: 2 });
    expect(client.remove).type.toBeCallableWith("app", "sid", { lockId: 5n });
  });

  test("data is bytes or a string", () => {
    expect(client.set).type.toBeCallableWith("app", "sid", new Uint8Array(2));
    expect(client.set).type.toBeCallableWith("app", "sid", Buffer.from("x"));
    expect(client.set).type.not.toBeCallableWith("app", "sid", 42);
    expect(client.set).type.not.toBeCallableWith("app", "sid", { some: "object" });
  });

  test("every call takes a deadline, a signal and metadata", () => {
    const signal = new AbortController().signal;
    expect(client.get).type.toBeCallableWith("app", "sid", { timeoutMs: 100, signal, metadata: { authorization: "x" }, waitMs: 10 });
    expect(client.lock).type.toBeCallableWith("app", "sid", { waitMs: 10, leaseMs: 1000, create: true, ttlSeconds: 60, timeoutMs: 50 });
    expect(client.get).type.not.toBeCallableWith("app", "sid", { timeoutMs: "soon" });
  });

  test("client options", () => {
    expect(SessionClient).type.toBeConstructableWith({ address: "127.0.0.1:42424", transport: "unary" });
    expect(SessionClient).type.toBeConstructableWith({ retry: false, defaultTimeoutMs: 1000, tls: { rootCerts: Buffer.from("") } });
    expect(SessionClient).type.not.toBeConstructableWith({ transport: "http" });
    expect(SessionClient).type.not.toBeConstructableWith({ endpoints: [42] });
  });

  test("security options: a token, TLS from PEM or files, a server name", () => {
    expect(SessionClient).type.toBeConstructableWith({ token: "t", tls: { rootCertsFile: "ca.pem", certChainFile: "c.pem", privateKeyFile: "c.key", serverName: "stateward.internal" } });
    expect(SessionClient).type.toBeConstructableWith({ tls: { rootCerts: "-----BEGIN CERTIFICATE-----", certChain: Buffer.from(""), privateKey: "pem" } });
    expect(SessionClient).type.toBeConstructableWith({ token: "t", insecureToken: true });
    expect(SessionClient).type.toBeConstructableWith({ credentials: grpc.credentials.createSsl(), token: "t" });
    expect(SessionClient).type.not.toBeConstructableWith({ token: 42 });
    expect(SessionClient).type.not.toBeConstructableWith({ insecureToken: "yes" });
    expect(SessionClient).type.not.toBeConstructableWith({ tls: { rootCertsFile: Buffer.from("") } });
    expect(SessionClient).type.not.toBeConstructableWith({ tls: { caFile: "ca.pem" } });
    // The token is the client's: not one more time in the pipeline's options.
    expect(SessionClient).type.not.toBeConstructableWith({ pipeline: { token: "t" } });
  });

  test("channelCredentials and PipelineClient take the same options", () => {
    expect(channelCredentials({ tls: { rootCertsFile: "ca.pem" }, token: "t" })).type.toBe<grpc.ChannelCredentials>();
    expect(channelCredentials()).type.toBe<grpc.ChannelCredentials>();
    expect(channelCredentials).type.not.toBeCallableWith({ insecureToken: true });
    expect(PipelineClient).type.toBeConstructableWith("127.0.0.1:42424", channelCredentials({ tls: {} }), { token: "t", streams: 2 });
    expect(PipelineClient).type.toBeConstructableWith("127.0.0.1:42424", grpc.credentials.createInsecure(), { token: "t", insecureToken: true });
    expect(PipelineClient).type.not.toBeConstructableWith("127.0.0.1:42424", grpc.credentials.createInsecure(), { token: 1 });
  });
});

describe("lock patterns", () => {
  test("withLock: fn returns new data or nothing", () => {
    expect(client.withLock("app", "sid", (data) => Buffer.concat([data, Buffer.from("!")]))).type.toBe<Promise<WithLockResult>>();
    expect(client.withLock).type.toBeCallableWith("app", "sid", async () => undefined);
    expect(client.withLock).type.toBeCallableWith("app", "sid", () => "text", { waitMs: 100, leaseMs: 1000 });
    expect(client.withLock).type.not.toBeCallableWith("app", "sid", () => 42);
  });

  test("waiterLimitRetry: a backoff policy or false", () => {
    expect(client.withLock).type.toBeCallableWith("app", "sid", () => "x", { waiterLimitRetry: { initialBackoffMs: 10, maxBackoffMs: 500 } });
    expect(client.withLock).type.toBeCallableWith("app", "sid", () => "x", { waiterLimitRetry: false });
    expect(client.withLock).type.not.toBeCallableWith("app", "sid", () => "x", { waiterLimitRetry: true });
    expect(client.beginRequest).type.toBeCallableWith("app", "sid", { readOnly: false, waiterLimitRetry: { maxBackoffMs: 200 } });
    expect(client.beginRequest).type.not.toBeCallableWith("app", "sid", { readOnly: false, waiterLimitRetry: { initialBackoffMs: "10" } });
  });

  test("beginRequest / endRequest", () => {
    expect(client.beginRequest("app", "sid", { readOnly: true })).type.toBe<Promise<BeginRequestResult>>();
    expect(client.beginRequest).type.not.toBeCallableWith("app", "sid", {});
    const begun = {} as BeginRequestResult;
    if (begun.outcome !== "locked") {
      expect(client.endRequest(begun, { data: "new" })).type.toBe<Promise<EndRequestResult>>();
    }
    expect(client.endRequest).type.not.toBeCallableWith(begun);
  });
});

describe("errors", () => {
  test("StatewardError carries a gRPC code and a stable reason", () => {
    const error = {} as StatewardError;
    expect(error.code).type.toBeAssignableTo<number>();
    expect(error.reason).type.toBe<StatewardReason>();
    expect<"LEASE_EXPIRED">().type.toBeAssignableTo<StatewardReason>();
    expect(StatewardError.is).type.toBeCallableWith(new Error("x"));
    expect(error.metadata).type.toBe<Readonly<Record<string, string>>>();
  });

  test("ServerReason is exactly the names of the contract's ErrorReason enum", () => {
    // Spelled out on purpose: a reason added to proto/stateward/v1/errors.proto must show up here
    // as a deliberate change of the public API.
    type Listed =
      | "INVALID_FIELD"
      | "ITEM_TOO_LARGE"
      | "LOCKED_BY_OTHER"
      | "STALE_LOCK_ID"
      | "LEASE_EXPIRED"
      | "SESSION_GONE"
      | "VERSION_MISMATCH"
      | "MEMORY_BUDGET"
      | "TOO_MANY_WAITERS"
      | "TOO_MANY_APPS"
      | "BATCH_TOO_LARGE"
      | "TOO_MANY_IN_FLIGHT"
      | "DUPLICATE_OPERATION_ID"
      | "DEADLINE_TOO_CLOSE"
      | "OPERATION_CANCELLED"
      | "CLIENT_TOO_SLOW"
      | "WATCHER_TOO_SLOW"
      | "SHUTTING_DOWN"
      | "MISSING_CREDENTIAL"
      | "UNKNOWN_CREDENTIAL"
      | "APP_NOT_ALLOWED"
      | "READ_ONLY_PRINCIPAL"
      | "BACKEND_UNAVAILABLE"
      | "PERSISTENCE_FAILED";
    expect<ServerReason>().type.toBe<Listed>();
    // ts-proto adds UNRECOGNIZED (-1) to every enum; it is no reason a server sends.
    expect<ServerReason>().type.toBe<Exclude<keyof typeof ErrorReason, "ERROR_REASON_UNSPECIFIED" | "UNRECOGNIZED">>();
    expect<ServerReason>().type.toBeAssignableTo<StatewardReason>();
  });
});

describe("express", () => {
  test("the store takes a client, or the options to make one (closed by store.close())", () => {
    expect(StatewardStore).type.toBeConstructableWith({ clientOptions: { address: "10.0.0.1:42424", tls: { rootCertsFile: "ca.pem" }, token: "t" }, app: "web" });
    expect(StatewardStore).type.not.toBeConstructableWith({ app: "web" });
    expect(StatewardStore).type.not.toBeConstructableWith({ client, clientOptions: {} });
    expect(StatewardStore).type.not.toBeConstructableWith({ clientOptions: { token: 42 } });
  });

  test("the store is an express-session Store; the middleware a RequestHandler", () => {
    const store = new StatewardStore({ client, app: "web" });
    expect(store).type.toBeAssignableTo<session.Store>();
    expect(statewardSession({ store, secret: "s" })).type.toBe<RequestHandler>();
    expect(statewardSession).type.toBeCallableWith({ store, secret: "s", readOnly: { methods: ["GET"], paths: ["/static", /^\/api\//] } });
    expect(statewardSession).type.toBeCallableWith({ store, secret: "s", readOnly: (req: { method: string }) => req.method === "GET" });
    expect(statewardSession).type.not.toBeCallableWith({ secret: "s" });
  });

  test("busy answers and full-queue retries are configurable", () => {
    const store = new StatewardStore({ client, waiterLimitRetry: false });
    expect(StatewardStore).type.toBeConstructableWith({ client, waiterLimitRetry: { initialBackoffMs: 5 } });
    expect(store.close()).type.toBe<void>();
    expect(statewardSession).type.toBeCallableWith({ store, secret: "s", busyResponse: { retryAfterSeconds: 5 } });
    expect(statewardSession).type.toBeCallableWith({ store, secret: "s", busyResponse: false });
    expect(statewardSession).type.not.toBeCallableWith({ store, secret: "s", busyResponse: { retryAfterSeconds: "5" } });
  });
});
