/**
 * How V8 schedules full collections for a process whose memory is mostly outside its heap.
 *
 * Why: by default V8 starts a full (mark-compact) collection whenever memory held by ArrayBuffers
 * has grown by 64 MB since the last one, whatever is live. A Stateward server's payloads live in
 * slab buffers, and every request and response passes through transient buffers (HTTP/2 chunks,
 * grpc-js's message frames) that die young and are freed by the next scavenge anyway. Holding a GiB
 * of sessions of 1-16 KiB at 10 k requests/s, that rule alone forced a full collection every ~90 ms,
 * each a walk of the whole heap: a third of the server's CPU and most of its p99 (measured with
 * `stateward-loadtest mixed --transport pipeline`: 29-41 mark-compacts in 5 s, 69-98 µs of server CPU
 * per request; with `--external-memory-accounted-in-global-limit` 5-7 and 39-49 µs). That flag
 * counts buffer memory in V8's global limit instead, which grows with what is live, as the limit of
 * the JavaScript heap does, so it also lets more garbage wait for its collection: on a small store
 * the fixed 64 MB step bounds that garbage better (a stopped Watch consumer's test saw 97 MiB of RSS
 * with the flag, under 64 without), and the collections it forces cost less where less traffic
 * passes. Measured against the budget: at 256 MiB the flag added 40-60 MiB to the peak (the
 * memory-bound fault test: 434-460 MiB beyond the empty process with it, 391-423 without, against
 * its bound of 1.75 x the budget); with 1 M sessions of 1 KiB (the load tester's resident group,
 * about 1 GiB of slabs) RSS beyond the payloads stayed within 256 B per session with it (-80 and
 * -24 B in two runs, 305 B in one without). Hence
 * {@link ExternalMemoryRule}: the flag on while the slabs hold {@link EXTERNAL_MEMORY_RULE_ON_BYTES}
 * or more, off again below {@link EXTERNAL_MEMORY_RULE_OFF_BYTES}.
 */
import { setFlagsFromString } from "node:v8";

/** The V8 flag {@link ExternalMemoryRule} sets (and clears with its `--no-` form). */
export const EXTERNAL_MEMORY_FLAG = "--external-memory-accounted-in-global-limit";

/** Slab bytes from which buffer memory is weighed against V8's global limit: 512 MiB. */
export const EXTERNAL_MEMORY_RULE_ON_BYTES = 512 * 1024 * 1024;

/** Slab bytes below which V8's fixed 64 MB step applies again: 256 MiB (apart from the above, so that it does not flap). */
export const EXTERNAL_MEMORY_RULE_OFF_BYTES = 256 * 1024 * 1024;

/** What the server's memory loop tells a rule (see {@link ExternalMemoryRule}). */
export interface BufferMemoryRule {
  /** The slab bytes the store holds now. */
  update(slabBytes: number): void;
}

/**
 * Chooses V8's rule for buffer memory from what the store holds (see the module comment).
 * Process-wide: the CLI gives one to its server (startServer's `externalMemoryRule`), whose
 * once-a-second memory loop calls {@link update}. V8 reads the flag when it next computes its
 * limits, so switching it at run time takes effect (a test checks it in a child process).
 */
export class ExternalMemoryRule implements BufferMemoryRule {
  private weighed = false;

  /**
   * @param setFlags - sets a V8 flag (tests pass a recorder).
   * @param onChange - told each switch (the CLI logs it at debug level).
   */
  constructor(
    private readonly setFlags: (flag: string) => void = setFlagsFromString,
    private readonly onChange: (weighed: boolean, slabBytes: number) => void = () => undefined,
  ) {}

  /** True while buffer memory is weighed against the global limit. */
  get active(): boolean {
    return this.weighed;
  }

  /** Looks at the slab bytes held now and switches the flag when they crossed a threshold. */
  update(slabBytes: number): void {
    if (!this.weighed && slabBytes >= EXTERNAL_MEMORY_RULE_ON_BYTES) this.switchTo(true, slabBytes);
    else if (this.weighed && slabBytes < EXTERNAL_MEMORY_RULE_OFF_BYTES) this.switchTo(false, slabBytes);
  }

  private switchTo(weighed: boolean, slabBytes: number): void {
    this.setFlags(weighed ? EXTERNAL_MEMORY_FLAG : EXTERNAL_MEMORY_FLAG.replace(/^--/, "--no-"));
    this.weighed = weighed;
    this.onChange(weighed, slabBytes);
  }
}
