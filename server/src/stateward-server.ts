/**
 * Assembles and runs a Stateward server: the backend and the session store over it, the
 * SessionState service, health and reflection on one grpc-js server, telemetry (spans, metrics, the
 * Prometheus endpoint) and the HTTP health checks when configured, plus a graceful shutdown.
 */
import net from "node:net";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { TextMapPropagator, TracerProvider } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import { MeterProvider, type IMetricReader, type MetricProducer } from "@opentelemetry/sdk-metrics";
import type { ServerConfig } from "./config";
import { AccessGuard } from "./grpc/access-guard";
import { addHealthService } from "./grpc/health";
import { raiseConnectionWindows, raiseStreamWindow } from "./grpc/http2-windows";
import { receiveLimitBytes } from "./grpc/receive-limit";
import { addReflectionService } from "./grpc/reflection";
import { healthRoutes, startHealthEndpoint } from "./http/health-routes";
import type { HttpEndpoint } from "./http/http-listener";
import { createPipelineService } from "./grpc/pipeline-service";
import type { BufferMemoryRule } from "./gc-tuning";
import { startMemoryReturn, updateQuietly } from "./memory-return";
import { pipelineTelemetryObserver } from "./grpc/pipeline-telemetry";
import { SESSION_STATE_SERVER_DEFINITION } from "./grpc/response-codec";
import { createSessionStateService, type SessionStateHandlers } from "./grpc/session-state-service";
import { tlsServerCredentials } from "./grpc/tls-credentials";
import { unaryTelemetryObserver } from "./grpc/unary-telemetry";
import { WatchHub } from "./grpc/watch-service";
import { createLogger, type Logger } from "./logger";
import { ensurePortFree, isAddressInUse, PortInUseError } from "./port-in-use";
import { systemClock, type Clock } from "./store/clock";
import { Persistence, type PersistenceEvents } from "./store/durable/persistence";
import { MemoryBackend } from "./store/memory/memory-backend";
import { RedisBackend } from "./store/redis/redis-backend";
import { redactRedisUrl } from "./store/redis/redis-url";
import type { BackendEvents, SessionBackend } from "./store/session-backend";
import { SessionStore } from "./store/session-store";
import { CallMetrics } from "./telemetry/call-metrics";
import { GcMetrics } from "./telemetry/gc-metrics";
import { OperationTelemetry } from "./telemetry/operation-telemetry";
import { startMetricsEndpoint, type MetricsEndpoint } from "./telemetry/prometheus-endpoint";
import { PrometheusTextReader } from "./telemetry/prometheus-text-reader";
import { ServerMetrics } from "./telemetry/server-metrics";
import { startServerSecurity, type SecurityReload, type ServerSecurity } from "./server-security";
import { ServingState } from "./serving-state";

/** What a backend is built with. */
export interface BackendContext {
  /** The server's configuration (the backend's own options are in it). */
  readonly config: ServerConfig;
  /** The clock of the store and the backend. */
  readonly clock: Clock;
  /** Where the backend reports session ends, expiry slices and failing callbacks. */
  readonly events: BackendEvents;
  /** Where the memory backend's persistence (`--data-dir`) reports; none: it is not reported. */
  readonly persistenceEvents?: PersistenceEvents;
}

/** The backend `config.backend` names. */
export function createBackend(context: BackendContext): SessionBackend {
  const { config, clock, events } = context;
  switch (config.backend) {
    case "memory": {
      const journal = config.persistence.dataDir === "" ? undefined : new Persistence(config.persistence, context.persistenceEvents);
      return new MemoryBackend(config.memory, config.limits, clock, events, journal);
    }
    case "redis":
      // The system clock means Redis's own time (one clock for every node); another clock (tests) is sent with each script.
      return new RedisBackend(config.redis, config.limits, clock === systemClock ? undefined : clock, events);
  }
}

