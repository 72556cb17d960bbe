/**
 * Partition routing (ASP.NET's IPartitionResolver, done for you): rendezvous (highest-random-
 * weight) hashing of (app, session_id) over a list of Stateward endpoints, exactly as specified in
 * `proto/PARTITIONING.md` and pinned by `proto/partitioning-vectors.json`, which the Python and Go
 * clients share. In short:
 *
 * - an endpoint's identity is its `nodeId` if set and non-empty, else its address as configured;
 * - `seed(endpoint) = murmur3_x86_32(utf8(identity), 0)`;
 * - `key = utf8(app) ++ 0x00 ++ utf8(session_id)`;
 * - `score(endpoint, key) = murmur3_x86_32(key, seed(endpoint))`, an unsigned 32-bit integer;
 * - the endpoint with the highest score owns the session; equal scores go to the endpoint whose
 *   UTF-8 identity is smaller byte-wise.
 *
 * Adding or removing an endpoint therefore moves only the sessions the new endpoint wins or the
 * removed one owned, and the order of the list does not matter.
 */
import { status } from "@grpc/grpc-js";
import { StatewardError, type ClientReason } from "./errors";

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3_x86_32 (Austin Appleby's reference implementation) of `data`.
 *
 * @param data - the bytes to hash.
 * @param seed - an unsigned 32-bit seed.
 * @returns an unsigned 32-bit integer.
 */
export function murmur3x86_32(data: Uint8Array, seed = 0): number {
  let h = seed >>> 0;
  const length = data.length;
  const blocks = length - (length % 4);
  for (let i = 0; i < blocks; i += 4) {
    let k = (data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24);
    k = Math.imul(k, C1);
    k = rotl32(k, 15);
    k = Math.imul(k, C2);
    h ^= k;
    h = rotl32(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = length - blocks;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= (data[blocks + 2] as number) << 16;
    if (rest >= 2) k ^= (data[blocks + 1] as number) << 8;
    k ^= data[blocks] as number;
    k = Math.imul(k, C1);
    k = rotl32(k, 15);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  return fmix32(h);
}

const ZERO = Buffer.alloc(1);

/** The bytes hashed for a session: UTF-8 `app`, one zero byte, UTF-8 `sessionId`. */
export function routingKey(app: string, sessionId: string): Buffer {
  return Buffer.concat([Buffer.from(app, "utf8"), ZERO, Buffer.from(sessionId, "utf8")]);
}

/** The hash seed of an endpoint: MurmurHash3_x86_32 of its UTF-8 identity with seed 0. */
export function nodeSeed(identity: string): number {
  return murmur3x86_32(Buffer.from(identity, "utf8"), 0);
}

/**
 * A Stateward node: a gRPC target address and an optional stable node id. A plain string is an
 * address without a node id.
 */
export interface EndpointConfig {
  /** gRPC target, e.g. `10.0.0.1:42424` or `stateward-0.stateward.svc:42424`. */
  readonly address: string;
  /**
   * Stable routing identity. When set (non-empty) it replaces the address in the hash, so a node
   * can move to another address without moving its sessions. Without it, the address string
   * exactly as configured is the identity: configure every client of a farm with the same strings.
   */
  readonly nodeId?: string | null;
}

/** An endpoint given as an address string or an {@link EndpointConfig}. */
export type EndpointLike = string | EndpointConfig;

/** The routing identity of an endpoint: its node id if set and non-empty, else its address. */
export function endpointIdentity(endpoint: EndpointLike): string {
  if (typeof endpoint === "string") return endpoint;
  return endpoint.nodeId !== undefined && endpoint.nodeId !== null && endpoint.nodeId !== "" ? endpoint.nodeId : endpoint.address;
}

function invalid(reason: ClientReason, message: string): StatewardError {
  return new StatewardError(status.INVALID_ARGUMENT, reason, message, "connect");
}

/**
 * Routes (app, session_id) to one of a fixed list of endpoints by rendezvous hashing.
 *
 * @throws {@link StatewardError} INVALID_ARGUMENT with the reason of `proto/PARTITIONING.md`:
 *   `no-endpoints`, `empty-identity`, `duplicate-identity` or `seed-collision`.
 */
export class Partitioner {
  /** The endpoints, in the order given, normalised to {@link EndpointConfig}. */
  readonly endpoints: readonly EndpointConfig[];
  private readonly seeds: readonly number[];
  private readonly identities: readonly Buffer[];

  /** @param endpoints - the nodes; at least one, with distinct identities. */
  constructor(endpoints: readonly EndpointLike[]) {
    if (endpoints.length === 0) throw invalid("no-endpoints", "at least one endpoint is required");
    const normalised: EndpointConfig[] = [];
    const seeds: number[] = [];
    const identities: Buffer[] = [];
    const seen = new Set<string>();
    const bySeed = new Map<number, string>();
    for (const endpoint of endpoints) {
      const config: EndpointConfig = typeof endpoint === "string" ? { address: endpoint } : endpoint;
      const identity = endpointIdentity(config);
      if (identity === "") throw invalid("empty-identity", "an endpoint has neither an address nor a node id");
      if (seen.has(identity)) throw invalid("duplicate-identity", `two endpoints have the identity ${JSON.stringify(identity)}`);
      seen.add(identity);
      const seed = nodeSeed(identity);
      const other = bySeed.get(seed);
      if (other !== undefined) {
        throw invalid("seed-collision", `endpoints ${JSON.stringify(other)} and ${JSON.stringify(identity)} hash to the same seed; give one a nodeId`);
      }
      bySeed.set(seed, identity);
      normalised.push(config);
      seeds.push(seed);
      identities.push(Buffer.from(identity, "utf8"));
    }
    this.endpoints = normalised;
    this.seeds = seeds;
    this.identities = identities;
  }

  /** Each endpoint's score for the session, in endpoint order (diagnostics and tests). */
  scores(app: string, sessionId: string): number[] {
    const key = routingKey(app, sessionId);
    return this.seeds.map((seed) => murmur3x86_32(key, seed));
  }

  /** Index into {@link endpoints} of the endpoint that owns the session. */
  indexFor(app: string, sessionId: string): number {
    if (this.seeds.length === 1) return 0;
    const key = routingKey(app, sessionId);
    let best = 0;
    let bestScore = -1;
    for (let i = 0; i < this.seeds.length; i++) {
      const score = murmur3x86_32(key, this.seeds[i] as number);
      if (score > bestScore || (score === bestScore && Buffer.compare(this.identities[i] as Buffer, this.identities[best] as Buffer) < 0)) {
        best = i;
        bestScore = score;
      }
    }
    return best;
  }

  /** The endpoint that owns the session. */
  endpointFor(app: string, sessionId: string): EndpointConfig {
    return this.endpoints[this.indexFor(app, sessionId)] as EndpointConfig;
  }
}
