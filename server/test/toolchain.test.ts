import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import semver from "semver";

const ROOT = path.resolve(__dirname, "../..");
const read = (file: string): string => readFileSync(path.join(ROOT, file), "utf8");

/** `NAME := value` from mk/toolchain.mk. */
function makeVariable(name: string): string {
  const value = new RegExp(`^${name} := (\\S+)$`, "m").exec(read("mk/toolchain.mk"))?.[1];
  assert.ok(value !== undefined, `mk/toolchain.mk defines ${name}`);
  return value;
}

const NODE_MIN = makeVariable("NODE_MIN");
const NODE_VERSION = makeVariable("NODE_VERSION");
const WORKSPACES = ["package.json", "protocol/package.json", "client/ts/package.json", "server/package.json", "loadtest/package.json"];

interface LockedPackage {
  readonly engines?: { readonly node?: string } | string[];
  readonly optional?: boolean;
}

/**
 * The Node.js the project names must be one that every installed package accepts, so that `npm ci`
 * prints no EBADENGINE warning on it: the floor (NODE_MIN, `engines` everywhere) and the version
 * make installs (NODE_VERSION).
 */
describe("Node.js version: engines, the lock file, make and the README agree", () => {
  it("make installs a Node.js at or above the floor", () => {
    assert.ok(semver.gte(NODE_VERSION, NODE_MIN), `${NODE_VERSION} >= ${NODE_MIN}`);
  });

  it("every workspace's engines.node is >= the floor", () => {
    for (const file of WORKSPACES) {
      const manifest = JSON.parse(read(file)) as { engines?: { node?: string } };
      assert.equal(manifest.engines?.node, `>=${NODE_MIN}`, file);
    }
  });

  it("@types/node is the floor's major, so that the type checker refuses newer APIs", () => {
    const manifest = JSON.parse(read("package.json")) as { devDependencies: Record<string, string> };
    const range = manifest.devDependencies["@types/node"];
    assert.ok(range !== undefined);
    assert.equal(semver.minVersion(range)?.major, semver.major(NODE_MIN));
  });

  it("every package in the lock file accepts both the floor and the version make installs", () => {
    const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, LockedPackage> };
    const refused: string[] = [];
    let checked = 0;
    for (const [where, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (range === undefined) continue;
      checked += 1;
      for (const version of [NODE_MIN, NODE_VERSION]) {
        if (!semver.satisfies(version, range)) refused.push(`${where || "(root)"} wants node ${range}, not ${version}`);
      }
    }
    assert.ok(checked > 20, `engines checked in ${checked} packages`);
    assert.deepEqual(refused, []);
  });

  it("the container image runs the version make installs", () => {
    assert.match(read("deploy/Containerfile"), new RegExp(`^ARG NODE_VERSION=${NODE_VERSION.replace(/\./g, "\\.")}$`, "m"));
  });

  it("the README names the floor and the version make installs", () => {
    const readme = read("README.md");
    assert.ok(readme.includes(`Node.js ≥ ${NODE_MIN.replace(/\.0$/, "")}`), `README says Node.js ≥ ${NODE_MIN}`);
    assert.ok(readme.includes(`Node.js ${NODE_VERSION}`), `README names Node.js ${NODE_VERSION}`);
  });
});
