/**
 * A port that is taken (issue 12, item 7): the built `stateward` command says so in one line that
 * names the flag to change, and exits non-zero, with no grpc-js error dump and no log lines.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import * as path from "node:path";

const REPO_ROOT = path.resolve(__dirname, "../..");
const STATEWARD = path.join(REPO_ROOT, "server", "bin", "stateward");

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built command (with no STATEWARD_* variables) until it exits. */
function runStateward(args: readonly string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("STATEWARD_") && !key.startsWith("OTEL_")) env[key] = value;
  return new Promise((resolve) => {
    execFile(STATEWARD, args, { env, timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("a port in use (the built stateward command)", () => {
  let holder: net.Server | undefined;
  let taken = 0;

  before(() => {
    assert.ok(existsSync(path.join(REPO_ROOT, "server", "dist", "cli.js")), "server/dist/cli.js is missing: run `npm run build` (make test does)");
  });

  beforeEach(async () => {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    holder = server;
    const address = server.address();
    assert.ok(address !== null && typeof address === "object");
    taken = address.port;
  });

  afterEach(async () => {
    const server = holder;
    holder = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("--port: one line on stderr naming the port and --port, exit code 1, nothing on stdout", async () => {
    const run = await runStateward(["serve", "--host", "127.0.0.1", "--port", String(taken)]);
    assert.equal(run.stderr, `stateward: port ${taken} is in use; pick another with --port\n`);
    assert.equal(run.stdout, "");
    assert.equal(run.code, 1);
  });

  it("--metrics-port: one line on stderr naming the port and --metrics-port, exit code 1", async () => {
    const run = await runStateward(["serve", "--host", "127.0.0.1", "--port", "0", "--metrics-port", String(taken)]);
    assert.equal(run.stderr, `stateward: port ${taken} is in use; pick another with --metrics-port\n`);
    assert.equal(run.stdout, "");
    assert.equal(run.code, 1);
  });
});
