/**
 * Measures what resident sessions cost: fills the memory backend with N sessions of S bytes (24-character ids,
 * like ASP.NET's), then reports RSS and heap per session beyond the payload, GC pauses (forced full
 * GCs and any seen while filling), and the longest active-expiry slice while all of them expire.
 *
 *   node --expose-gc -r tsx/cjs server/tools/measure-resident.ts [sessions=1000000] [bytes=1024]
 */
import { PerformanceObserver, constants } from "node:perf_hooks";
import { systemClock } from "../src/store/clock";
import { FakeClock } from "../src/store/fake-clock";
import { MemoryBackend } from "../src/store/memory/memory-backend";

const sessions = Number(process.argv[2] ?? 1_000_000);
const payloadBytes = Number(process.argv[3] ?? 1024);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

const pauses: { kind: string; ms: number }[] = [];
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    pauses.push({ kind: kind === constants.NODE_PERFORMANCE_GC_MAJOR ? "major" : kind === constants.NODE_PERFORMANCE_GC_MINOR ? "minor" : "other", ms: entry.duration });
  }
});
observer.observe({ entryTypes: ["gc"] });

function memory(): { rss: number; heapUsed: number; external: number; arrayBuffers: number } {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers };
}

function sessionId(i: number): string {
  // 24 characters, like an ASP.NET session id.
  return i.toString(36).padStart(24, "-");
}

const clock = new FakeClock(Date.now());
const backend = new MemoryBackend({ maxMemoryBytes: 64 * 1024 ** 3 }, {}, clock);
const fail = (error: unknown): never => {
  throw error;
};
const written = { resolve: () => undefined, reject: fail };
const payload = Buffer.alloc(payloadBytes, 7);
const before = memory();
const fillStart = systemClock.now();
for (let i = 0; i < sessions; i++) {
  const input = { app: "app", sessionId: sessionId(i), data: payload, ttlSeconds: 0, createTtlSeconds: 1200, lockId: 0, keepLock: false, expectedVersion: 0, onlyIfAbsent: false };
  backend.set(input, written);
}
const fillMs = systemClock.now() - fillStart;
pauses.length = 0;
const after = memory();
const forced: number[] = [];
for (let i = 0; i < 3; i++) {
  const start = performance.now();
  gc();
  forced.push(performance.now() - start);
}
const stats = backend.stats();
const perSession = (bytes: number): string => (bytes / sessions).toFixed(0);
const rssBeyondPayload = after.rss - before.rss - stats.slabBytes;

// Touch reads through the backend while resident, to see the GC pauses of ordinary work.
pauses.length = 0;
let found = 0;
const readStart = systemClock.now();
for (let i = 0; i < 200_000; i++) {
  backend.get({ app: "app", sessionId: sessionId((i * 7919) % sessions), waitMs: 0 }, { resolve: (r) => { if (r.outcome === "ok") found++; }, reject: fail });
}
const readMs = systemClock.now() - readStart;
const readPauses = pauses.slice();

// Let everything expire: time moves past the deadline, the backend sweeps in slices.
const expireStart = systemClock.now();
clock.advance(1200 * 1000 + 1000);
let guard = 0;
while (backend.stats().sessions > 0 && guard++ < 100_000) clock.advance(100);
const expireMs = systemClock.now() - expireStart;
const end = backend.stats();

console.log(JSON.stringify({
  node: process.version,
  sessions,
  payloadBytes,
  fillSeconds: +(fillMs / 1000).toFixed(2),
  rssMiB: +((after.rss - before.rss) / 1024 ** 2).toFixed(1),
  heapUsedMiB: +((after.heapUsed - before.heapUsed) / 1024 ** 2).toFixed(1),
  arrayBuffersMiB: +((after.arrayBuffers - before.arrayBuffers) / 1024 ** 2).toFixed(1),
  slabMiB: +(stats.slabBytes / 1024 ** 2).toFixed(1),
  rssPerSessionBytes: +perSession(after.rss - before.rss),
  rssBeyondPayloadPerSessionBytes: +perSession(rssBeyondPayload),
  heapPerSessionBytes: +perSession(after.heapUsed - before.heapUsed),
  budgetChargedPerSessionBytes: +perSession(stats.bytesUsed),
  forcedFullGcMs: forced.map((ms) => +ms.toFixed(1)),
  reads: { count: 200_000, found, ms: +readMs.toFixed(0), gcPauses: readPauses.length, longestGcPauseMs: +Math.max(0, ...readPauses.map((p) => p.ms)).toFixed(1) },
  expiry: { wallMs: +expireMs.toFixed(0), slices: end.expirySlices, longestSliceMs: +end.longestExpirySliceMs.toFixed(2), expired: end.expired, left: end.sessions },
}, null, 2));
observer.disconnect();
void backend.close();
