/**
 * The SDK across the network: TLS and mutual TLS handshakes, the bearer token on every unary
 * call, pipeline stream and Watch (as call credentials over TLS, as metadata over plaintext only
 * with insecureToken), and the server's auth refusals as typed errors on both transports. Servers
 * are in-test grpc-js servers (recording-server.ts) with certificates made for this run.
 */
import { execFileSync } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { makeTestCertificates, type TestCertificates } from "../../../server/test/helpers/test-certificates";
import {
  GetRequest,
  PipelineClient,
  SessionStateClient,
  StatewardError,
  channelCredentials,
  toStatewardError,
  watchSessionEvents,
  type SessionClientOptions,
} from "../src";
import { assert, expectStatewardError, TRANSPORTS, useResources, withTimeout } from "./helpers";
import { startRecordingServer, type RecordingServer, type Refusal, type RefusalRule } from "./recording-server";

const TOKEN = "tok-rw-Qm5xV2pL9sT4wY7zB1cD3fG6hJ8kN0rS";
const READ_ONLY_TOKEN = "tok-ro-Zx8cV6bN4mL2kJ0hG9fD7sA5pO3iU1yT";

/** TLS server credentials from the run's certificates (`name`.pem/.key), optionally requiring a client certificate. */
function serverTls(certs: TestCertificates, name = "server", clientCa = false): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(clientCa ? certs.read("ca.pem") : null, [{ cert_chain: certs.read(`${name}.pem`), private_key: certs.read(`${name}.key`) }], clientCa);
}

