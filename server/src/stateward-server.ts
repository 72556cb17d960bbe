/**
 * Assembles and runs a Stateward server: the session store, the SessionState service, health and
 * reflection on one grpc-js server, plus a graceful shutdown.
 */
import net from "node:net";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { SessionStateService } from "@stateward/client";
import type { ServerConfig } from "./config";
import { addHealthService } from "./grpc/health";
import { addReflectionService } from "./grpc/reflection";
import { createPipelineService } from "./grpc/pipeline-service";
import { createSessionStateService } from "./grpc/session-state-service";
import { createLogger, type Logger } from "./logger";
import { systemClock, type Clock } from "./store/clock";
import { SessionStore } from "./store/session-store";

/**
 * Headroom of the gRPC receive limit above `maxItemBytes`: room for the other request fields, so a
 * too-large item reaches the store and gets its INVALID_ARGUMENT naming the limit instead of
 * grpc-js's generic RESOURCE_EXHAUSTED.
 */
export const RECEIVE_LIMIT_HEADROOM_BYTES = 64 * 1024;

/** Optional collaborators of {@link startServer}, mainly for tests. */
export interface ServerDependencies {
  /** The store's clock; default {@link systemClock}. Tests pass a FakeClock. */
  readonly clock?: Clock;
  /** The logger; default a pino logger on stderr at `config.logLevel`. */
  readonly logger?: Logger;
}

/** A running server. */
export interface StartedServer {
  /** The host it listens on, as configured. */
  readonly host: string;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** `host:port` for clients (IPv6 hosts in brackets). */
  readonly address: string;
  /** The session store behind the service (for tests and diagnostics). */
  readonly store: SessionStore;
  /**
   * Graceful shutdown: health turns NOT_SERVING, new calls are refused, waiting calls are answered
   * UNAVAILABLE, in-flight calls get up to `config.shutdownGraceMs` to finish, then the rest are
   * cancelled. Idempotent: every call returns the same promise.
   */
  shutdown(): Promise<void>;
  /** Immediate shutdown: cancels every call and closes the store. */
  forceShutdown(): void;
}

/** `host:port`, with IPv6 literals in brackets as gRPC addresses need. */
function joinHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => {
      if (error !== null) reject(new Error(`Cannot listen on ${address}: ${error.message}`, { cause: error }));
      else resolve(port);
    });
  });
}

/**
 * Starts a server with `config` and resolves once it listens.
 *
 * @param config - a configuration from {@link resolveConfig}.
 * @param deps - optional clock and logger.
 * @throws if the address cannot be bound (the store is closed again).
 */
export async function startServer(config: ServerConfig, deps: ServerDependencies = {}): Promise<StartedServer> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const store = new SessionStore(config.store, deps.clock ?? systemClock, {
    // The store survives a throwing answer callback; the cause must still reach the log.
    onCallbackError: (error) => logger.error({ err: error }, "error while answering a waiting call"),
  });
  const server = new Server({
    "grpc.max_receive_message_length": store.options.maxItemBytes + RECEIVE_LIMIT_HEADROOM_BYTES,
  });
  const pipeline = createPipelineService(store, logger, {
    maxBatch: config.maxPipelineBatch,
    maxInFlight: config.maxPipelineInFlight,
  });
  server.addService(SessionStateService, createSessionStateService(store, logger, pipeline));
  const health = addHealthService(server);
  addReflectionService(server);

  let port: number;
  try {
    port = await bind(server, joinHostPort(config.host, config.port));
  } catch (error) {
    server.forceShutdown();
    store.close();
    throw error;
  }
  const address = joinHostPort(config.host, port);
  logger.info(
    {
      host: config.host,
      port,
      shards: store.options.shards,
      maxItemBytes: store.options.maxItemBytes,
      maxMemoryBytes: store.options.maxMemoryBytes,
    },
    "stateward listening",
  );

  let stopping: Promise<void> | undefined;

  function shutdown(): Promise<void> {
    stopping ??= new Promise<void>((resolve) => {
      logger.info({ graceMs: config.shutdownGraceMs }, "shutting down");
      health.stop();
      let done = false;
      const graceTimer = setTimeout(() => {
        logger.warn({ graceMs: config.shutdownGraceMs }, "grace period over: cancelling the remaining calls");
        server.forceShutdown();
        finish(true);
      }, config.shutdownGraceMs);
      const finish = (forced: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(graceTimer);
        logger.info({ forced }, "stateward stopped");
        resolve();
      };
      // Stop accepting first, so no call can start waiting after the store has answered the waiters.
      server.tryShutdown(() => finish(false));
      store.close();
      // Pipeline streams stay open until the client ends them: send what the store just answered
      // (waiters get UNAVAILABLE) and end them, so they do not hold the shutdown for the grace period.
      pipeline.endAll();
    });
    return stopping;
  }

  function forceShutdown(): void {
    health.stop();
    server.forceShutdown();
    store.close();
    pipeline.endAll();
  }

  return Object.freeze({ host: config.host, port, address, store, shutdown, forceShutdown });
}
