/** The serializable description of one thread's share of a run. */
import type { LoadOptions } from "./load-driver";
import type { PayloadSpec } from "./payloads";
import type { TargetSpec } from "./target-spec";

/** Workloads a thread can run. */
export const WORKLOADS = ["get", "set", "lock-set", "mixed", "echo", "preload"] as const;

/** One of {@link WORKLOADS}. */
export type WorkloadName = (typeof WORKLOADS)[number];

/** Everything a thread needs to build its channels and requests and run them. */
export interface WorkSpec {
  readonly workload: WorkloadName;
  readonly target: TargetSpec;
  /** Channels (connections) of this thread; requests go round-robin over them. */
  readonly channels: number;
  /** The load of the measured phase (its warm-up runs first, unrecorded). */
  readonly load: LoadOptions;
  readonly payload: PayloadSpec;
  /** Sessions are `<prefix><n>` for n in [0, size). */
  readonly pool: { readonly prefix: string; readonly size: number };
  /** Share of writing requests in `mixed`, 0–1. */
  readonly writeRatio: number;
  /** Think time between Lock and Set in `mixed`, ms (not counted in latency). */
  readonly thinkMs: number;
  /** Lock lease, ms (0: server default). */
  readonly leaseMs: number;
  /** `preload`: this thread writes sessions n in [from, from + load.maxRequests). */
  readonly preloadFrom: number;
}
