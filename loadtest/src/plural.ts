/**
 * Counted nouns for every text the tool writes (progress line, reports, BENCHMARKS.md, soak
 * summary): "1 worker", "2 workers", "0 errors", never "1 workers".
 */

/** The noun for `count` things: `singular` for exactly 1, else `pluralForm` (default: `singular` + "s"). */
export function nounFor(count: number, singular: string, pluralForm = `${singular}s`): string {
  return count === 1 ? singular : pluralForm;
}

/**
 * `count` and its noun, the count with thousands separators: `plural(1, "worker")` is
 * "1 worker", `plural(10_000, "session")` is "10,000 sessions". Integers only (it rounds).
 */
export function plural(count: number, singular: string, pluralForm?: string): string {
  const rounded = Math.round(count);
  return `${rounded.toLocaleString("en-US")} ${nounFor(rounded, singular, pluralForm)}`;
}