/** Optional collaborators of {@link startServer}, mainly for tests. */
export interface ServerDependencies {
  /** The store's clock; default {@link systemClock}. Tests pass a FakeClock. */
  readonly clock?: Clock;
  /**
   * Builds the backend instead of {@link createBackend} (tests run the conformance suite over a
   * backend that answers on a later tick this way). The server owns it: shutdown closes it.
   */
  readonly backend?: (context: BackendContext) => SessionBackend;
  /** The logger; default a pino logger on stderr at `config.logLevel`. */
  readonly logger?: Logger;
  /** Where spans and metrics go; default none (no telemetry work on the call path). */
  readonly telemetry?: ServerTelemetry;
  /**
   * Chooses V8's rule for buffer memory from the slab bytes the memory backend holds, once a second
   * (gc-tuning.ts). Process-wide, so the CLI passes one; default none (V8's own rule).
   */
  readonly externalMemoryRule?: BufferMemoryRule;
}

/**
 * Telemetry collaborators of {@link startServer}. The CLI builds them from the OTEL_* variables
 * (see telemetry/telemetry-sdk.ts); tests pass in-memory exporters and readers.
 */
export interface ServerTelemetry {
  /** Creates a span per operation; absent = no tracing. */
  readonly tracerProvider?: TracerProvider;
  /**
   * Reads the callers' trace context from requests; default W3C Trace Context. The CLI passes the
   * global propagator, which OTEL_PROPAGATORS configures.
   */
  readonly propagator?: TextMapPropagator;
  /**
   * Creates the metric readers besides the Prometheus endpoint (OTLP push, a test's reader), each
   * with `producers` as its `metricProducers` (the per-call metrics are aggregated outside the SDK's
   * instruments, see telemetry/call-metrics.ts). With none and no `--metrics-port`, no metric is
   * recorded. The server owns the readers: its shutdown shuts them down.
   */
  readonly metricReaders?: (producers: MetricProducer[]) => readonly IMetricReader[];
  /** Resource describing this process on the metrics (service.name, ...). */
  readonly resource?: Resource;
  /**
   * Root sampling done by Stateward before the SDK (see OperationTelemetryOptions.rootSampleRatio);
   * only with a tracer provider whose sampler is parent-based with an always-on root.
   */
  readonly rootSampleRatio?: number;
}

/** A running server. */
export interface StartedServer {
  /** The host it listens on, as configured. */
  readonly host: string;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** `host:port` for clients (IPv6 hosts in brackets). */
  readonly address: string;
  /** The session store behind the service (for tests and diagnostics: `store.counts()`). */
  readonly store: SessionStore;
  /** The backend under the store (for tests and tools that need its internals). */
  readonly backend: SessionBackend;
  /** The port of the Prometheus endpoint, when `--metrics-port` is set. */
  readonly metricsPort: number | undefined;
  /** The port of the health-only HTTP endpoint, when `--health-port` is set. */
  readonly healthPort: number | undefined;
  /** Connected Watch streams (for tests and diagnostics). */
  readonly watchers: () => number;
  /** True when the ports speak TLS (--tls-cert). */
  readonly tls: boolean;
  /**
   * Re-reads the TLS files and the auth file now (the CLI calls it on SIGHUP); they are also
   * re-read when they change. A broken new file is logged and the old one kept.
   */
  reload(): SecurityReload;
  /**
   * Graceful shutdown: health turns NOT_SERVING (`/readyz` 503); calls go on being served for
   * `config.shutdownDelayMs` (0 by default); then new calls are refused, waiting calls are answered
   * UNAVAILABLE, in-flight calls get up to `config.shutdownGraceMs` to finish, and the rest are
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

function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => {
      if (error !== null) reject(new Error(`Cannot listen on ${address}: ${error.message}`, { cause: error }));
      else resolve(port);
    });
  });
}

/** The unary handlers behind the auth file's checks (the Pipeline checks its operations itself). */
function guardedUnary(handlers: SessionStateHandlers, guard: AccessGuard): SessionStateHandlers {
  return {
    ...handlers,
    get: guard.unary("get", handlers.get),
    lock: guard.unary("lock", handlers.lock),
    set: guard.unary("set", handlers.set),
    release: guard.unary("release", handlers.release),
    expire: guard.unary("expire", handlers.expire),
    remove: guard.unary("remove", handlers.remove),
  };
}

/**
 * Starts a server with `config` and resolves once it listens.
 *
 * @param config - a configuration from {@link resolveConfig}.
 * @param deps - optional clock and logger.
 * @throws {@link PortInUseError} if `--port` or `--metrics-port` is taken; another error if the
 *   address cannot be bound otherwise (the store is closed again).
 */
export async function startServer(config: ServerConfig, deps: ServerDependencies = {}): Promise<StartedServer> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const telemetryDeps = deps.telemetry ?? {};

