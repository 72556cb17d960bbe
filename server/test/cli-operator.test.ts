/**
 * The built `stateward` command as an operator runs it (server/bin/stateward, the launcher of
 * server/dist/cli.js): `--version`, and `serve --config` with a TOML file, its errors, and the
 * health check port it configures.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BUILT_STATEWARD as STATEWARD, cleanEnv, runBuiltCli as stateward } from "./helpers/cli-process";
import { httpGet } from "./helpers/http-get";
import { freePort } from "./helpers/telemetry-test-kit";
import { withTimeout } from "./helpers/test-server";

const REPO = path.resolve(__dirname, "../..");

describe("the stateward command (built)", () => {
  const version = (JSON.parse(readFileSync(path.join(REPO, "server/package.json"), "utf8")) as { version: string }).version;
  let dir: string;
  before(() => {
    assert.ok(existsSync(path.join(REPO, "server/dist/cli.js")), "server/dist/cli.js is built (npm run build; make test does)");
    dir = mkdtempSync(path.join(os.tmpdir(), "stateward-cli-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("prints `stateward <version>` of server/package.json for --version, -V and serve --version, and exits 0", async () => {
    for (const args of [["--version"], ["-V"], ["serve", "--version"], ["serve", "--port", "1", "-V"]]) {
      const result = await stateward(args);
      assert.deepEqual(result, { code: 0, stdout: `stateward ${version}\n`, stderr: "" }, args.join(" "));
    }
    const help = await stateward(["--help"]);
    assert.match(help.stdout, /stateward --version/);
    assert.match(help.stdout, /--config <file>/);
  });

  it("stops with exit status 2 and one message naming the key and the file when the configuration file is wrong", async () => {
    const file = path.join(dir, "wrong.toml");
    writeFileSync(file, "port = 5000\nmax-item-byte = 10\n");
    const result = await stateward(["serve", "--config", file]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `stateward: Unknown key "max-item-byte" in configuration file ${JSON.stringify(file)} (did you mean max-item-bytes?): the keys are the flags of "stateward serve --help" without the dashes.\n` +
        'Run "stateward serve --help" for the options.\n',
    );
    const fromEnv = await stateward(["serve"], { STATEWARD_CONFIG: path.join(dir, "absent.toml") });
    assert.equal(fromEnv.code, 2);
    assert.match(fromEnv.stderr, /^stateward: Cannot read the configuration file ".*absent\.toml" \(from STATEWARD_CONFIG\): ENOENT/);
  });

  it("serves with the options of the file, a variable winning over it, and answers /readyz on the health port it sets", async () => {
    const healthPort = await freePort();
    const file = path.join(dir, "stateward.toml");
    writeFileSync(file, ['host = "127.0.0.1"', "port = 0", `health-port = ${healthPort}`, "shards = 4", 'max-item-bytes = "2MiB"'].join("\n"));
    const child = spawn(STATEWARD, ["serve", "--config", file], { env: cleanEnv({ STATEWARD_MAX_ITEM_BYTES: "3MiB" }), stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          child.stderr.on("data", (chunk: Buffer) => {
            log += chunk.toString();
            if (log.includes('"msg":"stateward listening"')) resolve();
          });
          void exited.then((code) => reject(new Error(`exited ${String(code)}: ${log}`)));
        }),
        20_000,
        "the server to listen",
      );
      const listening = JSON.parse(log.split("\n").find((line) => line.includes('"msg":"stateward listening"')) ?? "{}") as Record<string, unknown>;
      assert.equal(listening.healthPort, healthPort, "health-port from the file");
      assert.equal(listening.shards, 4, "shards from the file");
      assert.equal(listening.maxItemBytes, 3 * 1024 * 1024, "STATEWARD_MAX_ITEM_BYTES won over the file's max-item-bytes");
      assert.equal((await httpGet(healthPort, "/readyz")).status, 200);
      assert.equal((await httpGet(healthPort, "/healthz")).status, 200);
      child.kill("SIGTERM");
      assert.equal(await withTimeout(exited, 15_000, "exit after SIGTERM"), 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
