/** The command that reproduces one run alone, recorded in the reports and BENCHMARKS.md. */

/** Formats `npx stateward-loadtest <scenario>` followed by `flags` (values quoted when needed). */
export function reproduceCommand(scenario: string, flags: Readonly<Record<string, string | number | undefined>>): string {
  const parts = ["npx", "stateward-loadtest", scenario];
  for (const [flag, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const text = String(value);
    parts.push(`--${flag}`, /^[A-Za-z0-9._:/-]+$/.test(text) ? text : `'${text}'`);
  }
  return parts.join(" ");
}

/** A payload spec in the CLI's notation: `1024` or `1024-16384`. */
export function payloadFlag(spec: { readonly minBytes: number; readonly maxBytes: number }): string {
  return spec.minBytes === spec.maxBytes ? String(spec.minBytes) : `${spec.minBytes}-${spec.maxBytes}`;
}

/** Duration in the CLI's notation. */
export function durationFlag(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
