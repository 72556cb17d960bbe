/**
 * The security commands and rules as an operator meets them, through the built `stateward`
 * command: `token create` mints a credential that works as printed, and the remote-access rule
 * refuses each insecure remote start with its message, while `--insecure-remote` starts with a
 * warning.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import { REPO_ROOT, runBuiltCli, spawnCli, stopCli } from "./helpers/cli-process";
import { SecureKit, unaryCall } from "./helpers/secure-server";
import { makeTestCertificates, type TestCertificates } from "./helpers/test-certificates";
import { waitFor } from "./helpers/test-server";

describe("stateward token create", function () {
  this.timeout(30_000);
  let certs: TestCertificates;
  before(() => {
    assert.ok(existsSync(path.join(REPO_ROOT, "server/dist/cli.js")), "server/dist/cli.js is built (npm run build; make test does)");
    certs = makeTestCertificates();
  });
  after(() => certs.remove());

  it("prints a 256-bit base64url token, then its auth file entry as one JSON object, and nothing else", async () => {
    const result = await runBuiltCli(["token", "create", "--name", "shop-web"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^note: the entry allows apps \["\*"\] with access read-write; narrow it with --app and --access/);
    const lines = result.stdout.split("\n");
    assert.equal(lines.length, 3, "two lines and the final newline");
    const [token, entry] = lines as [string, string];
    assert.match(token, /^[A-Za-z0-9_-]{43,}$/);
    assert.ok(Buffer.from(token, "base64url").length >= 32, "at least 256 bits");
    assert.deepEqual(JSON.parse(entry), {
      name: "shop-web",
      token_sha256: createHash("sha256").update(token, "utf8").digest("hex"),
      apps: ["*"],
      access: "read-write",
    });
    const again = await runBuiltCli(["token", "create", "--name", "shop-web"]);
    assert.notEqual(again.stdout.split("\n")[0], token, "every token is new");
  });

  it("takes --app (repeated) and --access, and refuses what the auth file would refuse", async () => {
    const result = await runBuiltCli(["token", "create", "--name", "reports", "--app", "shop", "--app", "blog", "--access", "read-only"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "", "nothing to note when both were given");
    assert.deepEqual(JSON.parse(result.stdout.split("\n")[1] ?? ""), {
      name: "reports",
      token_sha256: createHash("sha256").update(result.stdout.split("\n")[0] ?? "", "utf8").digest("hex"),
      apps: ["shop", "blog"],
      access: "read-only",
    });
    for (const [args, message] of [
      [[], /--name NAME is required/],
      [["--name", "x", "--access", "admin"], /field "access" must be "read-only" .* or "read-write"/],
      [["--name", "x", "--bogus"], /Unknown option '--bogus'/],
      [["--name", "has space"], /^stateward token create: field "name" must be a string of 1 to 128 visible ASCII characters/],
    ] as const) {
      const refused = await runBuiltCli(["token", "create", ...args]);
      assert.equal(refused.code, 2, args.join(" "));
      assert.equal(refused.stdout, "");
      assert.match(refused.stderr, message);
    }
  });

  it("mints a credential that works as printed: the entry into the auth file, the token to the client", async () => {
    const minted = await runBuiltCli(["token", "create", "--name", "shop-web", "--app", "shop"]);
    const [token, entry] = minted.stdout.split("\n") as [string, string];
    const dir = mkdtempSync(path.join(os.tmpdir(), "stateward-token-"));
    const kit = new SecureKit(certs);
    try {
      const authFile = path.join(dir, "auth.json");
      writeFileSync(authFile, `{ "principals": [ ${entry} ] }\n`);
      const server = await kit.server([...kit.tlsFlags(false), "--auth-file", authFile]);
      await unaryCall(kit.client(server.address, { token }), "get", { app: "shop", sessionId: "s", waitMs: 0 });
      const other = await unaryCall(kit.client(server.address, { token }), "get", { app: "blog", sessionId: "s", waitMs: 0 }).catch((e: ServiceError) => e);
      assert.equal((other as ServiceError).code, status.PERMISSION_DENIED);
    } finally {
      await kit.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the remote-access rule", function () {
  this.timeout(30_000);

  it("refuses a non-loopback address without TLS, without an auth file, or without both, saying which and how (exit 2)", async () => {
    const tls = ["--tls-cert", "/etc/s.pem", "--tls-key", "/etc/s.key"];
    const cases: [readonly string[], RegExp[], RegExp[]][] = [
      [[], [/both are missing/, /add --tls-cert FILE --tls-key FILE/, /add --auth-file FILE/, /--insecure-remote/], []],
      [tls, [/this one is missing\. Missing an auth file: add --auth-file FILE \(STATEWARD_AUTH_FILE\)/, /stateward token create --name NAME/], [/Missing TLS/]],
      [["--auth-file", "/etc/auth.json"], [/this one is missing\. Missing TLS: add --tls-cert FILE --tls-key FILE/], [/add --auth-file/]],
    ];
    for (const [args, present, absent] of cases) {
      const result = await runBuiltCli(["serve", "--host", "0.0.0.0", "--allow-remote", ...args]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /Refusing to listen on non-loopback address "0\.0\.0\.0"/);
      for (const pattern of present) assert.match(result.stderr, pattern);
      for (const pattern of absent) assert.doesNotMatch(result.stderr, pattern);
    }
    const noAllow = await runBuiltCli(["serve", "--host", "10.0.0.1", "--insecure-remote"]);
    assert.equal(noAllow.code, 2);
    assert.match(noAllow.stderr, /without --allow-remote/);
  });

  it("starts with --insecure-remote and logs the warning at every start", async () => {
    for (let start = 0; start < 2; start++) {
      const cli = spawnCli(["--host", "127.0.0.1", "--port", "0", "--insecure-remote"], {});
      try {
        await cli.port;
        await waitFor(() => cli.stderr().includes("--insecure-remote: serving without TLS and authentication"), "the warning");
        const warning = cli.stderr().split("\n").find((line) => line.includes("--insecure-remote"));
        assert.match(warning ?? "", /"level":40/);
        assert.match(warning ?? "", /read and change every session/);
      } finally {
        await stopCli(cli);
      }
    }
  });

  it("keeps loopback without TLS or auth the zero-configuration default (no warning)", async () => {
    const cli = spawnCli(["--host", "127.0.0.1", "--port", "0"], {});
    try {
      await cli.port;
      assert.doesNotMatch(cli.stderr(), /insecure/);
    } finally {
      await stopCli(cli);
    }
  });
});
