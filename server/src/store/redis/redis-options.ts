/**
 * Options of the Redis backend (`--backend redis`): where Redis is and how Stateward uses it,
 * beside the contract's limits (session-limits.ts), which are the same for every backend.
 */
export interface RedisOptions {
  /**
   * The Redis (or Valkey) server: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
   * A Redis 6 ACL user works; db 0 to 15. When {@link cluster} is given, only the URL's scheme, user
   * and password count (every node takes them); its host, port and db do not. Default
   * `redis://127.0.0.1:6379`.
   */
  readonly url: string;
  /**
   * Seed nodes of a Redis Cluster, `host:port` each (any reachable subset of the masters); empty
   * for a single Redis (with or without replicas). Default empty.
   */
  readonly cluster: readonly string[];
  /**
   * Prefix of every key and channel Stateward writes, so that several deployments (or other data)
   * can share one Redis: 1 to 64 visible ASCII characters, no spaces, `{` or `}` (braces would change
   * the keys' hash tags). Default `stateward:`.
   */
  readonly prefix: string;
  /**
   * Password for Redis AUTH when the URL has none, with the URL's user if it names one, else the
   * default user (from `STATEWARD_REDIS_PASSWORD` only, never a flag or the configuration file: a
   * flag would show in the process list). Empty: none. Default empty.
   */
  readonly password: string;
  /**
   * After each write, wait until this many replicas have acknowledged it (Redis WAIT), so that a
   * failover loses no acknowledged write or lock; a write they do not confirm in time fails with
   * UNAVAILABLE. 0 to 16; 0: do not wait (Redis's asynchronous replication). Default 0.
   */
  readonly waitReplicas: number;
  /** How long WAIT may take, in ms (1 to 60000), when {@link waitReplicas} > 0. Default 1000. */
  readonly waitTimeoutMs: number;
  /**
   * How often a node re-checks its waiting calls against Redis, in ms (10 to 60000): the bound on
   * the delay a lost wake-up message (Redis pub/sub is at-most-once) can cost. Default 1000.
   */
  readonly recheckMs: number;
  /**
   * How long a call may wait for Redis before it fails with UNAVAILABLE (BACKEND_UNAVAILABLE) when
   * Redis does not answer, in ms (50 to 60000); calls also fail within their own deadline.
   * Default 2000.
   */
  readonly commandTimeoutMs: number;
}

/** The defaults listed on {@link RedisOptions}. */
export const DEFAULT_REDIS_OPTIONS: RedisOptions = Object.freeze({
  url: "redis://127.0.0.1:6379",
  cluster: Object.freeze([]) as readonly string[],
  prefix: "stateward:",
  password: "",
  waitReplicas: 0,
  waitTimeoutMs: 1000,
  recheckMs: 1000,
  commandTimeoutMs: 2000,
});
