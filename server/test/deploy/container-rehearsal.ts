/**
 * A rehearsal of deploy/Containerfile's runtime stage on this machine, for where Docker is not
 * available (`make test-deploy-container`; not in the default mocha run, as it installs packages).
 *
 * The build stage is this checkout after `make build` (its `npx tsc -b server`) plus the stage's
 * production install, which is run as written with `/prod` moved into a temporary directory. The
 * runtime stage's COPY instructions are then carried out into a temporary root, and the server is
 * started from ENTRYPOINT and CMD inside it, with the stage's ENV: so it proves that the files the
 * image holds are enough to serve (no dev dependency needed, proto/ found by reflection, the
 * configuration file where CMD looks), and that the HEALTHCHECK command passes against it and
 * fails once it stopped. Only the addresses are changed: loopback and free ports instead of
 * 0.0.0.0:42424 and :8080, which this shared machine may not offer.
 */
import * as assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { GetRequest, Outcome, SetRequest } from "../../../client/ts/src";
import { copiedTo, copiesOf, execForm, instructionsOf, readContainerfile, workdirOf, type Stage } from "../helpers/containerfile";
import { freePort, unary } from "../helpers/telemetry-test-kit";
import { newChannelClient, withTimeout } from "../helpers/test-server";

const run = promisify(execFile);
const REPO = path.resolve(__dirname, "../../..");

function required<T>(value: T | undefined, what: string): T {
  assert.ok(value !== undefined, what);
  return value;
}

/** ENV instructions as variables (`KEY=value` pairs). */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of instructionsOf(stage, "ENV")) {
    for (const pair of instruction.args.split(/\s+/)) {
      const [key, value] = pair.split("=", 2);
      env[required(key, "ENV key")] = required(value, `ENV ${pair} has the KEY=value form`);
    }
  }
  return env;
}

