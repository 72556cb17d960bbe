import { createClient, createCluster, RESP_TYPES } from "redis";

import { StoreError } from "../store-error";
import type { LuaScript } from "./lua-scripts";
import type { RedisOptions } from "./redis-options";

/** A reply of a script: nested arrays of integers and byte strings. */
export type ScriptReply = readonly (number | Buffer | ScriptReply)[];

/** Replies' byte strings as Buffers (payloads are bytes, never decoded as text). */
const AS_BUFFERS = Object.freeze({ [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.SIMPLE_STRING]: Buffer });

/** Redis answers meaning "not now, same command again shortly" (slot moving, failover, loading). */
const TRANSIENT = /^(TRYAGAIN|CLUSTERDOWN|LOADING|MASTERDOWN|READONLY|BUSY)\b/;

/** Errors that mean Redis could not be used (rather than a bug in a script). */
const UNREACHABLE = new Set([
  "ClientClosedError",
  "ClientOfflineError",
  "ConnectionTimeoutError",
  "SocketClosedUnexpectedlyError",
  "SocketTimeoutError",
  "TimeoutError",
  "DisconnectsClientError",
  "RootNodesUnavailableError",
  "ReconnectStrategyError",
  "MaxCommandRedirectionsError",
]);

/** What the connection reports. */
export interface ConnectionEvents {
  /** Redis became reachable (true) or not (false); called on changes only. */
  readonly onAvailability: (available: boolean) => void;
  /** A message on a channel the backend subscribed to (bytes). */
  readonly onMessage: (channel: string, message: Buffer) => void;
  /** The subscriptions were (re)established: messages sent meanwhile may have been lost. */
  readonly onResubscribed: () => void;
  /** A cause for the log (never with a session id or data). */
  readonly onError: (error: unknown, what: string) => void;
}

/** The refusal for an unreachable Redis. */
export function backendUnavailable(detail: string): StoreError {
  return new StoreError("unavailable", "BACKEND_UNAVAILABLE", `the session backend (Redis) is unavailable: ${detail}`, { backend: "redis" });
}

/** The refusal for Redis's maxmemory. */
function memoryFull(): StoreError {
  return new StoreError(
    "resource-exhausted",
    "MEMORY_BUDGET",
    "Redis is out of memory (its maxmemory is reached and its policy evicts nothing more); nothing was written",
    { limit: "redis maxmemory" },
  );
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.constructor.name : typeof error;
}

/**
 * Redis as the backend uses it: scripts run by EVALSHA (loaded again by EVAL when Redis answers
 * NOSCRIPT, after a restart or a failover), on one Redis or a Redis Cluster (node-redis follows
 * MOVED and ASK itself; TRYAGAIN and the like are retried here within the command timeout), with
 * node-redis's automatic pipelining (commands of one tick share a write); plus one subscriber
 * connection for the wake-up and event channels. Commands are refused at once while Redis is
 * unreachable (no offline queue): a caller gets UNAVAILABLE instead of waiting.
 */