  // Before anything listens, so that a taken port is one clear line and nothing is left to undo.
  await ensurePortFree(config.host, config.port, "--port");
  // One state for gRPC health and the HTTP checks; serving once the gRPC port is bound.
  const serving = new ServingState();
  // The TLS and auth files are read and checked before anything else is built: a broken file stops
  // the start with its message. Refusals are counted once the metrics below exist.
  const security: ServerSecurity = startServerSecurity(config, logger, (denial) => metrics?.recordAuthFailure(denial.reason));
  const guard = security.access === undefined ? undefined : new AccessGuard(security.access, security.tls?.mutual ?? false);

  // Metrics exist only when something reads them: the Prometheus endpoint or another reader.
  const calls = new CallMetrics();
  const gc = new GcMetrics();
  const producers = [calls, gc];
  // The scrape endpoint's reader now, its port only once everything is built (see below).
  const scrapeReader = config.metricsPort === 0 ? undefined : new PrometheusTextReader(producers);
  const readers = [...(scrapeReader === undefined ? [] : [scrapeReader]), ...(telemetryDeps.metricReaders?.(producers) ?? [])];
  let meterProvider: MeterProvider | undefined;
  let metrics: ServerMetrics | undefined;
  if (readers.length > 0) {
    meterProvider = new MeterProvider({ readers: [...readers], ...(telemetryDeps.resource ? { resource: telemetryDeps.resource } : {}) });
    // Observed at collection time, after the store and the hub below exist.
    metrics = new ServerMetrics(
      meterProvider,
      {
        storeStats: () => backend.stats(),
        watchers: () => watchHub.size,
      },
      calls,
      gc,
    );
  }
  const serverMetrics: ServerMetrics | undefined = metrics;
  const watchHub: WatchHub = new WatchHub(
    config.watchMaxBacklog,
    logger,
    serverMetrics === undefined
      ? {}
      : { onEventSent: (kind) => serverMetrics.recordWatchEvent(kind), onWatcherDropped: () => serverMetrics.watchDropped.add(1) },
  );
  const clock = deps.clock ?? systemClock;
  const events: BackendEvents = {
    // The backend survives a throwing answer callback; the cause must still reach the log.
    onCallbackError: (error) => logger.error({ err: error }, "error while answering a waiting call"),
    // A getter: the backend reads the hook at each session end and decodes the session's id only
    // when there is one, so it is there only while someone watches.
    get onSessionEnd() {
      return watchHub.size > 0 ? watchHub.publish : undefined;
    },
    ...(serverMetrics === undefined ? {} : { onExpirySlice: (ms: number) => serverMetrics.expirySlice.record(ms / 1000) }),
    onAvailability: (available) => {
      if (available) logger.info({ backend: config.backend }, "the session backend is reachable again: serving");
      else logger.error({ backend: config.backend }, "the session backend is unreachable: calls fail with UNAVAILABLE, health reports NOT_SERVING");
      serving.setBackendAvailable(available);
    },
    onBackendError: (error, what) => logger.warn({ err: error, backend: config.backend }, `session backend error: ${what}`),
  };
  let backend: SessionBackend;
  try {
    const persistenceEvents: PersistenceEvents = {
      onWritable: (writable, cause) => {
        if (writable) logger.info({ dataDir: config.persistence.dataDir }, "the append-only log can be written again: serving");
        else logger.error({ dataDir: config.persistence.dataDir, cause }, "the append-only log cannot be written: writes fail with UNAVAILABLE (PERSISTENCE_FAILED), health reports NOT_SERVING");
        serving.setBackendAvailable(writable);
      },
      onNotice: (level, message, details, error) => logger[level]({ ...details, ...(error === undefined ? {} : { err: error }) }, message),
      ...(serverMetrics === undefined
        ? {}
        : {
            onSync: (seconds: number) => serverMetrics.fsync.record(seconds),
            onSnapshot: (seconds: number) => serverMetrics.snapshot.record(seconds),
          }),
    };
    backend = (deps.backend ?? createBackend)({ config, clock, events, persistenceEvents });
    await backend.open?.();
    // What a replay loaded counts at once, not only at the memory loop's first look a second later.
    if (deps.externalMemoryRule !== undefined) updateQuietly(deps.externalMemoryRule, backend.stats().slabBytes, logger);
  } catch (error) {
    security.close();
    serverMetrics?.close();
    await meterProvider?.shutdown();
    throw error;
  }
  const sessionStore = new SessionStore(backend, config.limits, clock);
  const telemetry = new OperationTelemetry({
    tracerProvider: telemetryDeps.tracerProvider,
    metrics: serverMetrics,
    propagator: telemetryDeps.propagator,
    rootSampleRatio: telemetryDeps.rootSampleRatio,
    sessionHashKey: config.sessionHashKey,
  });
  const maxReceiveBytes = receiveLimitBytes(sessionStore.limits.maxItemBytes);
  const server = new Server({ "grpc.max_receive_message_length": maxReceiveBytes });
  const streamWindowRaised = raiseStreamWindow(server);
  const pipeline = createPipelineService(
    sessionStore,
    logger,
    { maxBatch: config.maxPipelineBatch, maxInFlight: config.maxPipelineInFlight, pollUs: config.pipelinePollUs },
    clock,
    telemetry.enabled ? pipelineTelemetryObserver(telemetry) : undefined,
    guard,
  );
  // Without telemetry there is no observer: "off" adds nothing to the call path.
  const unary = createSessionStateService(sessionStore, logger, pipeline, clock, telemetry.enabled ? unaryTelemetryObserver(telemetry) : undefined);
  server.addService(
    SESSION_STATE_SERVER_DEFINITION,
    guard === undefined ? { ...unary, watch: watchHub.handle } : { ...guardedUnary(unary, guard), watch: guard.watch(watchHub.handle, watchHub.endWatch) },
  );
  // Open with an auth file too: load balancers and grpc_health_probe call it without credentials.
  addHealthService(server, serving);
  addReflectionService(server, guard);
  const credentials = security.tls === undefined ? ServerCredentials.createInsecure() : tlsServerCredentials(security.tls);