describe("deploy/Containerfile, runtime stage rehearsed without Docker", function () {
  this.timeout(180_000);
  const file = readContainerfile(path.join(REPO, "deploy/Containerfile"));
  const build = required(file.stages.find((stage) => stage.name === "build"), "the build stage");
  const runtime = required(file.stages[file.stages.length - 1], "the runtime stage");
  let tmp: string;
  let root: string;
  let server: ChildProcess | undefined;

  before(async () => {
    assert.ok(existsSync(path.join(REPO, "server/dist/cli.js")), "server/dist is built (make build)");
    tmp = mkdtempSync(path.join(os.tmpdir(), "stateward-image-"));
    root = path.join(tmp, "root");
    // The build stage's production install, as written, into the temporary directory.
    const prodRuns = instructionsOf(build, "RUN").filter((instruction) => /(^|\s)\/prod\b/.test(instruction.args));
    assert.equal(prodRuns.length, 1, "one RUN makes /prod");
    const command = required(prodRuns[0], "the /prod RUN").args.replace(/(^|\s)\/prod\b/g, `$1${path.join(tmp, "prod")}`);
    await run("sh", ["-c", command], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });

    // The runtime stage's COPY instructions into the root.
    const buildDir = workdirOf(build);
    for (const copy of copiesOf(runtime)) {
      for (const source of copy.sources) {
        let from: string;
        if (copy.from === undefined) from = path.join(REPO, source);
        else if (source.startsWith("/prod/") || source === "/prod") from = path.join(tmp, source);
        else from = path.join(REPO, path.posix.relative(buildDir, source));
        assert.ok(existsSync(from), `line ${copy.line}: ${source} (${from}) exists`);
        const directory = statSync(from).isDirectory();
        const to = path.join(root, copiedTo(copy, source, directory, workdirOf(runtime)));
        mkdirSync(directory ? to : path.dirname(to), { recursive: true });
        // verbatimSymlinks: the workspace links in node_modules stay relative, as in the image.
        cpSync(from, to, { recursive: true, verbatimSymlinks: true });
      }
    }
  });

  after(() => {
    if (server !== undefined && server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  /** ENTRYPOINT + CMD (or `args` instead of CMD), paths of the image mapped into the root. */
  function command(args?: readonly string[]): { program: string; args: string[] } {
    const inRoot = (arg: string): string => (arg.startsWith("/") && existsSync(path.join(root, arg)) ? path.join(root, arg) : arg);
    const entrypoint = execForm(required(instructionsOf(runtime, "ENTRYPOINT")[0], "ENTRYPOINT").args);
    const cmd = args ?? execForm(required(instructionsOf(runtime, "CMD")[0], "CMD").args);
    const [program, ...rest] = [...entrypoint, ...cmd].map(inRoot);
    return { program: required(program, "a program"), args: rest };
  }

  /** The environment of the image: PATH (for node) and the stage's ENV, nothing of this process's STATEWARD_*. */
  function imageEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH ?? "", HOME: tmp, ...envOf(runtime), ...extra };
  }

  /** Runs the HEALTHCHECK command pointed at `port`; resolves with its exit status. */
  async function healthcheck(port: number): Promise<number> {
    const instruction = required(instructionsOf(runtime, "HEALTHCHECK")[0], "HEALTHCHECK");
    const [program, ...args] = execForm(instruction.args.slice(instruction.args.indexOf("[")));
    const retargeted = args.map((arg) => arg.replace(/(http:\/\/127\.0\.0\.1:)\d+\//, `$1${port}/`));
    return new Promise((resolve) => {
      execFile(required(program, "the HEALTHCHECK program"), retargeted, { env: imageEnv(), timeout: 10_000 }, (error) => {
        resolve(error === null ? 0 : typeof error.code === "number" ? error.code : -1);
      });
    });
  }

  it("holds the production dependencies only", () => {
    const modules = path.join(root, workdirOf(runtime), "node_modules");
    for (const needed of ["@grpc/grpc-js", "@grpc/reflection", "pino", "smol-toml", "@stateward/protocol"]) {
      assert.ok(existsSync(path.join(modules, needed)), `${needed} is installed`);
    }
    for (const dev of ["typescript", "mocha", "tsx", "eslint", "@bufbuild/buf"]) assert.ok(!existsSync(path.join(modules, dev)), `${dev} is not`);
  });

  it("prints the package version with --version", async () => {
    const { program, args } = command(["--version"]);
    const { stdout } = await run(program, args, { env: imageEnv(), cwd: path.join(root, workdirOf(runtime)) });
    const manifest = JSON.parse(readFileSync(path.join(REPO, "server/package.json"), "utf8")) as { version: string };
    assert.equal(stdout, `stateward ${manifest.version}\n`);
  });

  it("serves from ENTRYPOINT and CMD with the baked-in configuration; HEALTHCHECK passes while it serves and fails once it stopped", async () => {
    const [port, healthPort] = [await freePort(), await freePort()];
    const { program, args } = command();
    const child = spawn(program, args, {
      cwd: path.join(root, workdirOf(runtime)),
      env: imageEnv({ STATEWARD_HOST: "127.0.0.1", STATEWARD_PORT: String(port), STATEWARD_HEALTH_PORT: String(healthPort) }),
      stdio: ["ignore", "ignore", "pipe"],
    });
    server = child;
    let log = "";
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const listening = new Promise<void>((resolve, reject) => {
      child.stderr?.on("data", (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('"msg":"stateward listening"')) resolve();
      });
      void exited.then((code) => reject(new Error(`the server exited (${String(code)}): ${log}`)));
    });
    await withTimeout(listening, 30_000, `the server to listen: ${log}`);
    assert.match(log, new RegExp(`"healthPort":${healthPort}`));

    assert.equal(await healthcheck(healthPort), 0, "HEALTHCHECK passes while serving");
    const client = newChannelClient(`127.0.0.1:${port}`);
    try {
      await unary(client, client.set, SetRequest.fromPartial({ app: "image", sessionId: "rehearsal", data: Buffer.from("ok") }));
      const read = await unary(client, client.get, GetRequest.fromPartial({ app: "image", sessionId: "rehearsal" }));
      assert.equal(read.outcome, Outcome.OUTCOME_OK);
      assert.equal(Buffer.from(read.data).toString(), "ok");
    } finally {
      client.close();
    }

    child.kill("SIGTERM");
    assert.equal(await withTimeout(exited, 15_000, "the server to stop on SIGTERM"), 0);
    assert.notEqual(await healthcheck(healthPort), 0, "HEALTHCHECK fails once the server stopped");
  });
});
