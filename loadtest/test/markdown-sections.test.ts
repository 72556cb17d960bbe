import assert from "node:assert/strict";
import { extractSection, replaceSection } from "../src/markdown-sections";

describe("markdown sections", () => {
  const text = "# T\n\n## A\na1\n\n## Soak\nold\nlines\n\n## B\nb\n";

  it("extracts a level-2 section up to the next one", () => {
    assert.equal(extractSection(text, "## Soak"), "## Soak\nold\nlines\n");
    assert.equal(extractSection(text, "## B"), "## B\nb\n");
    assert.equal(extractSection(text, "## None"), undefined);
  });

  it("replaces a section in place, or appends it", () => {
    assert.equal(replaceSection(text, "## Soak", "## Soak\nnew\n"), "# T\n\n## A\na1\n\n## Soak\nnew\n\n## B\nb\n");
    assert.equal(replaceSection("# T\n", "## Soak", "## Soak\nx"), "# T\n\n## Soak\nx\n");
  });
});
