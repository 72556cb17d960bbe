import { strict as assert } from "node:assert";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { releaseVersion } from "../release-version";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const MANIFESTS = ["package.json", "protocol/package.json", "client/ts/package.json", "client/python/pyproject.toml", "client/python/src/stateward_client/__init__.py"];

describe("release version: one for every artifact", () => {
  let root = "";
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "stateward-version-"));
    for (const file of MANIFESTS) {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      cpSync(path.join(REPO_ROOT, file), path.join(root, file));
    }
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const edit = (file: string, from: RegExp, to: string): void => {
    const before = readFileSync(path.join(root, file), "utf8");
    const after = before.replace(from, to);
    assert.notEqual(after, before, `${file} has ${from}`);
    writeFileSync(path.join(root, file), after);
  };

  it("the repository's copies agree with package.json", () => {
    const { version, problems } = releaseVersion(REPO_ROOT);
    assert.match(version, /^\d+\.\d+\.\d+$/);
    assert.deepEqual(problems, []);
  });

  it("names each copy that differs", () => {
    edit("client/python/pyproject.toml", /^version = "[^"]*"/m, 'version = "9.9.9"');
    edit("client/ts/package.json", /"@stateward\/protocol": "[^"]*"/, '"@stateward/protocol": "^0.1.0"');
    edit("client/python/src/stateward_client/__init__.py", /^__version__ = .*$/m, "");
    const { version, problems } = releaseVersion(root);
    assert.deepEqual(problems, [
      `client/ts/package.json dependency "@stateward/protocol" is "^0.1.0", but the release version (package.json) is ${version}`,
      `client/python/pyproject.toml [project] version is "9.9.9", but the release version (package.json) is ${version}`,
      `client/python/src/stateward_client/__init__.py __version__ is "(missing)", but the release version (package.json) is ${version}`,
    ]);
  });

  it("refuses a version the Go module could not carry", () => {
    edit("package.json", /"version": "[^"]*"/, '"version": "1.0"');
    assert.match(releaseVersion(root).problems[0] ?? "", /not MAJOR\.MINOR\.PATCH/);
  });
});
