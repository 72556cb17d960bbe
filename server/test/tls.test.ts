/**
 * Transport security against a real server: TLS only on the gRPC port, mutual TLS, certificates the
 * clients refuse, health open and reflection behind a principal (checked with grpcurl and
 * grpc-health-probe, the tools users have), HTTPS and authentication on the metrics port, and
 * files refused at start.
 */
import * as assert from "node:assert/strict";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { resolveConfig, startServer } from "../src/index";
import { GRPCURL, HEALTH_PROBE, tool } from "./helpers/external-tools";
import { httpGet } from "./helpers/http-get";
import { freePort } from "./helpers/telemetry-test-kit";
import { newToken, refusal, SecureKit, tokenEntry, unaryCall, writeAuthFile } from "./helpers/secure-server";
import { makeTestCertificates, type TestCertificates } from "./helpers/test-certificates";

const GET = { app: "shop", sessionId: "s1", waitMs: 0 };


describe("TLS and mutual TLS", function () {
  this.timeout(30_000);
  let certs: TestCertificates;
  let kit: SecureKit;
  const token = newToken();
  let authFile: string;

  before(() => {
    certs = makeTestCertificates(["web-01.example"]);
    authFile = path.join(certs.dir, "auth.json");
    writeAuthFile(authFile, [
      tokenEntry("shop-web", token, ["shop"], "read-write"),
      { name: "web-mtls", client_cert_cn: "web-01.example", apps: ["shop"], access: "read-write" },
    ]);
  });
  after(() => certs.remove());
  beforeEach(() => {
    kit = new SecureKit(certs);
  });
  afterEach(() => kit.close());

  it("speaks TLS only: a TLS client is served, a plaintext client on the same port fails", async () => {
    const server = await kit.server(kit.tlsFlags(false));
    assert.equal(server.tls, true);
    await unaryCall(kit.client(server.address, {}), "get", GET);
    const error = await refusal(unaryCall(kit.client(server.address, { plaintext: true }), "get", GET, 2000));
    assert.ok(error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED, `got ${status[error.code]}: ${error.details}`);
  });

  it("mutual TLS: a certificate from the CA is served; another CA's certificate, or none, fails the handshake", async () => {
    const server = await kit.server(kit.tlsFlags(true));
    await unaryCall(kit.client(server.address, { certificate: "client-web-01.example" }), "get", GET);
    for (const identity of [{ certificate: "other-client" }, {}]) {
      const error = await refusal(unaryCall(kit.client(server.address, identity), "get", GET, 2000));
      assert.ok(error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED, `${JSON.stringify(identity)}: got ${status[error.code]}`);
    }
  });

  it("clients refuse an expired server certificate and a server certificate from a CA they do not trust", async () => {
    const expired = await kit.server(["--tls-cert", certs.file("expired.pem"), "--tls-key", certs.file("expired.key")]);
    const error = await refusal(unaryCall(kit.client(expired.address, {}), "get", GET, 2000));
    assert.equal(error.code, status.UNAVAILABLE, error.details);
    const valid = await kit.server(kit.tlsFlags(false));
    const untrusting = await refusal(unaryCall(kit.client(valid.address, { ca: certs.read("other-ca.pem") }), "get", GET, 2000));
    assert.equal(untrusting.code, status.UNAVAILABLE, untrusting.details);
  });

  it("keeps health open without credentials and puts reflection behind a principal (grpc-health-probe, grpcurl)", async () => {
    const server = await kit.server([...kit.tlsFlags(true), "--auth-file", authFile]);
    const tlsArgs = ["-cacert", certs.file("ca.pem"), "-cert", certs.file("client-web-01.example.pem"), "-key", certs.file("client-web-01.example.key")];
    const probe = await tool(HEALTH_PROBE, [
      "-addr",
      server.address,
      "-tls",
      "-tls-ca-cert",
      certs.file("ca.pem"),
      "-tls-client-cert",
      certs.file("client-web-01.example.pem"),
      "-tls-client-key",
      certs.file("client-web-01.example.key"),
      "-tls-server-name",
      "localhost",
    ]);
    assert.equal(probe.code, 0, probe.output);
    assert.match(probe.output, /status: SERVING/);

    // The certificate names a principal: reflection answers.
    const listed = await tool(GRPCURL, [...tlsArgs, "-servername", "localhost", server.address, "list"]);
    assert.equal(listed.code, 0, listed.output);
    assert.match(listed.output, /stateward\.v1\.SessionState/);
    // A wrong token is not saved by the certificate: the caller meant the token.
    const wrong = await tool(GRPCURL, [...tlsArgs, "-servername", "localhost", "-H", `authorization: Bearer ${newToken()}`, server.address, "list"]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.output, /Unauthenticated/);
    assert.doesNotMatch(wrong.output, /Bearer [A-Za-z0-9_-]{20,}/, "the token is not echoed");
  });

  it("refuses reflection without a credential (TLS only, the token as grpcurl sends it)", async () => {
    const server = await kit.server([...kit.tlsFlags(false), "--auth-file", authFile]);
    const args = ["-cacert", certs.file("ca.pem"), "-servername", "localhost"];
    const anonymous = await tool(GRPCURL, [...args, server.address, "list"]);
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.output, /Unauthenticated/);
    const called = await tool(GRPCURL, [...args, "-H", `authorization: Bearer ${token}`, "-d", '{"app":"shop","session_id":"s1"}', server.address, "stateward.v1.SessionState/Get"]);
    assert.equal(called.code, 0, called.output);
    assert.match(called.output, /OUTCOME_NOT_FOUND/);
  });

  it("serves /metrics over HTTPS to principals only, and the health checks to anyone", async () => {
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const server = await kit.server([...kit.tlsFlags(false), "--auth-file", authFile, "--metrics-port", String(metricsPort), "--health-port", String(healthPort)]);
    const ca = certs.read("ca.pem");
    const port = server.metricsPort as number;
    const anonymous = await httpGet(port, "/metrics", { ca });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.body, /requires credentials/);
    const unknown = await httpGet(port, "/metrics", { ca, headers: { authorization: `Bearer ${newToken()}` } });
    assert.equal(unknown.status, 401);
    const scraped = await httpGet(port, "/metrics", { ca, headers: { authorization: `Bearer ${token}` } });
    assert.equal(scraped.status, 200);
    assert.match(scraped.body, /stateward_auth_failures_total\{stateward_reason="missing_credential"\} 1/);
    assert.match(scraped.body, /stateward_auth_failures_total\{stateward_reason="unknown_token"\} 1/);
    assert.equal((await httpGet(port, "/readyz", { ca })).status, 200);
    assert.equal((await httpGet(server.healthPort as number, "/healthz", { ca })).status, 200);
  });

  it("with mutual TLS and no auth file, serves /metrics to clients with a certificate from the CA only", async () => {
    const port = await freePort();
    const server = await kit.server([...kit.tlsFlags(true), "--metrics-port", String(port)]);
    const ca = certs.read("ca.pem");
    const anonymous = await httpGet(port, "/metrics", { ca });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.body, /requires a client certificate from the server's --tls-client-ca/);
    const other = await httpGet(port, "/metrics", { ca, cert: certs.read("other-client.pem"), key: certs.read("other-client.key") });
    assert.equal(other.status, 401, "a certificate from another CA is not one from --tls-client-ca");
    const scraped = await httpGet(port, "/metrics", { ca, cert: certs.read("client-web-01.example.pem"), key: certs.read("client-web-01.example.key") });
    assert.equal(scraped.status, 200);
    assert.match(scraped.body, /stateward_sessions /);
    assert.equal((await httpGet(port, "/readyz", { ca })).status, 200, "the health checks stay open");
    assert.ok(server.tls);
  });

  it("refuses to start on broken TLS files or an invalid auth file, naming the file, the entry and the field", async () => {
    const start = (flags: string[]): Promise<unknown> =>
      startServer(resolveConfig(["--host", "127.0.0.1", "--port", "0", "--log-level", "silent", ...flags], {}));
    await assert.rejects(start(["--tls-cert", certs.file("server.pem"), "--tls-key", certs.file("server-2.key")]), /--tls-key file ".*server-2\.key" does not match the certificate/);
    await assert.rejects(start(["--tls-cert", certs.file("ca.key"), "--tls-key", certs.file("server.key")]), /--tls-cert file ".*ca\.key" holds no PEM certificate/);
    await assert.rejects(start(["--tls-cert", certs.file("nope.pem"), "--tls-key", certs.file("server.key")]), /cannot read the TLS certificate and key ".*nope\.pem" \(ENOENT\)/);
    const bad = path.join(certs.dir, "bad-auth.json");
    writeAuthFile(bad, [tokenEntry("ok", newToken(), ["shop"], "read-write"), { name: "reports", token_sha256: "ABC", apps: ["shop"], access: "read-only" }]);
    await assert.rejects(start(["--auth-file", bad]), /auth file ".*bad-auth\.json": principals\[1\] \("reports"\): field "token_sha256" must be 64 lowercase hex digits/);
  });
});
