/**
 * No secret reaches what the server exports or writes (issue 12, item 4): the built `stateward
 * serve`, with the session hash key given as a flag, exports traces and metrics over OTLP/HTTP to a
 * receiver in the test and serves Prometheus; the raw bytes received, the scrape and everything
 * the process wrote must not contain the key, while they do contain the resource the key used to
 * leak through (`process.command_args`, with the flag and its value redacted). The same with the
 * key from STATEWARD_SESSION_HASH_KEY, and with a secret that an operator put into
 * OTEL_RESOURCE_ATTRIBUTES.
 */
import * as assert from "node:assert/strict";
import { GetRequest, SetRequest } from "../../client/ts/src";
import { SECRET_OPTIONS } from "../src/config";
import { redactArgs, redactValue, REDACTED } from "../src/telemetry/secret-redaction";
import { httpGet } from "./helpers/http-get";
import { spawnCli, stopCli, type CliProcess } from "./helpers/cli-process";
import { startOtlpReceiver, type OtlpReceiver } from "./helpers/otlp-receiver";
import { freePort, unary } from "./helpers/telemetry-test-kit";
import { newChannelClient, waitFor, withTimeout } from "./helpers/test-server";

const FLAG_KEY = "flag-key-SECRET-8c1f4e27a9";
const ENV_KEY = "env-key-SECRET-51d0b3c6e2";

describe("telemetry: secrets stay out of logs, spans, metrics and resources", function () {
  this.timeout(40_000);
  let receiver: OtlpReceiver | undefined;
  let cli: CliProcess | undefined;
  afterEach(async () => {
    if (cli !== undefined) await stopCli(cli).catch(() => cli?.child.kill("SIGKILL"));
    cli = undefined;
    receiver?.close();
    receiver = undefined;
  });

  /** Runs the built server with `args` and `env` plus OTLP export, drives a little traffic, stops it; returns what left it. */
  async function run(args: readonly string[], env: Record<string, string>): Promise<{ traces: Buffer; metrics: Buffer; scrape: string; logs: string }> {
    receiver = await startOtlpReceiver();
    const metricsPort = await freePort();
    cli = spawnCli(
      ["--port", "0", "--metrics-port", String(metricsPort), "--log-level", "debug", ...args],
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_TRACES_SAMPLER: "always_on",
        OTEL_BSP_SCHEDULE_DELAY: "100",
        OTEL_METRIC_EXPORT_INTERVAL: "200",
        OTEL_SERVICE_NAME: "stateward-secrets-test",
        ...env,
      },
      "built",
    );
    const port = await withTimeout(cli.port, 20_000, "the server to listen");
    const client = newChannelClient(`127.0.0.1:${port}`);
    try {
      await unary(client, client.set, SetRequest.fromPartial({ app: "shop", sessionId: "s1", data: Buffer.from("cart") }));
      await unary(client, client.get, GetRequest.fromPartial({ app: "shop", sessionId: "s1" }));
    } finally {
      client.close();
    }
    const received = receiver;
    await waitFor(() => received.bytes("/v1/traces").includes("stateward.v1.SessionState/Get") && received.bytes("/v1/metrics").length > 0, "OTLP exports", 20_000);
    const scraped = (await httpGet(metricsPort, "/metrics")).body;
    assert.equal(await stopCli(cli), 0, "clean exit on SIGTERM");
    const logs = cli.stderr() + cli.stdout();
    cli = undefined;
    return { traces: received.bytes("/v1/traces"), metrics: received.bytes("/v1/metrics"), scrape: scraped, logs };
  }

  function assertNoSecret(output: { traces: Buffer; metrics: Buffer; scrape: string; logs: string }, secrets: readonly string[]): void {
    for (const secret of secrets) {
      assert.ok(!output.traces.includes(secret), `the key is in the exported traces`);
      assert.ok(!output.metrics.includes(secret), `the key is in the exported metrics`);
      assert.ok(!output.scrape.includes(secret), `the key is in the Prometheus scrape`);
      assert.ok(!output.logs.includes(secret), `the key is in the process's output: ${output.logs}`);
    }
  }

  it("given as a flag (and another in the environment): neither is exported or logged, the command line still is", async () => {
    const output = await run(["--session-hash-key", FLAG_KEY], { STATEWARD_SESSION_HASH_KEY: ENV_KEY });
    // What would carry the key if it leaked: the resource of both signals, with the command line.
    for (const [signal, bytes] of [["traces", output.traces], ["metrics", output.metrics]] as const) {
      assert.ok(bytes.includes("service.name"), `${signal}: the resource is exported`);
      assert.ok(bytes.includes("stateward-secrets-test"), `${signal}: OTEL_SERVICE_NAME names the service`);
      assert.ok(bytes.includes("process.command_args"), `${signal}: the command line is exported`);
      assert.ok(bytes.includes("--session-hash-key"), `${signal}: ... with the flag`);
      assert.ok(bytes.includes(REDACTED), `${signal}: ... and its value redacted`);
    }
    // The key is in use: spans carry the pseudonym made with it.
    assert.ok(output.traces.includes("stateward.session.hash"));
    assert.match(output.logs, /"msg":"stateward listening"/);
    assertNoSecret(output, [FLAG_KEY, ENV_KEY]);
  });

  it("given in the environment, or put into OTEL_RESOURCE_ATTRIBUTES by mistake: not exported or logged either", async () => {
    const output = await run([], { STATEWARD_SESSION_HASH_KEY: ENV_KEY, OTEL_RESOURCE_ATTRIBUTES: `deployment.note=key ${ENV_KEY} here` });
    assert.ok(output.traces.includes("stateward.session.hash"), "the key from the environment is in use");
    assert.ok(output.traces.includes("deployment.note"), "the operator's resource attribute is exported");
    assert.ok(output.traces.includes(`key ${REDACTED} here`), "... with the secret in it redacted");
    assertNoSecret(output, [ENV_KEY]);
  });
});

describe("telemetry: secret redaction", function () {
  it("marks the session hash key as a secret option, by flag, variable and configuration key", () => {
    assert.deepEqual(
      SECRET_OPTIONS.find((option) => option.flag === "--session-hash-key"),
      { key: "sessionHashKey", flag: "--session-hash-key", env: "STATEWARD_SESSION_HASH_KEY" },
    );
  });

  it("redacts the value after a secret flag, in both forms, and nothing else", () => {
    const flags = ["--session-hash-key", "--redis-password"];
    assert.deepEqual(
      redactArgs(["node", "cli.js", "serve", "--port", "1", "--session-hash-key", "k1", "--redis-password=p2", "--log-level", "info"], flags),
      ["node", "cli.js", "serve", "--port", "1", "--session-hash-key", REDACTED, `--redis-password=${REDACTED}`, "--log-level", "info"],
    );
    assert.deepEqual(redactArgs(["--session-hash-keyring", "x"], flags), ["--session-hash-keyring", "x"], "only the flag itself");
  });

  it("redacts secret values inside strings, arrays and maps", () => {
    assert.deepEqual(redactValue({ a: ["x s3cr3t y", 1], b: "s3cr3t" }, ["s3cr3t"]), { a: [`x ${REDACTED} y`, 1], b: REDACTED });
    assert.equal(redactValue("nothing here", ["s3cr3t"]), "nothing here");
  });
});
