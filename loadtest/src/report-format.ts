/** Number formatting shared by the HTML report and BENCHMARKS.md. */
import type { RunResult } from "./report-model";

/** Integer with thousands separators. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** µs as ms with 2 decimals below 10 ms, 1 below 100 ms, none above. */
export function formatLatencyMs(us: number): string {
  const ms = us / 1000;
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** A ratio like `1.23×` (`digits` decimals); `n/a` when not finite. */
export function formatRatio(value: number | undefined, digits = 2): string {
  return value === undefined || !Number.isFinite(value) ? "n/a" : `${value.toFixed(digits)}×`;
}

/** Bytes as MiB with one decimal. */
export function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Errors by status as `CODE n, CODE n`, or `0`. */
export function formatErrors(errors: Readonly<Record<string, number>>): string {
  const entries = Object.entries(errors).filter(([, count]) => count > 0);
  return entries.length === 0 ? "0" : entries.map(([code, count]) => `${code} ${formatCount(count)}`).join(", ");
}

/** One row of a Markdown table. */
export function markdownRow(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

/** A numeric figure of a run's extra, or undefined (absent, or not a number). */
export function extraNumber(run: RunResult | undefined, name: string): number | undefined {
  const value = run?.extra[name];
  return typeof value === "number" ? value : undefined;
}

/** `min – median – max` of the per-slice ratios of an alternating run (alternating-runs.ts), or `–`. */
export function formatSliceSpread(run: RunResult | undefined): string {
  const values = ["sliceRatioMin", "sliceRatioMedian", "sliceRatioMax"].map((name) => extraNumber(run, name));
  return values.every((value) => value !== undefined) ? values.map((value) => (value as number).toFixed(2)).join(" – ") : "–";
}
