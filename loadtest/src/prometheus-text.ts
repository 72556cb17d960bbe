/**
 * A reader of the Prometheus text exposition format (what `stateward serve --metrics-port` serves at
 * GET /metrics), enough for the soak's sampler: samples by metric name with their labels. Comments
 * (# HELP, # TYPE, # UNIT) are skipped; timestamps after the value are ignored.
 */

/** One sample line: `name{label="value",...} 1.5`. */
export interface PrometheusSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

// name, optional {labels}, value (float, +Inf, -Inf or NaN), optional timestamp.
const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?[0-9]+)?\s*$/;

function parseValue(text: string): number {
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Parses `a="x",b="y \"quoted\""` (escapes \\, \" and \n) into a record. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let index = 0;
  while (index < text.length) {
    while (index < text.length && (text[index] === "," || text[index] === " ")) index++;
    if (index >= text.length) break;
    const equals = text.indexOf("=", index);
    if (equals < 0 || text[equals + 1] !== '"') throw new Error(`malformed labels: ${text}`);
    const name = text.slice(index, equals).trim();
    let value = "";
    let cursor = equals + 2;
    for (;;) {
      const char = text[cursor];
      if (char === undefined) throw new Error(`unterminated label value: ${text}`);
      if (char === '"') break;
      if (char === "\\") {
        const next = text[cursor + 1];
        value += next === "n" ? "\n" : (next ?? "");
        cursor += 2;
        continue;
      }
      value += char;
      cursor++;
    }
    labels[name] = value;
    index = cursor + 1;
  }
  return labels;
}

/** Every sample of a scrape, in order; lines that are not samples are skipped. */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null) continue;
    const value = parseValue(match[3] ?? "");
    if (Number.isNaN(value) && match[3] !== "NaN") continue;
    samples.push({ name: match[1] ?? "", labels: match[2] === undefined || match[2] === "" ? {} : parseLabels(match[2]), value });
  }
  return samples;
}

/**
 * The value of metric `name` in a scrape, summed over its label sets (e.g. a counter split by
 * reason); undefined when the scrape has no such metric.
 */
export function metricValue(samples: readonly PrometheusSample[], name: string): number | undefined {
  let found = false;
  let sum = 0;
  for (const sample of samples) {
    if (sample.name !== name) continue;
    found = true;
    sum += sample.value;
  }
  return found ? sum : undefined;
}
