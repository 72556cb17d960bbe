/**
 * {@link SessionOps} over Redis through node-redis (the `redis` package), the client a new Node
 * project picks: commands issued in the same tick share one write (node-redis's automatic
 * pipelining, on by default), replies' byte strings as Buffers. Two peers:
 * - {@link NodeRedisLuaSessionOps}: the same ASP.NET-provider Lua protocol as the ioredis baseline
 *   (EVALSHA of the same scripts, loaded once per connection, EVAL when Redis answers NOSCRIPT);
 * - {@link NodeRedisPlainSessionOps}: plain GET/SET with no atomic lock check, the floor of what
 *   Redis can do for these operations (see its comment for what it gives up).
 */
import { createHash } from "node:crypto";
import { createClient, RESP_TYPES } from "redis";
import { REDIS_GET_SCRIPT, REDIS_LOCK_SCRIPT, REDIS_SET_SCRIPT } from "./redis-lua-scripts";
import { LockIds, outcomeOf, REDIS_DEFAULT_TTL_SECONDS, redisSessionKeys, RedisWriteRefused } from "./redis-session-ops";
import type { LockOptions, LockResult, LockToken, SessionOps, SessionOutcome } from "./session-ops";

/** Byte strings as Buffers: session data is bytes, never decoded as UTF-8. */
const AS_BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

/** The ASP.NET provider's default lock lease: 110 s (its ttl default is REDIS_DEFAULT_TTL_SECONDS). */
const DEFAULT_LEASE_MS = 110_000;

function newClient(host: string, port: number) {
  // No reconnection: a lost connection must show as errors of the run, not as a pause.
  return createClient({ socket: { host, port, reconnectStrategy: false } });
}

type BaseClient = ReturnType<typeof newClient>;

function withBuffers(base: BaseClient) {
  return base.withTypeMapping(AS_BUFFERS);
}

type BufferClient = ReturnType<typeof withBuffers>;

/**
 * A node-redis connection as the peers use it: `client` answers byte strings as Buffers; `base`
 * is the connection to close. Exported for the tests.
 */
export function connectClient(host: string, port: number): { base: BaseClient; client: BufferClient } {
  const base = newClient(host, port);
  // Without a listener an 'error' event would end the process; the commands reject themselves.
  base.on("error", () => undefined);
  // Commands issued before the connection is up wait in node-redis's offline queue, in order.
  base.connect().catch(() => undefined);
  return { base, client: withBuffers(base) };
}

/** Closes a connection of {@link connectClient} at once (commands in flight are rejected). */
export function closeClient(base: BaseClient): void {
  try {
    base.destroy();
  } catch {
    // Never connected or already closed.
  }
}

/** A script with its SHA-1, as EVALSHA names it. */
interface Script {
  readonly source: string;
  readonly sha1: string;
}

function script(source: string): Script {
  return { source, sha1: createHash("sha1").update(source).digest("hex") };
}

const GET = script(REDIS_GET_SCRIPT);
const LOCK = script(REDIS_LOCK_SCRIPT);
const SET = script(REDIS_SET_SCRIPT);

/** What both node-redis peers hold: one connection, the key prefix, the session ttl and lock ids. */
abstract class NodeRedisPeer {
  protected readonly base: BaseClient;
  protected readonly client: BufferClient;
  /** Session ttl in seconds. */
  protected readonly ttlSeconds: number;
  protected readonly lockIds = new LockIds();

  /**
   * @param host - Redis host (loopback).
   * @param port - Redis port.
   * @param app - key prefix, as the provider's application name.
   * @param ttlSeconds - session ttl (ASP.NET's default 20 minutes when 0).
   */
  constructor(
    host: string,
    port: number,
    protected readonly app: string,
    ttlSeconds = 0,
  ) {
    this.ttlSeconds = ttlSeconds === 0 ? REDIS_DEFAULT_TTL_SECONDS : ttlSeconds;
    ({ base: this.base, client: this.client } = connectClient(host, port));
  }

  close(): void {
    closeClient(this.base);
  }
}

/** One node-redis connection running the provider's Lua scripts. */
export class NodeRedisLuaSessionOps extends NodeRedisPeer implements SessionOps {
  private readonly ttl: string;

