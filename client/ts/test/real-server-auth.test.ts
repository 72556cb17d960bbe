/**
 * The SDK against the real server with TLS, mutual TLS and an auth file (issue 13): the options of
 * SessionClient, PipelineClient and channelCredentials reach it, and its refusals come back as
 * typed errors with its reasons on both transports. The fakes of tls-auth.test.ts cover what a
 * real server cannot show (handshake failures, what exactly is sent).
 */
import { once } from "node:events";
import { status } from "@grpc/grpc-js";
import { newToken, SecureKit, tokenEntry, writeAuthFile } from "../../../server/test/helpers/secure-server";
import { makeTestCertificates, type TestCertificates } from "../../../server/test/helpers/test-certificates";
import type { StartedServer } from "../../../server/src/index";
import { GetRequest, PipelineClient, SessionStateClient, StatewardError, WatchRequest, channelCredentials, type SessionClientOptions, type SessionEvent } from "../src";
import { assert, expectStatewardError, TRANSPORTS, useResources, withTimeout } from "./helpers";

const TOKENS = { shopWeb: newToken(), reports: newToken() };

describe("against the real server with TLS and an auth file", function () {
  const r = useResources();
  let certs: TestCertificates;
  let kit: SecureKit;
  let authFile: string;
  let tlsServer: StartedServer;
  let mutualServer: StartedServer;
  let plaintextServer: StartedServer;

  before(async () => {
    certs = makeTestCertificates(["web-01.example"]);
    kit = new SecureKit(certs);
    authFile = certs.file("auth.json");
    writeAuthFile(authFile, [
      tokenEntry("shop-web", TOKENS.shopWeb, ["shop"], "read-write"),
      tokenEntry("reports", TOKENS.reports, ["shop"], "read-only"),
      { name: "web-mtls", client_cert_cn: "web-01.example", apps: ["shop"], access: "read-write" },
    ]);
    tlsServer = await kit.server([...kit.tlsFlags(false), "--auth-file", authFile]);
    mutualServer = await kit.server([...kit.tlsFlags(true), "--auth-file", authFile]);
    // Loopback without TLS, with an auth file: local development.
    plaintextServer = await kit.server(["--auth-file", authFile]);
  });
  after(async () => {
    await kit.close();
    certs.remove();
  });

  const address = (server: StartedServer): string => `localhost:${server.port}`;
  const tls = (): NonNullable<SessionClientOptions["tls"]> => ({ rootCertsFile: certs.file("ca.pem") });

  for (const transport of TRANSPORTS) {
    describe(`[${transport}]`, () => {
      it("a read-write token writes and reads its app; another app is APP_NOT_ALLOWED", async () => {
        const client = r().client({ address: address(tlsServer), transport, tls: tls(), token: TOKENS.shopWeb });
        assert.equal((await client.set("shop", `rw-${transport}`, "cart")).outcome, "ok");
        const read = await client.get("shop", `rw-${transport}`);
        assert.equal(read.outcome === "ok" && read.data.toString(), "cart");
        const error = await expectStatewardError(client.get("blog", "s1"), status.PERMISSION_DENIED, "APP_NOT_ALLOWED");
        assert.deepEqual(error.metadata, { principal: "shop-web", app: "blog" });
      });

      it("a read-only token reads; its writes are READ_ONLY_PRINCIPAL, alone", async () => {
        const client = r().client({ address: address(tlsServer), transport, tls: tls(), token: TOKENS.reports });
        const [write, read] = await Promise.allSettled([client.set("shop", "ro", "x"), client.get("shop", "ro")]);
        assert.ok(read.status === "fulfilled", "the read beside the refused write succeeds");
        assert.ok(write.status === "rejected" && StatewardError.is(write.reason));
        assert.equal(write.reason.code, status.PERMISSION_DENIED);
        assert.equal(write.reason.reason, "READ_ONLY_PRINCIPAL");
        assert.deepEqual(write.reason.metadata, { principal: "reports", app: "shop", access: "read-only", required: "read-write" });
      });

      it("no token is MISSING_CREDENTIAL, an unknown one UNKNOWN_CREDENTIAL, without hanging or retrying", async () => {
        const anonymous = r().client({ address: address(tlsServer), transport, tls: tls() });
        await withTimeout(expectStatewardError(anonymous.get("shop", "s1"), status.UNAUTHENTICATED, "MISSING_CREDENTIAL"), 5000);
        await withTimeout(expectStatewardError(anonymous.get("shop", "s1"), status.UNAUTHENTICATED, "MISSING_CREDENTIAL"), 5000);
        const unknown = r().client({ address: address(tlsServer), transport, tls: tls(), token: newToken() });
        const error = await withTimeout(expectStatewardError(unknown.set("shop", "s1", "x"), status.UNAUTHENTICATED, "UNKNOWN_CREDENTIAL"), 5000);
        assert.equal(error.operation, "set");
      });

      it("mutual TLS: the client certificate is the principal", async () => {
        const client = certs.client("web-01.example");
        const withCert = r().client({ address: address(mutualServer), transport, tls: { ...tls(), certChainFile: client.cert, privateKeyFile: client.key } });
        assert.equal((await withCert.set("shop", `mtls-${transport}`, "x")).outcome, "ok");
        await expectStatewardError(withCert.get("blog", "s1"), status.PERMISSION_DENIED, "APP_NOT_ALLOWED");
      });

      it("plaintext loopback: the token is sent with insecureToken", async () => {
        const client = r().client({ address: `127.0.0.1:${plaintextServer.port}`, transport, token: TOKENS.shopWeb, insecureToken: true });
        assert.equal((await client.set("shop", `plain-${transport}`, "x")).outcome, "ok");
        const anonymous = r().client({ address: `127.0.0.1:${plaintextServer.port}`, transport });
        await expectStatewardError(anonymous.get("shop", "s1"), status.UNAUTHENTICATED, "MISSING_CREDENTIAL");
      });
    });
  }

  it("a standalone PipelineClient and Watch with channelCredentials({ tls, token })", async () => {
    const pipeline = new PipelineClient(address(tlsServer), channelCredentials({ tls: tls() }), { token: TOKENS.shopWeb });
    r().defer(() => pipeline.close());
    await pipeline.get(GetRequest.fromPartial({ app: "shop", sessionId: "s1" }));

    const stub = new SessionStateClient(address(tlsServer), channelCredentials({ tls: tls(), token: TOKENS.reports }));
    r().defer(() => stub.close());
    const call = stub.watch(WatchRequest.fromPartial({ app: "shop" }));
    r().defer(() => call.cancel());
    call.on("error", () => undefined);
    const event = new Promise<SessionEvent>((resolve) => call.once("data", resolve));
    // The server sends the headers once the watch is registered (and its caller authorised).
    await withTimeout(once(call, "metadata"), 5000);
    const writer = r().client({ address: address(tlsServer), tls: tls(), token: TOKENS.shopWeb });
    await writer.set("shop", "watched", "x");
    await writer.remove("shop", "watched");
    assert.equal((await withTimeout(event, 5000)).sessionId, "watched");
  });
});
