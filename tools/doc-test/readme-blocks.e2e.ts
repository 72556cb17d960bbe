/**
 * The READMEs' code runs as pasted, against the artifacts of `make dist`: every block marked
 * runnable (see markdown-blocks.ts) is saved into fresh projects outside the repository — made
 * with `npm init -y`, `python3 -m venv`, `go mod init`, the client installed by the README's own
 * install lines from dist/ — and run against a real server started from the built CLI on
 * 127.0.0.1 (a free port, put where the README says 127.0.0.1:42424): a plain one, one with TLS
 * and a token (`server=tls`), or the one a README walkthrough's own shell blocks configure
 * (`server=<walkthrough>`). Its output must be what the README says it prints.
 *
 * Needs `make dist` and `make build` first; `make test-dist` does both and runs this file.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { startServerProcess } from "../../server/test/fault/server-process";
import { planDocTests } from "./doc-test-plan";
import { ServerRecipes } from "./doc-test-servers";
import { createProject, runProgram, startProgram, where, type FreshProject } from "./fresh-project";
import { parseMarkdownBlocks } from "./markdown-blocks";
import { acceptsConnections, freeLoopbackPort, otherLocalAddresses } from "./processes";

const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** The client READMEs, each starting with its install lines (dist/, then the registry). */
const CLIENT_READMES: Readonly<Record<string, string>> = {
  "client/ts/README.md": "npm install @stateward/client",
  "client/python/README.md": "pip install stateward-client",
  "client/go/README.md": "go get github.com/stateward/stateward/client/go/stateward",
};
/** Every README whose code the doc-test covers, in the order their projects are set up. */
const READMES = [...Object.keys(CLIENT_READMES), "README.md", "loadtest/README.md"];

const parsed = READMES.map((file) => parseMarkdownBlocks(file, readFileSync(path.join(REPO_ROOT, file), "utf8")));
const plan = planDocTests(parsed);

describe("README code runs as pasted, installed from dist/ into fresh projects", function () {
  this.timeout(600_000);
  let work = "";
  let recipes: ServerRecipes | undefined;

  before(function () {
    if (!existsSync(path.join(REPO_ROOT, "dist")) || !existsSync(path.join(REPO_ROOT, "server", "dist", "cli.js"))) {
      throw new Error("dist/ or the built CLI is missing: run `make test-dist` (it runs make dist and make build)");
    }
    work = mkdtempSync(path.join(tmpdir(), "stateward-doctest-"));
    recipes = new ServerRecipes(work, REPO_ROOT);
  });
  after(() => {
    if (work !== "") rmSync(work, { recursive: true, force: true });
  });

  it("every code block says whether it runs, and the markers agree with each other", () => {
    assert.deepEqual(plan.errors, []);
  });

  it("each client README starts with the install line for dist/, then the one for the registry", () => {
    for (const [file, registryLine] of Object.entries(CLIENT_READMES)) {
      const blocks = parsed.find((p) => p.blocks[0]?.source === file)?.blocks ?? [];
      assert.equal(blocks[0]?.marker?.verb, "install", `${file}: the first code block installs from dist/`);
      const second = blocks[1];
      assert.equal(second?.marker?.verb, "skip", `${file}: the second block is the registry's install line, not run`);
      assert.ok(second.code.includes(registryLine), `${file}: the second block says \`${registryLine}\``);
    }
  });

  for (const project of plan.projects) {
    const programs = plan.programs.filter((p) => p.lang === project.lang);
    describe(`${project.lang} project "${project.name}" (installed by ${project.installs.map(where).join(", ")})`, () => {
      let fresh: FreshProject | undefined;
      before(async () => {
        fresh = await createProject(project, path.join(work, `${project.lang}-${project.name}`), REPO_ROOT);
      });

      for (const program of programs) {
        it(`${where(program.block)}: ${program.file}`, async () => {
          assert.ok(fresh && recipes, "the project was set up");
          // A fresh server per program: each README program assumes it is the first client.
          const recipe = await recipes.for(program.server);
          const server = await startServerProcess(recipe.flags, recipe.serverEnv, recipe.cwd);
          try {
            if (!program.serves) {
              const { stdout } = await runProgram(fresh, program, REPO_ROOT, server.address, recipe.programEnv);
              if (program.output) assert.equal(stdout.trimEnd(), program.output.code.trimEnd(), `${program.file} prints what ${where(program.output)} says`);
              return;
            }
            const port = await freeLoopbackPort();
            const started = await startProgram(fresh, program, REPO_ROOT, server.address, port);
            try {
              assert.ok(await acceptsConnections("127.0.0.1", port), `${program.file} listens on 127.0.0.1:${port}`);
              // The README's servers listen on loopback only, not on every interface.
              for (const host of otherLocalAddresses()) {
                assert.equal(await acceptsConnections(host, port), false, `${program.file} listens on ${host}:${port} too: it must bind 127.0.0.1 only`);
              }
              for (const step of program.serves.steps) {
                const { stdout } = await started.step(step.block);
                if (step.output) assert.equal(stdout.trimEnd(), step.output.code.trimEnd(), `${step.file} prints what ${where(step.output)} says\n${started.output()}`);
              }
            } finally {
              await started.stop();
            }
          } finally {
            await server.stop();
          }
        });
      }
    });
  }
});
