/**
 * An in-process Stateward server on a Redis the test started itself (`--backend redis`, flags and
 * variables resolved as the CLI resolves them), with a unary client, for the Redis backend's tests
 * beyond the conformance suite: each test gives its own Redis or its own key prefix.
 */
import { randomBytes } from "node:crypto";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

import { resolveConfig, startServer, type StartedServer } from "../../src/index";
import { sessionKey } from "../../src/store/redis/session-keys";
import { callsFor, grpc, newChannelClient, withTimeout, type Calls } from "../helpers/test-server";
import type { SessionStateClient } from "../../../client/ts/src";

/** A started server on Redis and a client on it. */
export interface RedisNode {
  readonly server: StartedServer;
  readonly client: SessionStateClient;
  /** Promisified unary calls (key defaults to ("app", "s1"), as in helpers/test-server.ts). */
  readonly call: Calls;
  /** Its key prefix. */
  readonly prefix: string;
  /** Closes the client and shuts the server down (forced after 5 s); idempotent. */
  close(): Promise<void>;
}

/** A key prefix no other test uses, so that tests sharing one Redis never see each other's keys. */
export function uniquePrefix(what: string): string {
  return `t-${what}-${process.pid}-${randomBytes(4).toString("hex")}:`;
}

/** The Redis key of a session's hash (for tests that look at what the scripts wrote). */
export function keyOf(prefix: string, app: string, sessionId: string): string {
  return sessionKey(prefix, app, sessionId);
}

/** The argv of a server on `url` with `prefix`, on a free loopback port, silent. */
export function redisFlags(url: string, prefix: string, flags: readonly string[] = []): string[] {
  return ["--host", "127.0.0.1", "--port", "0", "--log-level", "silent", "--backend", "redis", "--redis-url", url, "--redis-prefix", prefix, ...flags];
}

/** Starts a server on `url` with `prefix`, `flags` and variables `env` (STATEWARD_*). */
export async function startRedisNode(url: string, prefix: string, flags: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RedisNode> {
  const server = await startServer(resolveConfig(redisFlags(url, prefix, flags), env));
  const client = newChannelClient(server.address);
  let closed: Promise<void> | undefined;
  return {
    server,
    client,
    call: callsFor(client),
    prefix,
    close: () => {
      closed ??= (async () => {
        client.close();
        await withTimeout(server.shutdown(), 5000, "server.shutdown()").catch((error: unknown) => {
          server.forceShutdown();
          throw error;
        });
      })();
      return closed;
    },
  };
}

/** Collects things to close in a test and closes them all in teardown, even when one fails. */
export class Teardown {
  private readonly steps: (() => Promise<void> | void)[] = [];

  /** Registers `step` (run last-registered first) and returns `value`. */
  add<T>(value: T, step: (value: T) => Promise<void> | void): T {
    this.steps.push(() => step(value));
    return value;
  }

  /** Runs every step; rethrows the first failure after all have run. */
  async run(): Promise<void> {
    let failure: unknown;
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error(String(failure));
  }
}

/** The grpc.health.v1 Check of the server (service ""), as a load balancer asks it. */
export interface HealthChecker {
  check(): Promise<string>;
  close(): void;
}

interface HealthClient extends grpc.Client {
  check(request: { service: string }, callback: (error: grpc.ServiceError | null, response: { status: string }) => void): void;
}

export function healthChecker(address: string): HealthChecker {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  const client = new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  return {
    check: () =>
      new Promise((resolve, reject) => {
        client.check({ service: "" }, (error, response) => (error !== null ? reject(error) : resolve(response.status)));
      }),
    close: () => client.close(),
  };
}