/** A server certificate from the test CA for `dns` only (no IP address): the serverName case. */
function makeNamedServerCert(certs: TestCertificates, dns: string): void {
  const ext = certs.file("named.ext");
  execFileSync("bash", [
    "-euo",
    "pipefail",
    "-c",
    `printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\nsubjectAltName=DNS:${dns}\\n' > "${ext}"
     openssl req -new -key server.key -subj "/CN=${dns}" -out named.csr
     openssl x509 -req -in named.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 2 -extfile "${ext}" -out named.pem 2>/dev/null
     cp server.key named.key`,
  ], { cwd: certs.dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** The server's auth rules, as the issue specifies them, for two principals of app "shop". */
const AUTH_RULES: RefusalRule = ({ method, app, authorization }): Refusal | undefined => {
  if (authorization.length === 0) return { code: status.UNAUTHENTICATED, message: "no credential", reason: "MISSING_CREDENTIAL" };
  const principal = authorization[0] === `Bearer ${TOKEN}` ? "shop-web" : authorization[0] === `Bearer ${READ_ONLY_TOKEN}` ? "reports" : undefined;
  if (principal === undefined) return { code: status.UNAUTHENTICATED, message: "unknown credential", reason: "UNKNOWN_CREDENTIAL" };
  // A stream is only checked for a credential when it opens; its operations are checked each.
  if (app === undefined) return undefined;
  if (app !== "shop") return { code: status.PERMISSION_DENIED, message: `${principal} may not use app ${app}`, reason: "APP_NOT_ALLOWED", metadata: { principal, app } };
  const writes = method === "set" || method === "lock" || method === "release" || method === "expire" || method === "remove";
  if (principal === "reports" && writes) {
    return { code: status.PERMISSION_DENIED, message: `${principal} is read-only`, reason: "READ_ONLY_PRINCIPAL", metadata: { principal, app, access: "read-only", required: "read-write" } };
  }
  return undefined;
};

describe("TLS, mutual TLS and tokens", function () {
  const r = useResources();
  let certs: TestCertificates;
  let tlsServer: RecordingServer;

  before(async () => {
    certs = makeTestCertificates(["web-01.example"]);
    makeNamedServerCert(certs, "stateward.internal");
    tlsServer = await startRecordingServer(serverTls(certs));
  });
  after(() => {
    tlsServer.close();
    certs.remove();
  });

  /** A server started for one test, closed in its teardown. */
  async function server(credentials: grpc.ServerCredentials, refuse?: RefusalRule): Promise<RecordingServer> {
    const started = await startRecordingServer(credentials, refuse);
    r().defer(() => started.close());
    return started;
  }

  /** By name, not by IP: the certificates are for localhost, and a TLS server name may not be an IP (RFC 6066). */
  const byName = (address: string): string => address.replace("127.0.0.1", "localhost");

  const trustCa = (): SessionClientOptions["tls"] => ({ rootCertsFile: certs.file("ca.pem") });

  describe("the token", () => {
    for (const transport of TRANSPORTS) {
      it(`travels over TLS as call credentials on every call [${transport}]`, async () => {
        const before = tlsServer.calls.length;
        const client = r().client({ address: byName(tlsServer.address), transport, tls: trustCa(), token: TOKEN });
        assert.equal((await client.set("shop", "s1", "data")).outcome, "ok");
        const read = await client.get("shop", "s1");
        assert.equal(read.outcome === "ok" && read.data.toString(), "data");
        const calls = tlsServer.calls.slice(before);
        // Unary: one call per operation; pipeline: one stream for both.
        assert.deepEqual(calls.map((call) => call.method), transport === "unary" ? ["set", "get"] : ["pipeline"]);
        for (const call of calls) assert.deepEqual(call.authorization, [`Bearer ${TOKEN}`], "exactly one authorization entry");
      });
    }

    it("is composed into explicit secure credentials", async () => {
      const before = tlsServer.calls.length;
      const client = r().client({ address: byName(tlsServer.address), transport: "unary", credentials: grpc.credentials.createSsl(certs.read("ca.pem")), token: TOKEN });
      await client.get("shop", "s1");
      assert.deepEqual(tlsServer.calls.slice(before).map((call) => call.authorization), [[`Bearer ${TOKEN}`]]);
    });

    it("travels on Watch, through channelCredentials({ tls, token }) on the raw stub", async () => {
      const before = tlsServer.calls.length;
      const stub = new SessionStateClient(byName(tlsServer.address), channelCredentials({ tls: trustCa(), token: TOKEN }));
      r().defer(() => stub.close());
      const events = [];
      for await (const event of watchSessionEvents(stub, "shop")) events.push(event);
      assert.deepEqual(events.map((event) => event.sessionId), ["watched"]);
      assert.deepEqual(tlsServer.calls.slice(before).map((call) => [call.method, call.authorization]), [["watch", [`Bearer ${TOKEN}`]]]);
    });

    it("travels on a standalone PipelineClient's streams, given as an option or in its credentials", async () => {
      const before = tlsServer.calls.length;
      for (const pipeline of [
        new PipelineClient(byName(tlsServer.address), channelCredentials({ tls: trustCa() }), { token: TOKEN }),
        new PipelineClient(byName(tlsServer.address), channelCredentials({ tls: trustCa(), token: READ_ONLY_TOKEN })),
      ]) {
        r().defer(() => pipeline.close());
        await pipeline.get(GetRequest.fromPartial({ app: "shop", sessionId: "s1" }));
      }
      assert.deepEqual(
        tlsServer.calls.slice(before).map((call) => call.authorization),
        [[`Bearer ${TOKEN}`], [`Bearer ${READ_ONLY_TOKEN}`]],
      );
    });

    for (const transport of TRANSPORTS) {
      it(`is not sent over plaintext without a token, and is with insecureToken [${transport}]`, async () => {
        const plain = await server(grpc.ServerCredentials.createInsecure());
        const anonymous = r().client({ address: plain.address, transport });
        await anonymous.get("shop", "s1");
        const opted = r().client({ address: plain.address, transport, token: TOKEN, insecureToken: true });
        await opted.get("shop", "s1");
        await opted.get("shop", "s1", { metadata: { "x-call": "own metadata" } });
        assert.deepEqual(plain.calls.map((call) => call.authorization), [[], [`Bearer ${TOKEN}`], [`Bearer ${TOKEN}`]]);
      });
    }

    it("is sent by a standalone plaintext PipelineClient only with insecureToken", async () => {
      const plain = await server(grpc.ServerCredentials.createInsecure());
      const pipeline = new PipelineClient(plain.address, grpc.credentials.createInsecure(), { token: TOKEN, insecureToken: true });
      r().defer(() => pipeline.close());
      await pipeline.get(GetRequest.fromPartial({ app: "shop", sessionId: "s1" }));
      await pipeline.get(GetRequest.fromPartial({ app: "shop", sessionId: "s2" }));
      assert.deepEqual(plain.calls.map((call) => [call.method, call.authorization]), [["pipeline", [`Bearer ${TOKEN}`]]]);
    });
  });

  describe("handshakes", () => {
    for (const transport of TRANSPORTS) {
      it(`a plaintext client against a TLS port fails with UNAVAILABLE [${transport}]`, async () => {
        const client = r().client({ address: byName(tlsServer.address), transport, retry: false, defaultTimeoutMs: 2000 });
        await expectStatewardError(client.get("shop", "s1"), status.UNAVAILABLE);
      });

      it(`a client that trusts another CA rejects the server's certificate [${transport}]`, async () => {
        const client = r().client({ address: byName(tlsServer.address), transport, retry: false, defaultTimeoutMs: 2000, tls: { rootCertsFile: certs.file("other-ca.pem") } });
        const error = await expectStatewardError(client.get("shop", "s1"), status.UNAVAILABLE);
        assert.match(error.details, /certificate/i);
      });

      it(`an expired server certificate is rejected [${transport}]`, async () => {
        const expired = await server(serverTls(certs, "expired"));
        const client = r().client({ address: byName(expired.address), transport, retry: false, defaultTimeoutMs: 2000, tls: trustCa() });
        const error = await expectStatewardError(client.get("shop", "s1"), status.UNAVAILABLE);
        assert.match(error.details, /expired/i);
        assert.equal(expired.calls.length, 0);
      });
    }

    it("mutual TLS: the client certificate (files) is presented; without one, or one from another CA, the handshake fails", async () => {
      const mtls = await server(serverTls(certs, "server", true));
      const client = certs.client("web-01.example");
      const withCert = r().client({ address: byName(mtls.address), tls: { ...trustCa(), certChainFile: client.cert, privateKeyFile: client.key }, token: TOKEN });
      await withCert.get("shop", "s1");
      assert.deepEqual(mtls.calls.map((call) => [call.clientCn, call.authorization]), [["web-01.example", [`Bearer ${TOKEN}`]]]);
      for (const tls of [trustCa(), { ...trustCa(), certChainFile: certs.file("other-client.pem"), privateKeyFile: certs.file("other-client.key") }]) {
        const refused = r().client({ address: byName(mtls.address), retry: false, defaultTimeoutMs: 2000, tls });
        await expectStatewardError(refused.get("shop", "s1"), status.UNAVAILABLE);
      }
      assert.equal(mtls.calls.length, 1);
    });

    it("mutual TLS with PEM given inline (Buffer and string)", async () => {
      const mtls = await server(serverTls(certs, "server", true));
      const client = r().client({
        address: byName(mtls.address),
        transport: "unary",
        tls: { rootCerts: certs.read("ca.pem").toString("utf8"), certChain: certs.read("client-web-01.example.pem"), privateKey: certs.read("client-web-01.example.key").toString() },
      });
      await client.get("shop", "s1");
      assert.equal(mtls.calls[0]?.clientCn, "web-01.example");
    });

    for (const transport of TRANSPORTS) {
      it(`serverName: the certificate is checked against it, and it is the calls' :authority [${transport}]`, async () => {
        // Its certificate names stateward.internal only; the client connects by IP address.
        const named = await server(serverTls(certs, "named"));
        const withoutName = r().client({ address: byName(named.address), transport, retry: false, defaultTimeoutMs: 2000, tls: trustCa() });
        await expectStatewardError(withoutName.get("shop", "s1"), status.UNAVAILABLE);
        const withName = r().client({ address: named.address, transport, tls: { ...trustCa(), serverName: "stateward.internal" }, token: TOKEN });
        await withName.get("shop", "s1");
        assert.deepEqual(named.calls.map((call) => [call.host, call.authorization]), [["stateward.internal", [`Bearer ${TOKEN}`]]]);
        const wrongName = r().client({ address: byName(tlsServer.address), transport, retry: false, defaultTimeoutMs: 2000, tls: { ...trustCa(), serverName: "wrong.example" } });
        await expectStatewardError(wrongName.get("shop", "s1"), status.UNAVAILABLE);
      });
    }

    it("serverName through channelCredentials, on a standalone PipelineClient", async () => {
      const named = await server(serverTls(certs, "named"));
      const pipeline = new PipelineClient(named.address, channelCredentials({ tls: { ...trustCa(), serverName: "stateward.internal" } }), { token: TOKEN });
      r().defer(() => pipeline.close());
      await pipeline.get(GetRequest.fromPartial({ app: "shop", sessionId: "s1" }));
      assert.deepEqual(named.calls.map((call) => call.host), ["stateward.internal"]);
    });
  });

  describe("auth refusals are typed errors with the server's reason", () => {
    let auth: RecordingServer;
    beforeEach(async () => {
      auth = await server(serverTls(certs), AUTH_RULES);
    });

    function client(transport: "pipeline" | "unary", token: string | undefined): ReturnType<ReturnType<typeof r>["client"]> {
      return r().client({ address: byName(auth.address), transport, tls: trustCa(), ...(token === undefined ? {} : { token }) });
    }

    const cases: { name: string; token: string | undefined; app: string; write: boolean; code: status; reason: Refusal["reason"]; metadata: Record<string, string> }[] = [
      { name: "no token", token: undefined, app: "shop", write: false, code: status.UNAUTHENTICATED, reason: "MISSING_CREDENTIAL", metadata: {} },
      { name: "an unknown token", token: "tok-unknown", app: "shop", write: false, code: status.UNAUTHENTICATED, reason: "UNKNOWN_CREDENTIAL", metadata: {} },
      { name: "another app", token: TOKEN, app: "blog", write: false, code: status.PERMISSION_DENIED, reason: "APP_NOT_ALLOWED", metadata: { principal: "shop-web", app: "blog" } },
      {
        name: "a write by a read-only principal",
        token: READ_ONLY_TOKEN,
        app: "shop",
        write: true,
        code: status.PERMISSION_DENIED,
        reason: "READ_ONLY_PRINCIPAL",
        metadata: { principal: "reports", app: "shop", access: "read-only", required: "read-write" },
      },
    ];

    for (const transport of TRANSPORTS) {
      for (const c of cases) {
        it(`${c.name}: ${status[c.code]} ${c.reason} [${transport}]`, async () => {
          const call = c.write ? client(transport, c.token).set(c.app, "s1", "data") : client(transport, c.token).get(c.app, "s1");
          const error = await withTimeout(expectStatewardError(call, c.code, c.reason), 5000);
          assert.deepEqual(error.metadata, c.metadata);
          assert.equal(error.operation, c.write ? "set" : "get");
        });
      }
    }

    it("pipeline: a stream refused when it opens fails its operations and the next ones, without retries", async () => {
      const anonymous = client("pipeline", undefined);
      // Idempotent Gets (retried on UNAVAILABLE) and a Set, in one batch.
      const batch = [anonymous.get("shop", "a"), anonymous.get("shop", "b"), anonymous.set("shop", "c", "x")];
      for (const call of batch) await withTimeout(expectStatewardError(call, status.UNAUTHENTICATED, "MISSING_CREDENTIAL"), 5000);
      assert.equal(auth.calls.length, 1, "one stream, not retried");
      await withTimeout(expectStatewardError(anonymous.get("shop", "d"), status.UNAUTHENTICATED, "MISSING_CREDENTIAL"), 5000);
      assert.deepEqual(auth.calls.map((call) => call.method), ["pipeline", "pipeline"], "the next operation opened one new stream");
    });

    it("pipeline: a PERMISSION_DENIED operation fails alone; the stream goes on", async () => {
      const reports = client("pipeline", READ_ONLY_TOKEN);
      const [denied, read, otherApp] = await Promise.allSettled([reports.set("shop", "s1", "x"), reports.get("shop", "s1"), reports.get("blog", "s1")]);
      assert.equal(read.status, "fulfilled");
      assert.ok(denied.status === "rejected" && StatewardError.is(denied.reason) && denied.reason.reason === "READ_ONLY_PRINCIPAL");
      assert.ok(otherApp.status === "rejected" && StatewardError.is(otherApp.reason) && otherApp.reason.reason === "APP_NOT_ALLOWED");
      assert.equal((await reports.get("shop", "s2")).outcome, "not-found");
      assert.deepEqual(auth.calls.map((call) => call.method), ["pipeline"], "one stream throughout");
    });

    it("a standalone PipelineClient's errors carry the code and the reason too", async () => {
      const pipeline = new PipelineClient(byName(auth.address), channelCredentials({ tls: trustCa() }), { token: "tok-unknown" });
      r().defer(() => pipeline.close());
      const error: unknown = await pipeline.get(GetRequest.fromPartial({ app: "shop", sessionId: "s1" })).then(
        () => assert.fail("expected a refusal"),
        (e: unknown) => e,
      );
      const typed = toStatewardError(error, "get");
      assert.equal(typed.code, status.UNAUTHENTICATED);
      assert.equal(typed.reason, "UNKNOWN_CREDENTIAL");
    });

    it("Watch: a refused watch throws the status with the reason", async () => {
      const stub = new SessionStateClient(byName(auth.address), channelCredentials({ tls: trustCa() }));
      r().defer(() => stub.close());
      const error: unknown = await (async () => {
        for await (const event of watchSessionEvents(stub, "shop")) assert.fail(`no event expected, got ${event.sessionId}`);
      })().then(
        () => assert.fail("expected a refusal"),
        (e: unknown) => e,
      );
      const typed = toStatewardError(error, "connect");
      assert.equal(typed.code, status.UNAUTHENTICATED);
      assert.equal(typed.reason, "MISSING_CREDENTIAL");
    });
  });
});