  /** See {@link NodeRedisPeer}'s constructor. */
  constructor(host: string, port: number, app: string, ttlSeconds = 0) {
    super(host, port, app, ttlSeconds);
    this.ttl = String(this.ttlSeconds);
    // Loaded once, ahead of the first EVALSHA on this connection (the offline queue keeps the order);
    // a failure here shows as NOSCRIPT later, which EVAL answers.
    for (const { source } of [GET, LOCK, SET]) this.client.scriptLoad(source).catch(() => undefined);
  }

  private async run(which: Script, sessionId: string, args: (string | Buffer)[]): Promise<unknown> {
    const keys = redisSessionKeys(this.app, sessionId);
    try {
      return await this.client.evalSha(which.sha1, { keys, arguments: args });
    } catch (error) {
      // After a SCRIPT FLUSH or a restart: EVAL sends the source (and Redis caches it again).
      if (error instanceof Error && error.message.startsWith("NOSCRIPT")) return this.client.eval(which.source, { keys, arguments: args });
      throw error;
    }
  }

  async get(sessionId: string): Promise<SessionOutcome> {
    return outcomeOf(await this.run(GET, sessionId, [this.ttl]));
  }

  async lock(sessionId: string, options: LockOptions): Promise<LockResult> {
    if (options.waitMs > 0) throw new Error("the Redis baseline has no waiting lock (poll instead)");
    const token = this.lockIds.next();
    const lease = String(options.leaseMs === 0 ? DEFAULT_LEASE_MS : options.leaseMs);
    const reply = await this.run(LOCK, sessionId, [token, lease, this.ttl, options.create ? "1" : "0"]);
    return { outcome: outcomeOf(reply), token };
  }

  async set(sessionId: string, data: Buffer, token?: LockToken): Promise<void> {
    const written = await this.run(SET, sessionId, [token === undefined ? "" : String(token), data, this.ttl]);
    if (Number(written) !== 1) throw new RedisWriteRefused("write refused: the lock is held by another id");
  }
}

/**
 * One node-redis connection with plain commands: the floor of what Redis can do, not a correct
 * session store. Get is one GET of the data key (no sliding expiry: the Lua Get also refreshes
 * it). Lock is `SET lock id NX PX lease` and `GET data` sent in the same tick (one write, two
 * replies): LOCKED when the SET finds the lock taken, and a lock taken on a missing session is
 * dropped again (or the session created, with `create`). Set is `SET data EX ttl` and, with a
 * token, `DEL lock` in the same tick, without checking that the lock is still this token's: that
 * check is what needs the Lua script (or WATCH/MULTI) and what this floor leaves out.
 */
export class NodeRedisPlainSessionOps extends NodeRedisPeer implements SessionOps {
  async get(sessionId: string): Promise<SessionOutcome> {
    const [, dataKey] = redisSessionKeys(this.app, sessionId);
    return (await this.client.get(dataKey)) === null ? "NOT_FOUND" : "OK";
  }

  async lock(sessionId: string, options: LockOptions): Promise<LockResult> {
    if (options.waitMs > 0) throw new Error("the Redis baseline has no waiting lock (poll instead)");
    const [lockKey, dataKey] = redisSessionKeys(this.app, sessionId);
    const token = this.lockIds.next();
    const lease = options.leaseMs === 0 ? DEFAULT_LEASE_MS : options.leaseMs;
    const [taken, data] = await Promise.all([
      this.client.set(lockKey, token, { condition: "NX", expiration: { type: "PX", value: lease } }),
      this.client.get(dataKey),
    ]);
    if (taken === null) return { outcome: "LOCKED", token };
    if (data !== null) return { outcome: "OK", token };
    if (options.create) {
      await this.client.set(dataKey, "", { expiration: { type: "EX", value: this.ttlSeconds } });
      return { outcome: "OK", token };
    }
    await this.client.del(lockKey);
    return { outcome: "NOT_FOUND", token };
  }

  async set(sessionId: string, data: Buffer, token?: LockToken): Promise<void> {
    const [lockKey, dataKey] = redisSessionKeys(this.app, sessionId);
    const written = this.client.set(dataKey, data, { expiration: { type: "EX", value: this.ttlSeconds } });
    if (token === undefined) {
      await written;
      return;
    }
    await Promise.all([written, this.client.del(lockKey)]);
  }
}
