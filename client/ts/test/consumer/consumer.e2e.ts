/**
 * Proof that the package ships: `npm pack` @stateward/client and its dependency
 * @stateward/protocol (a workspace package, so a fresh project could not fetch it from the
 * registry), install both tarballs together into a fresh temporary project (with express-session
 * and TypeScript from the registry), type-check a small program and the README's two quick starts
 * against it with tsc (strict, no skipLibCheck), and run the program (CommonJS) and the Node quick
 * start (ESM) against a real server started from this repository.
 *
 * Not part of the default mocha run (it installs from the registry and takes ~30 s):
 * `npm run -w client/ts test:consumer`.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { assert, useResources } from "../helpers";

const run = promisify(execFile);
const PACKAGE_DIR = path.join(__dirname, "..", "..");
const PROTOCOL_DIR = path.join(PACKAGE_DIR, "..", "..", "protocol");

/** The first ```ts block after `heading` in the package README. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(path.join(PACKAGE_DIR, "README.md"), "utf8");
  const at = readme.indexOf(heading);
  assert.ok(at >= 0, `README has "${heading}"`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block?.[1] !== undefined, `a ts block after "${heading}"`);
  return block[1];
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, maxBuffer: 32 * 1024 * 1024 });
  return stdout;
}

/** `npm pack`s the package in `dir` into `destination` (prepack builds dist); its tarball and files. */
async function pack(dir: string, destination: string): Promise<{ tarball: string; files: string[] }> {
  const packed = JSON.parse(await npm(["pack", "--json", "--pack-destination", destination], dir)) as { filename: string; files: { path: string }[] }[];
  const tarball = path.join(destination, packed[0]?.filename ?? assert.fail(`npm pack of ${dir} produced nothing`));
  return { tarball, files: (packed[0]?.files ?? []).map((f) => f.path) };
}

describe("consumer: the packed @stateward/client installs, type-checks and runs", function () {
  this.timeout(300_000);
  const r = useResources();

  it("npm pack → npm install into a fresh project → tsc → node against a real server", async () => {
    const work = mkdtempSync(path.join(tmpdir(), "stateward-consumer-"));
    r().defer(() => rmSync(work, { recursive: true, force: true }));

    // prepack builds dist (tsc -b) before packing.
    const { tarball, files } = await pack(PACKAGE_DIR, work);
    for (const expected of ["dist/index.js", "dist/index.d.ts", "dist/express/index.js", "dist/express/index.d.ts", "package.json"]) {
      assert.ok(files.includes(expected), `the tarball holds ${expected}`);
    }
    assert.ok(!files.some((f) => f.startsWith("test/")), "tests are not shipped");
    const protocol = await pack(PROTOCOL_DIR, work);
    for (const expected of ["dist/index.js", "dist/index.d.ts", "dist/contract.js", "dist/contract.d.ts", "dist/gen/stateward/v1/session_state.js", "package.json"]) {
      assert.ok(protocol.files.includes(expected), `the protocol tarball holds ${expected}`);
    }
    assert.ok(!protocol.files.includes("dist/.tsbuildinfo"), "the build info is not shipped");

    const project = path.join(work, "app");
    await run("mkdir", ["-p", project]);
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, version: "1.0.0" }, null, 2));
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify(
        {
          compilerOptions: {
            target: "ES2022",
            module: "Node16",
            moduleResolution: "Node16",
            strict: true,
            noUncheckedIndexedAccess: true,
            esModuleInterop: true,
            skipLibCheck: false,
            types: ["node"],
            outDir: "dist",
          },
          files: ["consumer.ts", "quickstart-node.mts", "quickstart-express.mts"],
        },
        null,
        2,
      ),
    );
    copyFileSync(path.join(__dirname, "consumer-program.ts.txt"), path.join(project, "consumer.ts"));
    const server = await r().server();
    const nodeQuickStart = readmeBlock("## Quick start: a Node service");
    assert.ok(nodeQuickStart.includes('"127.0.0.1:42424"'));
    writeFileSync(path.join(project, "quickstart-node.mts"), nodeQuickStart.replace('"127.0.0.1:42424"', JSON.stringify(server.address)));
    writeFileSync(path.join(project, "quickstart-express.mts"), readmeBlock("## Quick start: an Express app"));
    await npm(
      [
        "install",
        "--prefer-offline",
        // Both tarballs in one install: the SDK's dependency on @stateward/protocol 0.1.0 is met
        // by the local one instead of the registry.
        protocol.tarball,
        tarball,
        "express@^5",
        "express-session@^1.18",
        "@types/express-session@^1.18",
        "@types/express@^5",
        "typescript@~5.9",
        "@types/node@^20",
      ],
      project,
    );

    await run(path.join(project, "node_modules", ".bin", "tsc"), ["-p", project], { cwd: project });

    const { stdout } = await run(process.execPath, [path.join(project, "dist", "consumer.js"), server.address], { cwd: project, timeout: 30_000 });
    assert.match(stdout, /consumer ok \(version 2\)/);
    // The Node quick start, as ESM: named imports from the CommonJS build work.
    const quick = await run(process.execPath, [path.join(project, "dist", "quickstart-node.mjs")], { cwd: project, timeout: 30_000 });
    assert.match(quick.stdout, /^\["book"\] 2n\n$/, "created (version 1), then written (version 2)");
  });
});
