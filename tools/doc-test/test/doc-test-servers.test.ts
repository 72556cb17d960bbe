import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { planDocTests, type Walkthrough } from "../doc-test-plan";
import { makeTlsRecipe, makeWalkthroughRecipe } from "../doc-test-servers";
import { parseMarkdownBlocks } from "../markdown-blocks";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const md = (...lines: string[]): string => lines.join("\n");
const block = (marker: string, lang: string, ...code: string[]): string => md(`<!-- doctest: ${marker} -->`, "```" + lang, ...code, "```", "");

/** The walkthrough `net` of a README made of these setup blocks, a serve block and a program. */
function walkthrough(...setups: string[][]): Walkthrough {
  const readme = md(
    ...setups.map((code) => block("setup net", "sh", ...code)),
    block("serve net", "sh", "stateward serve --host 0.0.0.0 --allow-remote --auth-file auth.json"),
    block("run a.py server=net", "python", '"127.0.0.1:42424"'),
  );
  const found = planDocTests([parseMarkdownBlocks("w.md", readme)]).walkthroughs[0];
  assert.ok(found);
  return found;
}

describe("doc-test: the servers README programs run against", function () {
  this.timeout(60_000);
  let dir = "";
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "stateward-doctest-servers-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs a walkthrough's setup blocks in order in its directory, as in one terminal, with stateward on PATH", async () => {
    const w = walkthrough(
      ["command -v stateward > where.txt", 'export GREETING="hello world"', "echo anything printed is fine"],
      [`export STATEWARD_TOKEN="$GREETING's token"`, 'export PATH="/nowhere:$PATH"', 'printf %s "$PWD" > pwd.txt'],
      ['[ "${PATH#/nowhere:}" != "$PATH" ]', "ls > files.txt"],
    );
    const recipe = await makeWalkthroughRecipe(w, path.join(dir, "net"), REPO_ROOT);
    assert.equal(readFileSync(path.join(dir, "net", "where.txt"), "utf8").trim(), path.join(REPO_ROOT, "server", "bin", "stateward"));
    assert.equal(readFileSync(path.join(dir, "net", "pwd.txt"), "utf8"), path.join(dir, "net"));
    // Only the blocks' own files: the doc-test keeps its bookkeeping elsewhere.
    assert.deepEqual(readFileSync(path.join(dir, "net", "files.txt"), "utf8").split("\n").filter(Boolean), ["files.txt", "pwd.txt", "where.txt"]);
    // What the blocks exported reaches the server and the programs; PATH stays the program's own.
    const exported = { GREETING: "hello world", STATEWARD_TOKEN: "hello world's token" };
    assert.deepEqual(recipe, { flags: ["--allow-remote", "--auth-file", "auth.json"], cwd: path.join(dir, "net"), serverEnv: exported, programEnv: exported });
  });

  it("fails with the block's place when a setup block fails, also on a failing command before its last", async () => {
    const w = walkthrough(["true"], ["false", "echo not reached"]);
    await assert.rejects(makeWalkthroughRecipe(w, path.join(dir, "net"), REPO_ROOT), /^Error: the setup block at w\.md:7 \(walkthrough net\) failed: `bash -euo pipefail -c/);
  });

  it("server=tls: throw-away certificates and one token, in an auth file the token's principal is in", async () => {
    const recipe = await makeTlsRecipe(path.join(dir, "tls"), REPO_ROOT);
    const file = (name: string): string => path.join(dir, "tls", name);
    assert.deepEqual(recipe.flags, ["--tls-cert", file("server.pem"), "--tls-key", file("server.key"), "--auth-file", file("auth.json")]);
    for (const name of ["server.pem", "server.key", "ca.pem"]) assert.ok(existsSync(file(name)), name);
    assert.deepEqual(Object.keys(recipe.programEnv).sort(), ["STATEWARD_CA_FILE", "STATEWARD_TOKEN"]);
    assert.equal(recipe.programEnv.STATEWARD_CA_FILE, file("ca.pem"));
    const token = recipe.programEnv.STATEWARD_TOKEN ?? "";
    assert.match(token, /^[A-Za-z0-9_-]{43,}$/);
    const auth = JSON.parse(readFileSync(file("auth.json"), "utf8")) as { principals: unknown[] };
    assert.deepEqual(auth.principals, [{ name: "doc-test", token_sha256: createHash("sha256").update(token).digest("hex"), apps: ["*"], access: "read-write" }]);
    assert.deepEqual(recipe.serverEnv, {});
  });
});
