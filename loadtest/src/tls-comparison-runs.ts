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
