/**
 * Test harness of the SDK: real Stateward servers on 127.0.0.1, port 0, and SessionClients on
 * them, all closed in teardown.
 */
import * as assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { resolveConfig, startServer, type StartedServer } from "../../../server/src/index";
import { SessionClient, SessionStateService, StatewardError, type SessionClientOptions, type SessionStateServer } from "../src";

export { assert };

/** Starts a real server on 127.0.0.1:0 (silent), with extra flags. */
export function startStateward(flags: string[] = []): Promise<StartedServer> {
  return startServer(resolveConfig(["--host", "127.0.0.1", "--port", "0", "--log-level", "silent", ...flags], {}));
}

/** Things to close after each test, in reverse order. */
export class Resources {
  private readonly closers: (() => unknown)[] = [];

  /** Registers a closer. */
  defer(close: () => unknown): void {
    this.closers.push(close);
  }

  /** A server, shut down in teardown. */
  async server(flags: string[] = []): Promise<StartedServer> {
    const server = await startStateward(flags);
    this.defer(() => withTimeout(server.shutdown(), 5000).catch(() => server.forceShutdown()));
    return server;
  }

  /** A client, closed in teardown. */
  client(options: SessionClientOptions): SessionClient {
    const client = new SessionClient(options);
    this.defer(() => client.close());
    return client;
  }

  /** Closes everything. */
  async close(): Promise<void> {
    while (this.closers.length > 0) await this.closers.pop()?.();
  }
}

/** Registers a fresh {@link Resources} per test, closed in afterEach. */
export function useResources(): () => Resources {
  let current = new Resources();
  beforeEach(() => {
    current = new Resources();
  });
  afterEach(async () => {
    await current.close();
  });
  return () => current;
}

/** Rejects if `promise` does not settle within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Awaits `promise`, asserting that it fails with a StatewardError of `code` (and `reason`). */
export async function expectStatewardError(promise: Promise<unknown>, code: number, reason?: string | readonly string[]): Promise<StatewardError> {
  try {
    const value = await promise;
    assert.fail(`expected a StatewardError, got ${String(value)}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    assert.ok(error instanceof StatewardError, `expected a StatewardError, got ${String(error)}`);
    assert.equal(error.code, code, `code ${error.code} (${error.reason}: ${error.details})`);
    if (reason !== undefined) {
      const allowed = typeof reason === "string" ? [reason] : reason;
      assert.ok(allowed.includes(error.reason), `reason ${error.reason} should be ${allowed.join(" or ")}`);
    }
    return error;
  }
}

/** Polls `condition` with a short backoff until true; fails after `timeoutMs`. Never a fixed sleep. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** Both transports, for suites that run over each. */
export const TRANSPORTS = ["pipeline", "unary"] as const;

/** An HTTP server (an Express app) listening on 127.0.0.1, port 0. */
export interface ListeningApp {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Closes the server and its open connections. */
  close(): Promise<void>;
}

/** Starts `app` (an Express app or any request listener) on 127.0.0.1, port 0. */
export async function listenOnLoopback(app: RequestListener): Promise<ListeningApp> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A scripted stand-in for a Stateward server (any SessionState implementation) on 127.0.0.1. */
export interface FakeServer {
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** Stops it at once (open calls and streams are cancelled). */
  close(): void;
}

/** Serves `implementation` as stateward.v1.SessionState on 127.0.0.1, port 0. */
export async function startFakeServer(
  implementation: Partial<SessionStateServer>,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<FakeServer> {
  const server = new grpc.Server();
  server.addService(SessionStateService, implementation as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", credentials, (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}