  // Nothing listens until everything above is built: a start that fails leaves no port open.
  let healthEndpoint: HttpEndpoint | undefined;
  let endpoint: MetricsEndpoint | undefined;
  const closeHealthEndpoint = async (): Promise<void> => healthEndpoint?.close();
  const stopTelemetry = async (): Promise<void> => {
    serverMetrics?.close();
    await Promise.allSettled([endpoint?.close(), meterProvider?.shutdown()]);
  };

  let port: number;
  try {
    if (config.healthPort !== 0) {
      healthEndpoint = await startHealthEndpoint(config.host, config.healthPort, serving, security.tls).catch((error: unknown) => {
        throw isAddressInUse(error) ? new PortInUseError(config.healthPort, "--health-port", { cause: error }) : error;
      });
    }
    if (scrapeReader !== undefined) {
      endpoint = await startMetricsEndpoint(config.host, config.metricsPort, scrapeReader, healthRoutes(serving), {
        ...(security.tls === undefined ? {} : { tls: security.tls }),
        ...(security.access === undefined ? {} : { access: security.access }),
      }).catch((error: unknown) => {
        throw isAddressInUse(error) ? new PortInUseError(config.metricsPort, "--metrics-port", { cause: error }) : error;
      });
    }
    port = await bind(server, joinHostPort(config.host, config.port), credentials);
    if (!(raiseConnectionWindows(server) && streamWindowRaised)) {
      logger.warn("this grpc-js has no known way to raise the server's HTTP/2 windows: connections keep the 64 KiB default");
    }
  } catch (error) {
    security.close();
    server.forceShutdown();
    await sessionStore.close();
    await stopTelemetry();
    await closeHealthEndpoint();
    throw error;
  }
  serving.serve();
  const address = joinHostPort(config.host, port);
  logger.info(
    {
      host: config.host,
      port,
      backend: backend.name,
      maxItemBytes: sessionStore.limits.maxItemBytes,
      maxReceiveBytes,
      ...(config.backend === "memory" ? { shards: config.memory.shards, maxMemoryBytes: config.memory.maxMemoryBytes } : {}),
      ...(config.backend === "redis"
        ? config.redis.cluster.length > 0
          ? { redisCluster: config.redis.cluster.join(","), redisPrefix: config.redis.prefix }
          : { redisUrl: redactRedisUrl(config.redis.url), redisPrefix: config.redis.prefix }
        : {}),
      metricsPort: endpoint?.port,
      healthPort: healthEndpoint?.port,
      tracing: telemetry.tracing,
      tls: security.tls === undefined ? false : security.tls.mutual ? "mutual" : true,
      authFile: security.access === undefined ? false : config.authFile,
    },
    "stateward listening",
  );

