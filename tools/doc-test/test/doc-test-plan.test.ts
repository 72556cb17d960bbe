import { strict as assert } from "node:assert";
import { planDocTests, serveCommandFlags } from "../doc-test-plan";
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

  it("assembles a walkthrough (setup blocks in order, the serve block's flags) and gives each program its server", () => {
    const readme = parseMarkdownBlocks(
      "main.md",
      md(
        INSTALL_TS,
        block("setup network", "sh", "openssl req ..."),
        block("serve network address=state.internal:42424", "sh", "stateward serve --host 0.0.0.0 --allow-remote \\", "  --tls-cert server.pem --port=42424 --auth-file auth.json"),
        block("setup network", "sh", "export STATEWARD_TOKEN=x"),
        block("run net.ts server=network", "ts", 'connect("state.internal:42424")'),
        block("output net.ts", "text", "ok 2"),
        block("run tls.ts server=tls", "ts", 'connect("127.0.0.1:42424")'),
        block("run plain.ts", "ts", 'connect("127.0.0.1:42424")'),
      ),
    );
    const plan = planDocTests([readme]);
    assert.deepEqual(plan.errors, []);
    assert.deepEqual(
      plan.walkthroughs.map((w) => [w.source, w.name, w.setups.map((b) => b.line), w.serve.line, w.flags]),
      [["main.md", "network", [7, 18], 12, ["--allow-remote", "--tls-cert", "server.pem", "--auth-file", "auth.json"]]],
    );
    const walkthrough = plan.walkthroughs[0];
    assert.deepEqual(
      plan.programs.map((p) => [p.file, p.server, p.address, p.output?.code]),
      [
        ["net.ts", { kind: "walkthrough", walkthrough }, "state.internal:42424", "ok 2\n"],
        ["tls.ts", { kind: "tls" }, "127.0.0.1:42424", undefined],
        ["plain.ts", { kind: "plain" }, "127.0.0.1:42424", undefined],
      ],
    );
  });

  it("reports walkthroughs whose blocks do not agree", () => {
    const plan = planDocTests([
      parseMarkdownBlocks(
        "w.md",
        md(
          INSTALL_TS,
          block("setup lonely", "sh", "true"),
          block("serve net address=state.internal:42424", "sh", "stateward serve --auth-file auth.json"),
          block("serve net", "sh", "stateward serve"),
          block("run a.ts server=net", "ts", 'connect("127.0.0.1:42424")'),
          block("run b.ts server=nowhere", "ts", 'connect("127.0.0.1:42424")'),
          block("serve unused", "sh", "npx stateward serve"),
        ),
      ),
    ]);
    assert.deepEqual(plan.errors, [
      "w.md:17: a second serve block for walkthrough net (w.md:12)",
      "w.md:32: a serve block runs `stateward serve ...`",
      "w.md:7: setup of walkthrough lonely, but no block serves it (<!-- doctest: serve lonely -->)",
      'w.md:22: a.ts must name the server as "state.internal:42424" (the doc-test points it at its own server there)',
      'w.md:27: server=nowhere, but no block of this file serves walkthrough nowhere (<!-- doctest: serve nowhere -->), and it is not "tls"',
      "w.md:32: nothing runs against walkthrough unused (a program marked run <file> server=unused)",
    ]);
  });

  it("reads a serve block's flags without --host and --port, and refuses anything but one plain command", () => {
    assert.deepEqual(serveCommandFlags("stateward serve --host 10.0.0.5 --port 42424 --allow-remote \\\n  --tls-cert server.pem\n"), ["--allow-remote", "--tls-cert", "server.pem"]);
    assert.deepEqual(serveCommandFlags("stateward serve --host=0.0.0.0 --port=1 --auth-file=auth.json"), ["--auth-file=auth.json"]);
    assert.match(serveCommandFlags("stateward serve\nstateward serve") as string, /one command line/);
    assert.match(serveCommandFlags('stateward serve --tls-cert "$HOME/server.pem"') as string, /no quotes, variables/);
    assert.match(serveCommandFlags("stateward serve --auth-file auth.json # comment") as string, /no quotes, variables, comments/);
    assert.match(serveCommandFlags("stateward serve > log") as string, /other shell syntax/);
    assert.match(serveCommandFlags("stateward token create --name x") as string, /runs `stateward serve/);
    assert.match(serveCommandFlags("stateward serve --host") as string, /--host in the serve block has no value/);
    assert.match(serveCommandFlags("stateward serve --port --allow-remote") as string, /--port in the serve block has no value/);
  });

  it("substitutes the clone's path, the program's port, then the server's address", () => {
    const code = 'npm i ~/stateward/dist/a.tgz; GOPROXY=file://$HOME/stateward/dist/goproxy; listen(3000, "127.0.0.1:42424") // 30000 stays';
    assert.equal(
      substitute(code, { repoRoot: "/repo", serverAddress: "127.0.0.1:3000", port: { from: 3000, to: 41000 } }),
      'npm i /repo/dist/a.tgz; GOPROXY=file:///repo/dist/goproxy; listen(41000, "127.0.0.1:3000") // 30000 stays',
    );
    assert.equal(
      substitute('connect("state.internal:42424") // not "127.0.0.1:42424"', { repoRoot: "/repo", serverAddress: "127.0.0.1:3000", namedAddress: "state.internal:42424" }),
      'connect("127.0.0.1:3000") // not "127.0.0.1:42424"',
    );
  });
});
