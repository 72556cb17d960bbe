/** {@link SessionOps} over Redis with the ASP.NET provider's Lua lock protocol, through ioredis. */
import { randomBytes } from "node:crypto";
import Redis from "ioredis";
import { REDIS_GET_SCRIPT, REDIS_LOCK_SCRIPT, REDIS_SET_SCRIPT } from "./redis-lua-scripts";
import type { LockOptions, LockResult, LockToken, SessionOps, SessionOutcome } from "./session-ops";

type ScriptCall = (...args: (string | Buffer | number)[]) => Promise<unknown>;

const OUTCOMES: Readonly<Record<number, SessionOutcome>> = { 1: "OK", 2: "NOT_FOUND", 3: "LOCKED" };

/** The session TTL of the Redis baseline when none is given, s: ASP.NET's default 20 minutes. */
export const REDIS_DEFAULT_TTL_SECONDS = 1200;

/**
 * The lock and data keys of a session, shared by every Redis peer (so they share one preloaded
 * pool): the hash tag keeps both in one slot, as a cluster-safe provider must. The Go caller gets
 * them as templates (loadtest/go -redis-keys).
 */
export function redisSessionKeys(app: string, sessionId: string): [string, string] {
  return [`${app}:{${sessionId}}:lock`, `${app}:{${sessionId}}:data`];
}

/** A Redis refusal of a write, shaped like the gRPC ABORTED the same write gets from Stateward. */
export class RedisWriteRefused extends Error {
  override readonly name = "ReplyError";
}

/** The outcome of a Get or Lock script's reply (`{code, …}`); throws on anything else. */
export function outcomeOf(reply: unknown): SessionOutcome {
  const code = Array.isArray(reply) ? Number(reply[0]) : Number.NaN;
  const outcome = OUTCOMES[code];
  if (outcome === undefined) throw new Error("unexpected reply from the Redis script");
  return outcome;
}

/** Lock ids unique across connections and processes: a random prefix and a counter. */
export class LockIds {
  private readonly prefix = randomBytes(6).toString("hex");
  private counter = 0;

  /** The next lock id. */
  next(): string {
    return `${this.prefix}-${++this.counter}`;
  }
}

/** One ioredis connection to a Redis server. */
export class RedisSessionOps implements SessionOps {
  private readonly redis: Redis;
  private readonly getScript: ScriptCall;
  private readonly lockScript: ScriptCall;
  private readonly setScript: ScriptCall;
  /** Session ttl in seconds, as the provider's sessionState timeout. */
  private readonly ttl: number;
  private readonly lockIds = new LockIds();

  /**
   * @param host - Redis host (loopback).
   * @param port - Redis port.
   * @param app - key prefix, as the provider's application name.
   * @param ttlSeconds - session ttl (ASP.NET's default 20 minutes when 0).
   */
  constructor(
    host: string,
    port: number,
    private readonly app: string,
    ttlSeconds = 0,
  ) {
    this.ttl = ttlSeconds === 0 ? REDIS_DEFAULT_TTL_SECONDS : ttlSeconds;
    // No auto-pipelining: ioredis still writes concurrent commands back to back on the connection,
    // which is how a Node consumer uses it by default.
    this.redis = new Redis({ host, port, lazyConnect: false, maxRetriesPerRequest: 1, enableAutoPipelining: false });
    this.redis.defineCommand("swGet", { numberOfKeys: 2, lua: REDIS_GET_SCRIPT });
    this.redis.defineCommand("swLock", { numberOfKeys: 2, lua: REDIS_LOCK_SCRIPT });
    this.redis.defineCommand("swSet", { numberOfKeys: 2, lua: REDIS_SET_SCRIPT });
    const commands = this.redis as unknown as Record<string, ScriptCall>;
    // The Buffer variants: session data is bytes, never decoded as UTF-8.
    this.getScript = (commands["swGetBuffer"] as ScriptCall).bind(this.redis);
    this.lockScript = (commands["swLockBuffer"] as ScriptCall).bind(this.redis);
    this.setScript = (commands["swSet"] as ScriptCall).bind(this.redis);
  }

  private keys(sessionId: string): [string, string] {
    return redisSessionKeys(this.app, sessionId);
  }

  async get(sessionId: string): Promise<SessionOutcome> {
    const [lockKey, dataKey] = this.keys(sessionId);
    return outcomeOf(await this.getScript(lockKey, dataKey, this.ttl));
  }

  async lock(sessionId: string, options: LockOptions): Promise<LockResult> {
    if (options.waitMs > 0) throw new Error("the Redis baseline has no waiting lock (poll instead)");
    const [lockKey, dataKey] = this.keys(sessionId);
    const token = this.lockIds.next();
    const lease = options.leaseMs === 0 ? 110_000 : options.leaseMs;
    const reply = await this.lockScript(lockKey, dataKey, token, lease, this.ttl, options.create ? "1" : "0");
    return { outcome: outcomeOf(reply), token };
  }

  async set(sessionId: string, data: Buffer, token?: LockToken): Promise<void> {
    const [lockKey, dataKey] = this.keys(sessionId);
    const written = await this.setScript(lockKey, dataKey, token === undefined ? "" : String(token), data, this.ttl);
    if (Number(written) !== 1) throw new RedisWriteRefused("write refused: the lock is held by another id");
  }

  close(): void {
    this.redis.disconnect();
  }
}
