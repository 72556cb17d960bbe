/**
 * Level-2 sections of a Markdown file that several commands write: `make bench` rewrites
 * BENCHMARKS.md but keeps the section `make soak` wrote, and `make soak` replaces only its own.
 */

/** The section that starts with `heading` (a `## ` line) up to the next `## ` heading, or undefined. */
export function extractSection(text: string, heading: string): string | undefined {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line === heading);
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && !(lines[end] as string).startsWith("## ")) end++;
  return `${lines.slice(start, end).join("\n").trimEnd()}\n`;
}

/** `text` with the section `heading` replaced by `section` (appended when absent). */
export function replaceSection(text: string, heading: string, section: string): string {
  const existing = extractSection(text, heading);
  const body = section.endsWith("\n") ? section : `${section}\n`;
  if (existing === undefined) return `${text.trimEnd()}\n\n${body}`;
  const at = text.indexOf(existing.trimEnd());
  return `${text.slice(0, at)}${body.trimEnd()}${text.slice(at + existing.trimEnd().length)}`;
}
