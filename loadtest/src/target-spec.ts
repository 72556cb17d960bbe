/** What the load is sent to: serializable, so that worker threads can open their own channels. */

/** Transports of the Node generator to Stateward: unary calls, or operations batched over Pipeline streams. */
export const TRANSPORTS = ["unary", "pipeline"] as const;

/** One of {@link TRANSPORTS}. */
export type TransportName = (typeof TRANSPORTS)[number];

/** A Stateward server (or several: channels are spread over the addresses). */
export interface StatewardTarget {
  readonly kind: "stateward";
  readonly addresses: readonly string[];
  readonly transport: TransportName;
  /** The `app` of every key the tool writes. */
  readonly app: string;
}

/** A Redis server, driven with the ASP.NET provider's Lua lock protocol. */
export interface RedisTarget {
  readonly kind: "redis";
  readonly addresses: readonly string[];
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
