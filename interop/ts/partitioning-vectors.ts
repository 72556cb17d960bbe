/**
 * Checks that proto/PARTITIONING.md is implementable in JavaScript with plain 32-bit arithmetic
 * (Math.imul, >>> 0; no BigInt): a reference implementation of the routing, run against every case
 * of proto/partitioning-vectors.json. The TypeScript SDK (client/ts) should pass the same vectors.
 * Run: npx tsx interop/ts/partitioning-vectors.ts
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** MurmurHash3_x86_32 of `data` with `seed`, as an unsigned 32-bit number. */
export function murmur3(data: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let h = seed >>> 0;
  const n = data.length;
  const end = n - (n % 4);
  for (let i = 0; i < end; i += 4) {
    let k = view.getUint32(i, true); // little-endian block
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = n - end;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= view.getUint8(end + 2) << 16;
    if (rest >= 2) k ^= view.getUint8(end + 1) << 8;
    k ^= view.getUint8(end);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const utf8 = new TextEncoder();

/** UTF-8 app, one zero byte, UTF-8 session id. */
export function routingKey(app: string, sessionId: string): Uint8Array {
  const a = utf8.encode(app);
  const s = utf8.encode(sessionId);
  const key = new Uint8Array(a.length + 1 + s.length);
  key.set(a, 0);
  key.set(s, a.length + 1);
  return key;
}

interface VectorEndpoint {
  address: string;
  node_id: string | null;
}

const identity = (e: VectorEndpoint): string => (e.node_id ? e.node_id : e.address);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** Index of the owner of (app, sessionId) among `endpoints`, with each endpoint's score. */
export function route(endpoints: readonly VectorEndpoint[], app: string, sessionId: string): { index: number; scores: number[] } {
  const key = routingKey(app, sessionId);
  const ids = endpoints.map((e) => utf8.encode(identity(e)));
  const scores = ids.map((id) => murmur3(key, murmur3(id, 0)));
  let best = -1;
  let bestScore = -1;
  let bestId = new Uint8Array(0);
  ids.forEach((id, i) => {
    const score = murmur3(key, murmur3(id, 0));
    if (score > bestScore || (score === bestScore && compareBytes(id, bestId) < 0)) {
      best = i;
      bestScore = score;
      bestId = id;
    }
  });
  return { index: best, scores };
}

interface Vectors {
  murmur3_x86_32: { input_hex: string; seed: number; hash: number }[];
  node_seeds: { identity: string; seed: number }[];
  endpoint_sets: Record<string, VectorEndpoint[]>;
  cases: { endpoint_set: string; app: string; session_id: string; scores: number[]; owner_index: number }[];
}

function main(): void {
  const path = join(__dirname, "..", "..", "proto", "partitioning-vectors.json");
  const v = JSON.parse(readFileSync(path, "utf8")) as Vectors;
  let passed = 0;
  const failures: string[] = [];
  const expect = (ok: boolean, what: string): void => {
    if (ok) passed++;
    else failures.push(what);
  };
  for (const c of v.murmur3_x86_32) {
    expect(murmur3(Buffer.from(c.input_hex, "hex"), c.seed) === c.hash, `murmur3 ${c.input_hex}/${c.seed}`);
  }
  for (const c of v.node_seeds) expect(murmur3(utf8.encode(c.identity), 0) === c.seed, `seed of ${c.identity}`);
  for (const [i, c] of v.cases.entries()) {
    const r = route(v.endpoint_sets[c.endpoint_set] ?? [], c.app, c.session_id);
    expect(r.index === c.owner_index && r.scores.every((s, j) => s === c.scores[j]), `case ${i} (${c.endpoint_set})`);
  }
  for (const f of failures.slice(0, 20)) console.error(`FAILED ${f}`);
  console.log(`partitioning vectors (JavaScript reference): ${passed} passed, ${failures.length} failed`);
  if (failures.length > 0) process.exitCode = 1;
}

main();
