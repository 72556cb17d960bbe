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
      md(
        "<!-- doctest: install ts -->", "```ts", "x", "```",
        "<!-- doctest: run a.sh -->", "```sh", "x", "```",
        "<!-- doctest: run b.ts with=app.ts -->", "```ts", "x", "```",
        "<!-- doctest: start s.js port=1 -->", "```js", "x", "```",
        "<!-- doctest: setup net -->", "```python", "x", "```",
        "<!-- doctest: serve net -->", "```text", "x", "```",
        "<!-- doctest: run c.sh server=tls -->", "```sh", "x", "```",
      ),
    );
    assert.deepEqual(errors, [
      'R.md:2: an install block must be a sh block, not "ts"',
      'R.md:6: run needs a ts, python or go block (or with=<file> for sh), not "sh"',
      'R.md:10: run b.ts with=… is for sh blocks, not "ts"',
      'R.md:14: start needs a ts, python or go block, not "js"',
      'R.md:18: a setup block must be a sh block, not "python"',
      'R.md:22: a serve block must be a sh block, not "text"',
      'R.md:26: run needs a ts, python or go block (or with=<file> for sh), not "sh"',
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
    assert.deepEqual(parseMarker("run tls.py server=tls"), { verb: "run", file: "tls.py", server: "tls" });
    assert.deepEqual(parseMarker("run client.py server=network"), { verb: "run", file: "client.py", server: "network" });
    assert.deepEqual(parseMarker("setup network"), { verb: "setup", walkthrough: "network" });
    assert.deepEqual(parseMarker("serve network"), { verb: "serve", walkthrough: "network" });
    assert.deepEqual(parseMarker("serve network address=stateward.internal:42424"), { verb: "serve", walkthrough: "network", address: "stateward.internal:42424" });
    assert.match(parseMarker("install ruby") as string, /one language/);
    assert.match(parseMarker("run") as string, /takes one file name, got 0/);
    assert.match(parseMarker("run ../x.ts") as string, /not a plain file name/);
    assert.match(parseMarker("run a.ts wiht=b.ts") as string, /unknown option wiht/);
    assert.match(parseMarker("start app.ts") as string, /needs port=/);
    assert.match(parseMarker("skip") as string, /needs a reason/);
    assert.match(parseMarker("run a.sh with=app.ts server=tls") as string, /with= and server= do not go together/);
    assert.match(parseMarker("run a.py server=../x") as string, /server="\.\.\/x" is not "tls" or a walkthrough's name/);
    assert.match(parseMarker("setup") as string, /setup takes one walkthrough name, got ""/);
    assert.match(parseMarker("setup a b") as string, /setup takes one walkthrough name, got "a b"/);
    assert.match(parseMarker("setup network address=x:1") as string, /setup: unknown option address/);
    assert.match(parseMarker("serve tls") as string, /"tls" is the doc-test's own TLS server/);
    assert.match(parseMarker("serve network address=stateward.internal") as string, /address="stateward.internal" is not <host>:<port>/);
    assert.match(parseMarker("serve network port=1") as string, /serve: unknown option port/);
    assert.match(parseMarker("execute a.ts") as string, /unknown doctest verb "execute"/);
  });
});
