import { strict as assert } from "node:assert";
import { parseMarkdownBlocks, parseMarker } from "../markdown-blocks";

const md = (...lines: string[]): string => lines.join("\n");

describe("doc-test: fenced blocks and their markers", () => {
  it("reads a marked block: language, line, code, marker", () => {
    const { blocks, errors } = parseMarkdownBlocks("R.md", md("# T", "", "<!-- doctest: run quick.ts -->", "```typescript", "const a = 1;", "```", ""));
    assert.deepEqual(errors, []);
    assert.deepEqual(blocks, [{ source: "R.md", line: 4, lang: "ts", code: "const a = 1;\n", marker: { verb: "run", file: "quick.ts" } }]);
  });

  it("allows blank lines between a marker and its block", () => {
    const { blocks, errors } = parseMarkdownBlocks("R.md", md("<!-- doctest: skip a fragment -->", "", "```go", "x := 1", "```"));
    assert.deepEqual(errors, []);
    assert.deepEqual(blocks[0]?.marker, { verb: "skip", reason: "a fragment" });
  });

  it("fails code without a marker, but not shell, text or unlabelled blocks", () => {
    const { errors } = parseMarkdownBlocks("R.md", md("```sh", "make run", "```", "```", "diagram", "```", "```text", "out", "```", "```python", "print(1)", "```"));
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? "", /^R\.md:10: a python block needs a marker/);
  });

  it("fails a marker that is not right before a block, or has none after it", () => {
    const text = parseMarkdownBlocks("R.md", md("<!-- doctest: run a.ts -->", "some prose", "```ts", "x", "```"));
    assert.ok(text.errors.some((e) => /^R\.md:1: a doctest marker must come right before its code block/.test(e)), text.errors.join("\n"));
    assert.equal(text.blocks[0]?.marker, undefined);
    const end = parseMarkdownBlocks("R.md", md("```sh", "x", "```", "<!-- doctest: skip why -->"));
    assert.deepEqual(end.errors, ["R.md:4: a doctest marker with no code block after it"]);
  });

  it("checks that a marker fits its block's language", () => {
    const { errors } = parseMarkdownBlocks(
      "R.md",
      md("<!-- doctest: install ts -->", "```ts", "x", "```", "<!-- doctest: run a.sh -->", "```sh", "x", "```", "<!-- doctest: run b.ts with=app.ts -->", "```ts", "x", "```", "<!-- doctest: start s.js port=1 -->", "```js", "x", "```"),
    );
    assert.deepEqual(errors, [
      'R.md:2: an install block must be a sh block, not "ts"',
      'R.md:6: run needs a ts, python or go block (or with=<file> for sh), not "sh"',
      'R.md:10: run b.ts with=… is for sh blocks, not "ts"',
      'R.md:14: start needs a ts, python or go block, not "js"',
    ]);
  });

  it("keeps a longer fence open across a shorter one inside it, and reports an unclosed block", () => {
    const { blocks, errors } = parseMarkdownBlocks("R.md", md("````md", "```ts", "x", "```", "````", "```sh", "never closed"));
    assert.equal(blocks[0]?.code, "```ts\nx\n```\n");
    assert.equal(blocks[0]?.lang, "md");
    assert.deepEqual(errors, ["R.md:6: the code block is never closed"]);
  });

  it("parses every verb and refuses malformed markers", () => {
    assert.deepEqual(parseMarker(" install python project=sdist "), { verb: "install", lang: "python", project: "sdist" });
    assert.deepEqual(parseMarker("install go"), { verb: "install", lang: "go", project: "default" });
    assert.deepEqual(parseMarker("run visits.sh with=app.ts"), { verb: "run", file: "visits.sh", with: "app.ts" });
    assert.deepEqual(parseMarker("start app.ts port=3000"), { verb: "start", file: "app.ts", port: 3000 });
    assert.deepEqual(parseMarker("output main.go"), { verb: "output", file: "main.go" });
    assert.match(parseMarker("install ruby") as string, /one language/);
    assert.match(parseMarker("run") as string, /takes one file name, got 0/);
    assert.match(parseMarker("run ../x.ts") as string, /not a plain file name/);
    assert.match(parseMarker("run a.ts wiht=b.ts") as string, /unknown option wiht/);
    assert.match(parseMarker("start app.ts") as string, /needs port=/);
    assert.match(parseMarker("skip") as string, /needs a reason/);
    assert.match(parseMarker("execute a.ts") as string, /unknown doctest verb "execute"/);
  });
});
