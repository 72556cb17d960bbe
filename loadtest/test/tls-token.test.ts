/**
 * The `tls-token` security mode end to end: the tool makes certificates, a token and an auth file,
 * starts the server with --tls-cert, --tls-key and --auth-file, and loads it over TLS with the
 * token as call credentials, unary and pipelined; a wrong token and a plaintext client fail every
 * request (counted by status, nothing hangs), and the material is deleted with the server. Needs
 * the server built (`npx tsc -b`), as `make test` does before running mocha.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { parseCliArgs } from "../src/args";
import { RunContext, type LoadTarget } from "../src/run-context";
import { runSessionScenario } from "../src/session-scenario";

function materialDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith("stateward-loadtest-tls-"));
}

describe("--security tls-token", function () {
  this.timeout(30_000);

  it("loads a TLS + token server unary and pipelined, and a wrong token or plaintext fails every request", async () => {
    const before = new Set(materialDirs());
    const options = parseCliArgs(["get", "--security", "tls-token", "--duration", "1s", "--warmup", "0s", "--pool", "20", "-c", "4", "--no-progress"]);
    const context = new RunContext(options, { enabled: false, stream: process.stderr });
    try {
      const target = await context.stateward();
      const security = target.security;
      assert.ok(security !== undefined && security.caPem.includes("BEGIN CERTIFICATE") && security.token.length >= 43);
      assert.equal(materialDirs().filter((name) => !before.has(name)).length, 1);

      for (const transport of ["unary", "pipeline"] as const) {
        const run = await runSessionScenario(context.withOptions({ transport }), "get", "stateward", target);
        assert.deepEqual(run.errors, {}, transport);
        assert.ok((run.outcomes.OK ?? 0) > 0 && run.completed === run.outcomes.OK, `${transport}: ${JSON.stringify(run.outcomes)}`);
        assert.equal(run.id, `get-stateward-node-${transport}-tls-token`);
        assert.match(run.command, /--security tls-token/);
        // The report never holds the secret.
        assert.ok(!JSON.stringify(run).includes(security.token), `${transport}: the token is in the report`);
      }

      const counted = context.withOptions({ requests: 40, durationMs: 10_000 });
      const wrongToken: LoadTarget = { ...target, security: { ...security, token: "not-the-token" } };
      const unary = await runSessionScenario(counted, "get", "stateward", wrongToken);
      assert.deepEqual(unary.errors, { UNAUTHENTICATED: 40 });
      assert.deepEqual(unary.outcomes, {});
      // The SDK's PipelineClient reports a refused stream as UNAVAILABLE ("the pipeline stream failed"):
      // every operation fails, none succeeds.
      const pipelined = await runSessionScenario(counted.withOptions({ transport: "pipeline" }), "get", "stateward", wrongToken);
      assert.equal(Object.values(pipelined.errors).reduce((sum, count) => sum + count, 0), 40, JSON.stringify(pipelined.errors));
      assert.deepEqual(pipelined.outcomes, {});
      // A plaintext client on the TLS port: the handshake never happens.
      const plaintext = await runSessionScenario(counted, "get", "stateward", { ...target, security: undefined });
      assert.deepEqual(plaintext.errors, { UNAVAILABLE: 40 });
    } finally {
      await context.stopAll();
    }
    assert.deepEqual(materialDirs().filter((name) => !before.has(name)), [], "the certificates, key and auth file outlive the server");
  });
});