export class RedisConnection {
  private readonly client: ReturnType<typeof createClient> | undefined;
  private readonly cluster: ReturnType<typeof createCluster> | undefined;
  /** The database of a `redis://host/3` URL (0 by default, and always in a cluster). */
  readonly database: number;
  private subscriber: ReturnType<typeof createClient> | undefined;
  private available = true;
  /** What the connection last failed with (an error code, never a password), for the start's message. */
  private lastCause = "";
  private probe: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly options: RedisOptions,
    private readonly events: ConnectionEvents,
  ) {
    const socket = {
      connectTimeout: options.commandTimeoutMs,
      // Reconnect fast: calls fail while Redis is away and must work again soon after it is back.
      reconnectStrategy: (retries: number): number => Math.min(20 * 2 ** retries, 500),
    };
    // Every part of the URL is given to node-redis explicitly, so that STATEWARD_REDIS_PASSWORD
    // (for a URL without a password) goes with the URL's user; node-redis would drop one or the other.
    const url = new URL(options.url);
    const password = url.password !== "" ? decodeURIComponent(url.password) : options.password;
    const common = {
      disableOfflineQueue: true,
      ...(url.username === "" ? {} : { username: decodeURIComponent(url.username) }),
      ...(password === "" ? {} : { password }),
    };
    const tls = url.protocol === "rediss:";
    if (options.cluster.length > 0) {
      this.database = 0;
      this.cluster = createCluster({
        rootNodes: options.cluster.map((node) => ({ url: `${url.protocol}//${node}` })),
        defaults: { ...common, socket: { ...socket, ...(tls ? { tls: true as const } : {}) } },
      });
      this.cluster.on("error", (error: unknown) => this.lost(error, "cluster"));
    } else {
      const database = url.pathname.replace(/^\//, "");
      this.database = database === "" ? 0 : Number(database);
      this.client = createClient({
        ...common,
        database: this.database,
        socket: {
          ...socket,
          host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
          port: url.port === "" ? 6379 : Number(url.port),
          ...(tls ? { tls: true as const, servername: url.hostname } : {}),
        },
      });
      this.client.on("error", (error: unknown) => this.lost(error, "connection"));
      this.client.on("ready", () => this.setAvailable(true));
    }
  }

  /** Whether Redis answered the last time it was used. */
  get isAvailable(): boolean {
    return this.available;
  }

  /**
   * Connects and subscribes to `channels` (and `keyEvents`, keyspace-notification channels of
   * every master). Rejects if Redis cannot be reached within the command timeout.
   */
  async connect(channels: readonly string[], keyEvents: readonly string[]): Promise<void> {
    const connected: Promise<unknown> = this.client !== undefined ? this.client.connect() : (this.cluster as NonNullable<typeof this.cluster>).connect();
    await withTimeout(connected, this.options.commandTimeoutMs * 2, "connecting to Redis", () => this.lastCause);
    await this.subscribe(channels, keyEvents);
  }

  /**
   * Loads `scripts` into Redis (every master of a cluster), so that the first calls find them: a
   * call that meets NOSCRIPT goes out again, behind calls sent after it.
   */
  async loadScripts(scripts: readonly LuaScript[]): Promise<void> {
    for (const client of await this.masters()) {
      for (const script of scripts) await client.sendCommand(["SCRIPT", "LOAD", script.source]);
    }
  }

  /**
   * Runs `script` on the session `key` with the arguments `head` then `args` (kept apart so that
   * the command array is built once); rejects with a StoreError when Redis cannot answer.
   */
  async run(script: LuaScript, key: string, head: readonly string[], args: readonly (string | Buffer)[]): Promise<ScriptReply> {
    const started = Date.now();
    const command: (string | Buffer)[] = ["EVALSHA", script.sha1, "1", key, ...head, ...args];
    for (let attempt = 0; ; attempt++) {
      try {
        const reply = await this.send<ScriptReply>(key, command);
        this.setAvailable(true);
        return reply;
      } catch (error) {
        const message = error instanceof Error ? error.message : "";
        if (message.startsWith("NOSCRIPT") && command[0] === "EVALSHA") {
          command[0] = "EVAL";
          command[1] = script.source;
          continue;
        }
        if (message.startsWith("OOM")) throw memoryFull();
        const left = this.options.commandTimeoutMs - (Date.now() - started);
        if (TRANSIENT.test(message) && left > 0) {
          await delay(Math.min(left, 5 * 2 ** Math.min(attempt, 6)));
          continue;
        }
        throw this.failure(error, script.name);
      }
    }
  }

  /**
   * Redis WAIT on the master of `key`: resolves when `replicas` replicas have every write made so
   * far on that connection, rejects with UNAVAILABLE if they do not within the wait timeout.
   */
  async waitForReplicas(key: string, replicas: number, timeoutMs: number): Promise<void> {
    let acknowledged: number;
    try {
      acknowledged = await this.send<number>(key, ["WAIT", String(replicas), String(timeoutMs)], timeoutMs + this.options.commandTimeoutMs);
    } catch (error) {
      throw this.failure(error, "wait");
    }
    if (acknowledged < replicas) {
      throw backendUnavailable(
        `the write was made but only ${acknowledged} of ${replicas} replicas confirmed it within ${timeoutMs} ms (--redis-wait-replicas); it may be lost on a failover`,
      );
    }
  }

  /** SCANs the keys matching `pattern` on every master, calling `visit` with each batch. */
  async scan(pattern: string, visit: (keys: readonly string[]) => Promise<void>): Promise<void> {
    for (const client of await this.masters()) {
      let cursor = "0";
      do {
        const [next, keys] = await client.sendCommand<[string, string[]]>(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"]);
        cursor = String(next);
        if (keys.length > 0) await visit(keys);
      } while (cursor !== "0");
    }
  }

  /** Redis's clock, in ms. */
  async time(): Promise<number> {
    const [seconds, micros] = await this.send<[string, string]>("time", ["TIME"], undefined, false);
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /** HMGET on a session key (for counts). */
  async fields(key: string, names: readonly string[]): Promise<(string | null)[]> {
    return this.send<(string | null)[]>(key, ["HMGET", key, ...names], undefined, false);
  }

  /**
   * Turns on the keyspace notifications for expired keys (`Ex`) on every master, keeping the flags
   * already set. False if Redis refuses (an ACL without CONFIG): Watch then sees no expiries that
   * Redis performs itself.
   */
  async enableExpiryEvents(): Promise<boolean> {
    const clients = await this.masters();
    try {
      for (const client of clients) {
        const reply = await client.sendCommand<string[]>(["CONFIG", "GET", "notify-keyspace-events"]);
        const flags = String(reply[1] ?? "");
        let wanted = flags;
        if (!wanted.includes("E")) wanted += "E";
        if (!wanted.includes("x") && !wanted.includes("A")) wanted += "x";
        if (wanted !== flags) await client.sendCommand(["CONFIG", "SET", "notify-keyspace-events", wanted]);
      }
      return true;
    } catch (error) {
      this.events.onError(error, "enabling keyspace notifications (CONFIG SET notify-keyspace-events Ex)");
      return false;
    }
  }

  /** A client of the single Redis, or one per master of the cluster. */
  private async masters(): Promise<ReturnType<typeof createClient>[]> {
    if (this.client !== undefined) return [this.client];
    const cluster = this.cluster as NonNullable<typeof this.cluster>;
    return Promise.all(cluster.masters.map((master) => cluster.nodeClient(master))) as Promise<ReturnType<typeof createClient>[]>;
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.probe !== undefined) clearInterval(this.probe);
    const quits: Promise<unknown>[] = [];
    if (this.subscriber !== undefined) quits.push(this.subscriber.close().catch(() => undefined));
    if (this.client !== undefined) quits.push(this.client.close().catch(() => undefined));
    if (this.cluster !== undefined) quits.push(this.cluster.close().catch(() => undefined));
    await Promise.all(quits);
  }

  private async send<T>(key: string, command: readonly (string | Buffer)[], timeout = this.options.commandTimeoutMs, buffers = true): Promise<T> {
    const options = buffers ? { typeMapping: AS_BUFFERS, timeout } : { timeout };
    if (this.client !== undefined) return this.client.sendCommand<T>(command, options);
    return (this.cluster as NonNullable<typeof this.cluster>).sendCommand<T>(key, false, [...command], options);
  }

  private async subscribe(channels: readonly string[], keyEvents: readonly string[]): Promise<void> {
    const listener = (message: Buffer, channel: Buffer): void => this.events.onMessage(channel.toString("latin1"), message);
    if (this.client !== undefined) {
      const subscriber = this.client.duplicate();
      subscriber.on("error", (error: unknown) => this.lost(error, "subscriber"));
      let first = true;
      subscriber.on("ready", () => {
        // node-redis subscribes again after a reconnect; whatever was published meanwhile is lost.
        if (!first) this.events.onResubscribed();
        first = false;
      });
      await subscriber.connect();
      this.subscriber = subscriber;
      await subscriber.subscribe([...channels, ...keyEvents], listener, true);
      return;
    }
    const cluster = this.cluster as NonNullable<typeof this.cluster>;
    // Classic PUBLISH reaches every node of a cluster: the wake-up channels work through any one.
    await cluster.subscribe([...channels], listener, true);
    // Keyspace notifications stay on the node where the key expired: one subscriber per master.
    if (keyEvents.length > 0) {
      for (const master of cluster.masters) {
        const node = await cluster.nodeClient(master);
        const subscriber = node.duplicate();
        subscriber.on("error", (error: unknown) => this.lost(error, "keyspace subscriber"));
        await subscriber.connect();
        await subscriber.subscribe([...keyEvents], listener, true);
      }
    }
  }

  /** Redis was lost: callers get UNAVAILABLE until it answers again (a probe checks it). */
  private lost(error: unknown, what: string): void {
    if (this.closed) return;
    this.lastCause = causeOf(error);
    if (this.available) this.events.onError(error, `Redis ${what}`);
    this.setAvailable(false);
  }

  private failure(error: unknown, what: string): unknown {
    if (error instanceof StoreError) return error;
    const message = error instanceof Error ? error.message : "";
    // A command in flight when the socket drops fails with Node's own error (ECONNRESET, EPIPE...).
    const system = error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === "string";
    if (system || UNREACHABLE.has(errorName(error)) || TRANSIENT.test(message) || /^(NOAUTH|WRONGPASS|NOPERM)\b/.test(message)) {
      this.lost(error, what);
      const auth = /^(NOAUTH|WRONGPASS|NOPERM)\b/.exec(message);
      return backendUnavailable(auth !== null ? `${auth[1] ?? "auth"} (check the Redis user, password and ACL)` : TRANSIENT.test(message) ? (message.split(" ")[0] ?? "busy") : "it cannot be reached or did not answer in time");
    }
    return error;
  }

  private setAvailable(available: boolean): void {
    if (this.available === available || this.closed) return;
    this.available = available;
    if (available) {
      if (this.probe !== undefined) clearInterval(this.probe);
      this.probe = undefined;
    } else {
      // A cluster client reports no "ready" per node: ask Redis until it answers.
      this.probe = setInterval(() => void this.ping(), 250);
      this.probe.unref();
    }
    this.events.onAvailability(available);
  }

  private async ping(): Promise<void> {
    try {
      await this.send<unknown>("ping", ["PING"], this.options.commandTimeoutMs, false);
      this.setAvailable(true);
    } catch {
      // Still away; the next probe asks again.
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A failure's code for a message: `WRONGPASS`, `ECONNREFUSED`... (Redis's messages never carry the password). */
function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return "";
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === "string") return code;
  const word = /^[A-Z][A-Z_]+\b/.exec(error.message);
  if (word === null) return errorName(error);
  return word[0] === "WRONGPASS" || word[0] === "NOAUTH" ? `${word[0]}: Redis refused the user or password` : word[0];
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string, cause: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          const last = cause();
          reject(backendUnavailable(`${what} took longer than ${ms} ms${last === "" ? "" : ` (last error: ${last})`}`));
        }, ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
