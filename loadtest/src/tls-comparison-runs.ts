/**
 * The runs of the suite's TLS comparison (tls-comparison-scenario.ts) by name: which workloads and
 * transports it compares and the id of each run, shared with the targets and BENCHMARKS.md.
 */
import type { SecurityMode, TransportName } from "./target-spec";

/** One compared workload over one transport. */
export interface TlsComparison {
  readonly scenario: "get" | "lock-set";
  readonly transport: TransportName;
}

/** The workloads and transports compared, in the order they run. */
export const TLS_COMPARISONS: readonly TlsComparison[] = [
  { scenario: "get", transport: "pipeline" },
  { scenario: "lock-set", transport: "pipeline" },
  { scenario: "get", transport: "unary" },
  { scenario: "lock-set", transport: "unary" },
];

/** Id of the comparison run of `scenario` over `transport` with `security` (distinct from the suite's other runs). */
export function tlsComparisonRunId(scenario: string, transport: TransportName, security: SecurityMode): string {
  return `tls-compare-${scenario}-${transport}-${security}`;
}

/** The issue-13 bound: the pipelined Get over TLS + token keeps at least this share of its plaintext throughput. */
export const TLS_PIPELINE_GET_MIN_RATIO = 0.8;

/**
 * Slices per run (even, for the A-B-B-A order). Many short slices: on a shared machine the cores
 * this run gets swing by 2× over a few seconds, and a pair measured in two slices each took those
 * swings as the cost of TLS.
 */
export const TLS_SLICES = 6;

/**
 * Warm-up of every slice after a server's first, ms (at most --warmup): the servers and the
 * generator's code are warm by then; each slice opens new connections (TLS handshakes included),
 * which is done in well under this.
 */
export const LATER_SLICE_WARMUP_MS = 500;
