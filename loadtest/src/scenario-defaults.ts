/** Pool size, payload and unit of each load scenario, as issue 3 describes them. */
import type { PayloadSpec } from "./payloads";

/** Defaults of one scenario. */
export interface ScenarioDefaults {
  readonly pool: number;
  readonly payload: PayloadSpec;
  /** What one operation of its throughput is. */
  readonly unit: string;
}

const KIB = 1024;

/** get / set / lock-set: 1 KiB in a pool of 10 k; mixed: 1–16 KiB in a pool of 100 k; echo: 1 KiB. */
export const SCENARIO_DEFAULTS = {
  get: { pool: 10_000, payload: { minBytes: KIB, maxBytes: KIB }, unit: "Get" },
  set: { pool: 10_000, payload: { minBytes: KIB, maxBytes: KIB }, unit: "Set" },
  "lock-set": { pool: 10_000, payload: { minBytes: KIB, maxBytes: KIB }, unit: "Lock+Set pair" },
  mixed: { pool: 100_000, payload: { minBytes: KIB, maxBytes: 16 * KIB }, unit: "request" },
  echo: { pool: 0, payload: { minBytes: KIB, maxBytes: KIB }, unit: "Echo call" },
} as const satisfies Record<string, ScenarioDefaults>;

/** Key prefix of a pool: pools of equal size and payload are shared by the scenarios of one server. */
export function poolPrefix(size: number, payload: PayloadSpec): string {
  return `pool-${size}-${payload.minBytes}-${payload.maxBytes}-`;
}
