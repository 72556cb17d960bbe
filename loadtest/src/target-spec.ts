/** What the load is sent to: serializable, so that worker threads can open their own channels. */

/** Transports of the Node generator to Stateward: unary calls, or operations batched over Pipeline streams. */
export const TRANSPORTS = ["unary", "pipeline"] as const;

/** One of {@link TRANSPORTS}. */
export type TransportName = (typeof TRANSPORTS)[number];

/**
 * How the load reaches Stateward: `plaintext` (the loopback default), or `tls-token` (a server the
 * tool starts with --tls-cert, --tls-key and --auth-file; its clients speak TLS and send a token).
 */
export const SECURITY_MODES = ["plaintext", "tls-token"] as const;

/** One of {@link SECURITY_MODES}. */
export type SecurityMode = (typeof SECURITY_MODES)[number];

/**
 * What a client of a `tls-token` server needs. Throw-away material the tool made for one run; it
 * crosses into the worker threads but never into a report.
 */
export interface StatewardSecurity {
  /** PEM of the CA that signed the server's certificate (for 127.0.0.1). */
  readonly caPem: string;
  /** The bearer token, sent as gRPC call credentials (`authorization: Bearer <token>`). */
  readonly token: string;
}

/** A Stateward server (or several: channels are spread over the addresses). */
export interface StatewardTarget {
  readonly kind: "stateward";
  readonly addresses: readonly string[];
  readonly transport: TransportName;
  /** The `app` of every key the tool writes. */
  readonly app: string;
  /** TLS and token of a `tls-token` server; absent: plaintext. */
  readonly security?: StatewardSecurity;
  /** The pipeline transport's `PipelineClient` `pollMicros`; absent: the SDK's default. */
  readonly sdkPollUs?: number;
}

/**
 * Clients of the Redis peers: the ASP.NET provider's Lua lock protocol through ioredis without
 * auto-pipelining (the original baseline) or node-redis (same-tick auto-pipelining), and plain
 * GET/SET through node-redis (no atomic lock check: the floor of what Redis can do).
 */
export const REDIS_CLIENTS = ["ioredis-lua", "node-redis-lua", "node-redis-plain"] as const;

/** One of {@link REDIS_CLIENTS}. */
export type RedisClientName = (typeof REDIS_CLIENTS)[number];

/** Titles of the Redis peers. */
export const REDIS_CLIENT_TITLES: Readonly<Record<RedisClientName, string>> = {
  "ioredis-lua": "Redis + Lua (ioredis)",
  "node-redis-lua": "Redis + Lua (node-redis)",
  "node-redis-plain": "Redis plain GET/SET (node-redis)",
};

/** A Redis server, driven by one of the {@link REDIS_CLIENTS}. */
export interface RedisTarget {
  readonly kind: "redis";
  readonly addresses: readonly string[];
  /** The client and protocol; absent: `ioredis-lua`. */
  readonly client?: RedisClientName;
  /** Key prefix, as the provider's application name. */
  readonly app: string;
}

/** The echo baseline server. */
export interface EchoTarget {
  readonly kind: "echo";
  readonly addresses: readonly string[];
}

/** Any target. */
export type TargetSpec = StatewardTarget | RedisTarget | EchoTarget;

/** Splits `host:port` (IPv6 in brackets) into its parts. */
export function splitHostPort(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:([0-9]+)$/.exec(address.trim());
  if (match === null) throw new Error(`address "${address}": expected host:port`);
  return { host: match[1] ?? "", port: Number(match[2]) };
}
