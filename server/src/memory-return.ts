/**
 * Keeps the process's memory close to what the store holds. Two kinds of garbage hold memory that
 * V8 frees only at its next collection, which can be far away (an idle process may not run one for
 * hours, and a busy one lets buffers outside its heap grow by 64 MB before it collects):
 * - slab pages the store dropped (after removals, expiry or compaction);
 * - transient buffers of requests and responses (decoded payloads, message frames).
 * Once a second, when the event loop was mostly idle, this looks at both, and when either grew by
 * {@link MEMORY_RETURN_THRESHOLD_BYTES} asks V8 for a full collection (concurrent where V8 supports it; one costs a few ms even at a
 * million sessions, whose columns are typed arrays). Freed pages are then unmapped (with the
 * `stateward` command's allocator settings) or at least reused by malloc.
 */
import { performance } from "node:perf_hooks";
import type { BufferMemoryRule } from "./gc-tuning";
import type { Logger } from "./logger";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Released slab bytes, or buffer bytes beyond the slabs, that make a collection worthwhile. */
export const MEMORY_RETURN_THRESHOLD_BYTES = 16 * 1024 * 1024;

/** Event-loop utilization (0-1) over the last interval above which no collection is asked for. */
export const MEMORY_RETURN_MAX_UTILIZATION = 0.5;

/** How often the released bytes are looked at, in ms. */
export const MEMORY_RETURN_INTERVAL_MS = 1000;

type Collect = (options?: { type: "major"; execution: "async" | "sync" }) => void;

let collect: Collect | undefined;

/** V8's `gc`, without starting node with --expose-gc (the flag only adds `gc` to new contexts). */
function collector(): Collect {
  if (collect === undefined) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as Collect;
  }
  return collect;
}

/** A running memory-return loop. */
export interface MemoryReturn {
  /** Stops the loop. */
  stop(): void;
}

/** What the loop reads from the store. */
export interface SlabMemory {
  /** Bytes of slab pages released so far (monotonic). */
  readonly released: () => number;
  /** Bytes of slab pages held now. */
  readonly held: () => number;
}

/**
 * Starts looking every {@link MEMORY_RETURN_INTERVAL_MS} at the store's slab memory and the
 * process's buffers, and runs a full collection when the store released
 * {@link MEMORY_RETURN_THRESHOLD_BYTES} since the last one, or when buffers outside the slabs
 * (request and response garbage, mostly) grew by that much over their lowest level since then.
 * @param rule - told the slab bytes held at each look (V8's rule for buffer memory, gc-tuning.ts).
 * @param logger - where a failing rule is reported.
 */
export function startMemoryReturn(slabs: SlabMemory, rule?: BufferMemoryRule, logger?: Logger): MemoryReturn {
  let seen = slabs.released();
  // The lowest buffer bytes beyond the slabs seen since the last collection: what the process
  // holds for good (the store's typed-array columns, index and heaps, Node's own). Growth above it
  // is garbage, which a collection frees.
  let floor = Infinity;
  let busy = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const released = slabs.released();
    const held = slabs.held();
    if (rule !== undefined) updateQuietly(rule, held, logger);
    const beyondSlabs = process.memoryUsage().arrayBuffers - held;
    floor = Math.min(floor, beyondSlabs);
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, busy).utilization;
    busy = now;
    // A busy process allocates, so V8 collects by itself; a forced full collection every second
    // would only cost it throughput (measured: about 10 % of pipelined Gets). Quiet ones are helped.
    if (utilization > MEMORY_RETURN_MAX_UTILIZATION) return;
    if (released - seen < MEMORY_RETURN_THRESHOLD_BYTES && beyondSlabs - floor < MEMORY_RETURN_THRESHOLD_BYTES) return;
    seen = released;
    floor = Infinity;
    collector()({ type: "major", execution: "async" });
  }, MEMORY_RETURN_INTERVAL_MS);
  // Never keeps the process alive.
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * Tells `rule` the slab bytes; a rule that throws (a V8 that refuses the flag) is logged, never
 * thrown out of a timer, where it would end the process.
 */
export function updateQuietly(rule: BufferMemoryRule, slabBytes: number, logger: Logger | undefined): void {
  try {
    rule.update(slabBytes);
  } catch (error) {
    logger?.warn({ err: error }, "could not set V8's rule for buffer memory; the default stays");
  }
}
