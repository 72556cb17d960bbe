import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { OPTION_DOCS } from "../src/config";

/** The README's configuration table must list every option exactly as the code defines it. */
describe("README configuration table", () => {
  it("has one row per option, with its flag, variable, default and description", () => {
    const readme = readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");
    const table = /<!-- options:begin[^>]*-->\n([\s\S]*?)<!-- options:end -->/.exec(readme)?.[1];
    assert.ok(table !== undefined, "README.md has no options table between the markers");
    const rows = table.split("\n").filter((line) => line.startsWith("| `--"));
    const expected = OPTION_DOCS.map(
      (doc) =>
        `| \`${doc.flag}${doc.placeholder === "" ? "" : ` ${doc.placeholder}`}\` | \`${doc.env}\` | \`${doc.default}\` | ${doc.description.replace(/\|/g, "\\|")} |`,
    );
    assert.deepEqual(rows, expected);
  });
});
