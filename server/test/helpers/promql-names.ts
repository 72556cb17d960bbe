/**
 * The metric names and label matchers a PromQL expression uses, for checking shipped dashboards
 * and alert rules against a real scrape. Not a PromQL parser: it relies on the shape of
 * expressions (selectors `name{matchers}`, ranges `[5m]`, grouping clauses `by (labels)`,
 * functions `name(`), which is enough for the expressions we write; promtool validates their
 * syntax separately.
 */

/** What an expression selects. */
export interface PromqlUse {
  /** Metric names, selected with or without matchers. */
  readonly metrics: ReadonlySet<string>;
  /** The label names matched on, per metric name. */
  readonly labels: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Words that look like identifiers but are not metric names. */
const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan", "atan2", "start", "end"]);

const IDENTIFIER = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;

/** The metric names and matched labels of `expr` (Grafana variables such as `$job` allowed). */
export function promqlUse(expr: string): PromqlUse {
  const metrics = new Set<string>();
  const labels = new Map<string, Set<string>>();
  // Selectors with matchers: remember the labels, then drop the braces.
  let rest = expr.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g, (_match, name: string | undefined, matchers: string) => {
    if (name === undefined || KEYWORDS.has(name)) return " ";
    metrics.add(name);
    const matched = labels.get(name) ?? new Set<string>();
    for (const matcher of matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) matched.add(matcher[1] as string);
    labels.set(name, matched);
    return ` ${name} `;
  });
  rest = rest
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, " ") // strings
    .replace(/\[[^\]]*\]/g, " ") // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // label lists
    .replace(/\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?/g, " "); // Grafana variables
  for (let i = 0; i < rest.length; ) {
    IDENTIFIER.lastIndex = i;
    const match = IDENTIFIER.exec(rest);
    const previous = rest[i - 1] ?? " ";
    if (match === null || /[0-9.a-zA-Z_]/.test(previous)) {
      i++;
      continue;
    }
    const word = match[0];
    i += word.length;
    const isCall = /^\s*\(/.test(rest.slice(i));
    if (!isCall && !KEYWORDS.has(word)) metrics.add(word);
  }
  return { metrics, labels };
}

/** The selector of a Grafana `label_values(<selector>, <label>)` query, or undefined. */
export function labelValuesSelector(query: string): string | undefined {
  const match = /^\s*label_values\(\s*(.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$/.exec(query);
  return match?.[1];
}
