import { strict as assert } from "node:assert";
import { planDocTests } from "../doc-test-plan";
import { substitute } from "../fresh-project";
import { parseMarkdownBlocks } from "../markdown-blocks";

const md = (...lines: string[]): string => lines.join("\n");
const block = (marker: string, lang: string, ...code: string[]): string => md(`<!-- doctest: ${marker} -->`, "```" + lang, ...code, "```", "");
const INSTALL_TS = block("install ts", "sh", "npm install ~/stateward/dist/stateward-client-0.1.0.tgz");

describe("doc-test: the plan across READMEs", () => {
  it("groups install blocks into projects and attaches outputs and shell steps to programs", () => {
    const client = parseMarkdownBlocks(
      "client.md",
      md(
        INSTALL_TS,
        block("install ts", "sh", "npm install express"),
        block("install python project=sdist", "sh", "pip install $HOME/stateward/dist/x.tar.gz"),
        block("run q.ts", "ts", 'connect("127.0.0.1:42424")'),
        block("output q.ts", "text", "ok"),
        block("start app.ts port=3000", "ts", 'connect("127.0.0.1:42424"); listen(3000)'),
        block("run hit.sh with=app.ts", "sh", "curl http://127.0.0.1:3000/"),
        block("output hit.sh", "text", "1"),
        block("run q.py", "python", 'connect("127.0.0.1:42424")'),
      ),
    );
    const plan = planDocTests([client, parseMarkdownBlocks("main.md", block("run q.ts", "ts", 'x("127.0.0.1:42424")'))]);
    assert.deepEqual(plan.errors, []);
    assert.deepEqual(
      plan.projects.map((p) => [p.lang, p.name, p.installs.map((b) => b.line)]),
      [
        ["ts", "default", [2, 7]],
        ["python", "sdist", [12]],
      ],
    );
    assert.deepEqual(
      plan.programs.map((p) => [p.block.source, p.file, p.lang, p.output?.code, p.serves?.port, p.serves?.steps.map((s) => [s.file, s.output?.code])]),
      [
        ["client.md", "q.ts", "ts", "ok\n", undefined, undefined],
        ["client.md", "app.ts", "ts", undefined, 3000, [["hit.sh", "1\n"]]],
        ["client.md", "q.py", "python", undefined, undefined, undefined],
        ["main.md", "q.ts", "ts", undefined, undefined, undefined],
      ],
    );
  });

  it("reports markers that do not agree", () => {
    const plan = planDocTests([
      parseMarkdownBlocks(
        "r.md",
        md(
          block("install ts", "sh", "npm install express"),
          block("run a.ts", "ts", "no address here"),
          block("run a.ts", "ts", '"127.0.0.1:42424"'),
          block("output b.ts", "text", "x"),
          block("start s.ts port=8080", "ts", '"127.0.0.1:42424" listen(3000)'),
          block("output s.ts", "text", "x"),
          block("run c.sh with=a.ts", "sh", "true"),
          block("run m.go", "go", '"127.0.0.1:42424"'),
          block("install python", "sh", "pip install ~/stateward/dist/x.whl"),
        ),
      ),
    ]);
    assert.deepEqual(plan.errors, [
      "r.md:12: a.ts is already a program of this file (r.md:7)",
      "r.md:17: output of b.ts, but no block runs b.ts",
      "r.md:27: s.ts is started, not run to completion: its output is not checked",
      'r.md:7: a.ts must name the server as "127.0.0.1:42424" (the doc-test points it at its own server there)',
      "r.md:22: s.ts does not mention its port 8080",
      "r.md:22: nothing runs against s.ts (a sh block marked run <file> with=s.ts)",
      "r.md:32: with=a.ts, but no block starts a.ts",
      "r.md:37: m.go is go, but no install block makes a go project to run it in",
      "r.md:2: nothing installs the ts client from the clone's dist/ (~/stateward/dist/ or $HOME/stateward/dist/)",
      "r.md:42: no python program runs in the project this installs into",
    ]);
  });

  it("substitutes the clone's path, the program's port, then the server's address", () => {
    const code = 'npm i ~/stateward/dist/a.tgz; GOPROXY=file://$HOME/stateward/dist/goproxy; listen(3000, "127.0.0.1:42424") // 30000 stays';
    assert.equal(
      substitute(code, { repoRoot: "/repo", serverAddress: "127.0.0.1:3000", port: { from: 3000, to: 41000 } }),
      'npm i /repo/dist/a.tgz; GOPROXY=file:///repo/dist/goproxy; listen(41000, "127.0.0.1:3000") // 30000 stays',
    );
  });
});