  const memoryReturn = startMemoryReturn(
    {
      released: () => backend.stats().slabBytesReleased,
      held: () => backend.stats().slabBytes,
    },
    deps.externalMemoryRule,
    logger,
  );
  let stopping: Promise<void> | undefined;
  let storeClosed: Promise<void> | undefined;

  /** Closes the store once; a failing close is logged (shutdown goes on). */
  function closeStore(): Promise<void> {
    storeClosed ??= sessionStore.close().catch((error: unknown) => logger.error({ err: error }, "error while closing the backend"));
    return storeClosed;
  }

  /** The --shutdown-delay-ms pause: health says NOT_SERVING while calls are still served. */
  let endDelay: (() => void) | undefined;
  function announceShutdown(): Promise<void> {
    serving.stop();
    if (config.shutdownDelayMs === 0) return Promise.resolve();
    logger.info({ delayMs: config.shutdownDelayMs }, "not ready: serving on until the shutdown delay is over");
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => endDelay?.(), config.shutdownDelayMs);
      endDelay = () => {
        endDelay = undefined;
        clearTimeout(timer);
        resolve();
      };
    });
  }

  function shutdown(): Promise<void> {
    stopping ??= announceShutdown().then(() => drain());
    return stopping;
  }

  function drain(): Promise<void> {
    return new Promise<void>((resolve) => {
      logger.info({ graceMs: config.shutdownGraceMs }, "shutting down");
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
        security.close();
        // Last: the final metric collection (OTLP push) sees the stopped state.
        void closeStore().then(stopTelemetry).then(closeHealthEndpoint).then(resolve);
      };
      // Stop accepting first, so no call can start waiting after the store has answered the waiters.
      server.tryShutdown(() => finish(false));
      memoryReturn.stop();
      // Pipeline streams stay open until the client ends them: once the backend has answered its
      // waiters (UNAVAILABLE), send that and end them, so they do not hold the shutdown for the
      // grace period. Watch streams never end by themselves either.
      void closeStore().then(() => {
        pipeline.endAll();
        watchHub.endAll();
      });
    });
  }

  function forceShutdown(): void {
    // A shutdown() in its delay goes on to its (now immediate) drain and resolves.
    endDelay?.();
    serving.stop();
    server.forceShutdown();
    memoryReturn.stop();
    security.close();
    void closeStore().then(stopTelemetry).then(closeHealthEndpoint);
    pipeline.endAll();
    watchHub.endAll();
  }

  return Object.freeze({
    host: config.host,
    port,
    address,
    store: sessionStore,
    backend,
    metricsPort: endpoint?.port,
    healthPort: healthEndpoint?.port,
    watchers: () => watchHub.size,
    tls: security.tls !== undefined,
    reload: () => security.reload(),
    shutdown,
    forceShutdown,
  });
}
