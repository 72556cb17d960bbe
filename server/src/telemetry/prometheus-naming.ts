/**
 * Prometheus names of OpenTelemetry metrics, by the rules of OpenTelemetry's "Prometheus and
 * OpenMetrics compatibility" specification, which the OpenTelemetry Collector's Prometheus
 * exporters apply too (so a metric pushed over OTLP and scraped from a Collector has the same
 * name as on Stateward's own endpoint):
 * - characters other than `[a-zA-Z0-9_]` become `_`, runs of `_` one;
 * - the unit becomes a suffix unless the name ends with it already: `s` → `_seconds`,
 *   `By` → `_bytes`, `1` on a gauge → `_ratio`, `x/y` → `_x_per_y`; `{annotations}` add nothing;
 * - monotonic sums (counters) end in `_total`.
 *
 * The JavaScript exporter (@opentelemetry/exporter-prometheus 0.301) does only the first and the
 * last, and writes the unit as a `# UNIT` comment that the Prometheus text format does not have;
 * hence this module and prometheus-text-reader.ts.
 */
import { DataPointType, type MetricData } from "@opentelemetry/sdk-metrics";

/** UCUM units and their Prometheus words (the specification's table, the units one meets). */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: "days",
  h: "hours",
  min: "minutes",
  s: "seconds",
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  By: "bytes",
  KiBy: "kibibytes",
  MiBy: "mebibytes",
  GiBy: "gibibytes",
  TiBy: "tibibytes",
  KBy: "kilobytes",
  MBy: "megabytes",
  GBy: "gigabytes",
  TBy: "terabytes",
  m: "meters",
  V: "volts",
  A: "amperes",
  J: "joules",
  W: "watts",
  g: "grams",
  Cel: "celsius",
  Hz: "hertz",
  "%": "percent",
};

/** Per-unit words of `x/y` units. */
const PER_UNIT_WORDS: Readonly<Record<string, string>> = { s: "second", m: "minute", h: "hour", d: "day", w: "week", mo: "month", y: "year" };

function sanitize(text: string): string {
  return text.replace(/[^a-zA-Z0-9_]/g, "_").replace(/_{2,}/g, "_");
}

/** The suffix words of a unit ("" for none). */
export function unitSuffix(unit: string, isGauge: boolean): string {
  const plain = unit.replace(/\{[^}]*\}/g, "").trim();
  if (plain === "") return "";
  if (plain === "1") return isGauge ? "ratio" : "";
  const [numerator = "", denominator] = plain.split("/", 2);
  const words = [UNIT_WORDS[numerator] ?? numerator];
  if (denominator !== undefined && denominator !== "") words.push("per", PER_UNIT_WORDS[denominator] ?? denominator);
  return sanitize(words.filter((word) => word !== "").join("_")).replace(/^_+|_+$/g, "");
}

/** The Prometheus name of `metric` (for a histogram: the family name before `_bucket`, `_sum`, `_count`). */
export function prometheusName(metric: Pick<MetricData, "descriptor" | "dataPointType"> & { readonly isMonotonic?: boolean }): string {
  let name = sanitize(metric.descriptor.name);
  if (/^[0-9]/.test(name)) name = `_${name}`;
  const counter = metric.dataPointType === DataPointType.SUM && metric.isMonotonic === true;
  // A non-monotonic sum is a gauge in Prometheus.
  const gauge = metric.dataPointType === DataPointType.GAUGE || (metric.dataPointType === DataPointType.SUM && !counter);
  const suffix = unitSuffix(metric.descriptor.unit, gauge);
  if (suffix !== "" && !name.endsWith(`_${suffix}`)) name += `_${suffix}`;
  if (counter && !name.endsWith("_total")) name += "_total";
  return name;
}
