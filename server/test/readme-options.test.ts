import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { OPTION_DOCS, OPTION_SECTIONS, type OptionDoc } from "../src/config";

/** The lines between the README's options markers. */
function optionsBlock(): string[] {
  const readme = readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");
  const block = /<!-- options:begin[^>]*-->\n([\s\S]*?)<!-- options:end -->/.exec(readme)?.[1];
  assert.ok(block !== undefined, "README.md has no options table between the markers");
  return block.split("\n");
}

/** The first cell of an option that only its environment variable sets (its doc has no flag). */
const VARIABLE_ONLY = "(environment variable only)";

function rowOf(doc: OptionDoc): string {
  const flag = doc.flag === "" ? VARIABLE_ONLY : `\`${doc.flag}${doc.placeholder === "" ? "" : ` ${doc.placeholder}`}\``;
  return `| ${flag} | \`${doc.env}\` | \`${doc.default}\` | ${doc.description.replace(/\|/g, "\\|")} |`;
}

/** A row of an option: its first cell is a flag or {@link VARIABLE_ONLY}. */
function isOptionRow(line: string): boolean {
  return line.startsWith("| `--") || line.startsWith(`| ${VARIABLE_ONLY} |`);
}

/** A section heading line: `**<title>**` alone on its line. */
const HEADING = /^\*\*(.+)\*\*$/;

/** The README's configuration tables must list every option exactly as the code defines it. */
describe("README configuration table", () => {
  it("has one row per option, with its flag, variable, default and description", () => {
    const rows = optionsBlock().filter(isOptionRow);
    assert.deepEqual(rows, OPTION_DOCS.map(rowOf));
  });

  it("puts each option's row under its section's heading (**<OPTION_SECTIONS[section]>**), the sections in order", () => {
    const lines = optionsBlock();
    const headings = lines.filter((line) => HEADING.test(line));
    assert.deepEqual(
      headings,
      Object.values(OPTION_SECTIONS).map((title) => `**${title}**`),
      "one heading per section, in the order of OPTION_SECTIONS",
    );
    let section: string | undefined;
    const under = new Map<string, string | undefined>();
    for (const line of lines) {
      const heading = HEADING.exec(line);
      if (heading !== null) section = heading[1];
      else if (isOptionRow(line)) under.set(line, section);
    }
    for (const doc of OPTION_DOCS) {
      assert.equal(under.get(rowOf(doc)), OPTION_SECTIONS[doc.section], `${doc.flag || doc.env} sits under "${OPTION_SECTIONS[doc.section]}"`);
    }
  });
});
