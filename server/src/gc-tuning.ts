/**
 * How V8 schedules full collections for a process whose memory is mostly outside its heap.
 *
 * Why: by default V8 starts a full (mark-compact) collection whenever memory held by ArrayBuffers
 * has grown by 64 MB since the last one, whatever the heap's size. A Stateward server's payloads
 * live in slab buffers (a GiB of them is normal), and every request and response passes through
 * transient buffers (HTTP/2 chunks, grpc-js's message frames) that die young and are freed by the
 * next scavenge anyway. With 1-16 KiB payloads at 10 k requests/s that rule alone forced a full
 * collection every ~90 ms: a third of the server's CPU and most of its p99 (measured with
 * `stateward-loadtest mixed --transport pipeline`: 29-41 mark-compacts in 5 s, 69-98 µs of server
 * CPU per request; with the setting below 5-7 and 39-49 µs). `--external-memory-accounted-in-global-limit`
 * counts that memory in V8's global heap limit instead, which grows with what is live, as the
 * limit of the JavaScript heap does. Memory freed by removals still goes back at idle moments
 * (memory-return.ts), and the store's memory budget bounds the slabs.
 */
import { setFlagsFromString } from "node:v8";

/** The V8 flag set by {@link countExternalMemoryInHeapLimit}. */
export const EXTERNAL_MEMORY_FLAG = "--external-memory-accounted-in-global-limit";

/**
 * Has V8 weigh ArrayBuffer memory against its global heap limit instead of a fixed 64 MB step (see
 * the module comment). Process-wide: the CLI calls it once before the server starts. V8 reads the
 * flag when it next computes its limits, so setting it at run time takes effect (a test checks it
 * in a child process).
 * @returns the flag set (the CLI logs it at debug level).
 */
export function countExternalMemoryInHeapLimit(): string {
  setFlagsFromString(EXTERNAL_MEMORY_FLAG);
  return EXTERNAL_MEMORY_FLAG;
}
