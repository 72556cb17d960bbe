/**
 * The security options are checked when a client is made, before anything connects: a token never
 * travels in clear text unless asked for, TLS files are read once and must hold PEM, a client
 * certificate needs its key, and no message ever contains the token. No server is needed.
 */
import { writeFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { makeTestCertificates, type TestCertificates } from "../../../server/test/helpers/test-certificates";
import { PipelineClient, SessionClient, StatewardError, channelCredentials, type SessionClientOptions } from "../src";
import { StatewardStore } from "../src/express";
import { assert } from "./helpers";

const TOKEN = "tok-7Hq2vX9pLm4RsT0uWy3zA5bC8dE1fG6h";

/** Runs `make`, asserting it throws INVALID_ARGUMENT whose message has every `words` and never the token. */
function refused(make: () => unknown, words: readonly string[], token = TOKEN): StatewardError {
  let thrown: unknown;
  try {
    const made = make();
    if (made instanceof SessionClient || made instanceof PipelineClient) made.close();
  } catch (error) {
    thrown = error;
  }
  assert.ok(StatewardError.is(thrown), `expected a StatewardError, got ${String(thrown)}`);
  assert.equal(thrown.code, status.INVALID_ARGUMENT, thrown.message);
  for (const word of words) assert.ok(thrown.message.includes(word), `the message names ${word}: ${thrown.message}`);
  assert.ok(!thrown.message.includes(token.trim()), "the message never contains the token");
  assert.ok(!thrown.details.includes(token.trim()), "the details never contain the token");
  return thrown;
}

/** Makes a SessionClient and closes it: the options were accepted. */
function accepted(options: SessionClientOptions): void {
  new SessionClient(options).close();
}

describe("PipelineClient options are checked when the client is made", () => {
  it("refuses a pollMicros outside 0 to 10000 µs, naming the option", () => {
    for (const pollMicros of [-1, 10_001, 2.5]) {
      refused(() => new PipelineClient("127.0.0.1:1", grpc.credentials.createInsecure(), { pollMicros }), ["pollMicros", "0 to 10000"]);
    }
    new PipelineClient("127.0.0.1:1", grpc.credentials.createInsecure(), { pollMicros: 0 }).close();
  });
});

describe("security options are checked when the client is made", () => {
  let certs: TestCertificates;
  before(() => {
    certs = makeTestCertificates();
  });
  after(() => certs.remove());

  describe("a token needs TLS, or the explicit insecureToken", () => {
    it("SessionClient: a token over plaintext is refused, naming insecureToken and tls", () => {
      refused(() => new SessionClient({ token: TOKEN }), ["insecureToken", "tls"]);
      refused(() => new SessionClient({ token: TOKEN, insecureToken: false, transport: "unary" }), ["insecureToken", "tls"]);
      refused(() => new SessionClient({ token: TOKEN, credentials: grpc.credentials.createInsecure() }), ["insecureToken", "tls"]);
    });

    it("SessionClient: accepted with insecureToken, or with tls", () => {
      accepted({ token: TOKEN, insecureToken: true });
      accepted({ token: TOKEN, tls: { rootCertsFile: certs.file("ca.pem") } });
      accepted({ token: TOKEN, credentials: grpc.credentials.createSsl(certs.read("ca.pem")) });
    });

    it("PipelineClient: the same rule, and the same acceptance", () => {
      refused(() => new PipelineClient("127.0.0.1:1", grpc.credentials.createInsecure(), { token: TOKEN }), ["insecureToken", "tls"]);
      new PipelineClient("127.0.0.1:1", grpc.credentials.createInsecure(), { token: TOKEN, insecureToken: true }).close();
      new PipelineClient("127.0.0.1:1", channelCredentials({ tls: { rootCertsFile: certs.file("ca.pem") } }), { token: TOKEN }).close();
    });

    it("channelCredentials: a token without tls is refused, pointing at the clients' insecureToken", () => {
      refused(() => channelCredentials({ token: TOKEN }), ["insecureToken", "tls"]);
      assert.equal(channelCredentials()._isSecure(), false);
      assert.equal(channelCredentials({ tls: {}, token: TOKEN })._isSecure(), true);
    });

    it("a token given twice (in the credentials and as an option, or beside an authorization entry) is refused", () => {
      const withToken = channelCredentials({ tls: { rootCertsFile: certs.file("ca.pem") }, token: TOKEN });
      refused(() => new PipelineClient("127.0.0.1:1", withToken, { token: TOKEN }), ["twice"]);
      refused(() => new SessionClient({ credentials: withToken, token: TOKEN }), ["twice"]);
      refused(() => new SessionClient({ tls: {}, token: TOKEN, metadata: { authorization: `Bearer ${TOKEN}` } }), ["authorization"]);
    });

    it("a token that is not one header value (empty, spaces, a trailing newline) is refused without echoing it", () => {
      for (const token of ["", "two words", `${TOKEN}\n`, "tök"]) {
        refused(() => new SessionClient({ token, tls: {} }), ["token"], token === "" ? "\u0000" : token);
        refused(() => channelCredentials({ token, tls: {} }), ["token"], token === "" ? "\u0000" : token);
      }
    });
  });

  describe("TLS options", () => {
    it("PEM inline (Buffer or string) or as files, all accepted", () => {
      accepted({ tls: { rootCerts: certs.read("ca.pem") } });
      accepted({ tls: { rootCerts: certs.read("ca.pem").toString("utf8") } });
      accepted({ tls: { rootCertsFile: certs.file("ca.pem") } });
      const client = certs.client("web-01.example");
      accepted({ tls: { rootCertsFile: certs.file("ca.pem"), certChainFile: client.cert, privateKeyFile: client.key } });
      accepted({ tls: { certChain: certs.read("client-web-01.example.pem").toString(), privateKey: certs.read("client-web-01.example.key") } });
    });

    it("a file that cannot be read is refused, naming the option and the path", () => {
      const missing = certs.file("missing.pem");
      refused(() => new SessionClient({ tls: { rootCertsFile: missing } }), ["tls.rootCertsFile", missing, "ENOENT"]);
      const client = certs.client("web-01.example");
      refused(() => new SessionClient({ tls: { certChainFile: client.cert, privateKeyFile: missing } }), ["tls.privateKeyFile", missing]);
      refused(() => channelCredentials({ tls: { certChainFile: certs.dir, privateKeyFile: client.key } }), ["tls.certChainFile", certs.dir, "EISDIR"]);
    });

    it("a file or value without PEM is refused, naming it", () => {
      const der = certs.file("not-pem.der");
      writeFileSync(der, Buffer.from([0x30, 0x82, 0x01, 0x0a]));
      refused(() => new SessionClient({ tls: { rootCertsFile: der } }), ["tls.rootCertsFile", der, "PEM"]);
      refused(() => new SessionClient({ tls: { rootCerts: "" } }), ["tls.rootCerts", "PEM"]);
    });

    it("PEM that cannot be used (a key that does not match its certificate) is refused without the key's content", () => {
      const key = certs.read("server.key").toString();
      const error = refused(() => new SessionClient({ tls: { certChainFile: certs.client("web-01.example").cert, privateKey: key } }), ["tls"]);
      assert.ok(!error.message.includes(key.split("\n")[1] ?? "-"), "no line of the key in the message");
    });

    it("a client certificate and its key go together", () => {
      const client = certs.client("web-01.example");
      refused(() => new SessionClient({ tls: { certChainFile: client.cert } }), ["tls.certChain", "tls.privateKey"]);
      refused(() => new SessionClient({ tls: { privateKeyFile: client.key } }), ["tls.certChain", "tls.privateKey"]);
      refused(() => channelCredentials({ tls: { privateKey: certs.read("client-web-01.example.key") } }), ["tls.certChain", "tls.privateKey"]);
    });

    it("inline and file forms of one PEM are not both given; credentials and tls are not both given; serverName is not empty", () => {
      refused(() => new SessionClient({ tls: { rootCerts: certs.read("ca.pem"), rootCertsFile: certs.file("ca.pem") } }), ["tls.rootCerts", "tls.rootCertsFile"]);
      refused(() => new SessionClient({ credentials: grpc.credentials.createSsl(), tls: {} }), ["credentials", "tls"]);
      refused(() => new SessionClient({ tls: { serverName: " " } }), ["tls.serverName"]);
    });
  });

  describe("Express store", () => {
    it("takes a client or clientOptions, exactly one", () => {
      refused(() => new StatewardStore({} as never), ["client", "clientOptions"]);
      const client = new SessionClient();
      try {
        refused(() => new StatewardStore({ client, clientOptions: {} } as never), ["client", "clientOptions"]);
      } finally {
        client.close();
      }
    });

    it("clientOptions are checked as the client's are", () => {
      refused(() => new StatewardStore({ clientOptions: { token: TOKEN } }), ["insecureToken", "tls"]);
      refused(() => new StatewardStore({ clientOptions: { tls: { rootCertsFile: certs.file("missing.pem") } } }), ["tls.rootCertsFile"]);
      new StatewardStore({ clientOptions: { token: TOKEN, tls: { rootCertsFile: certs.file("ca.pem") } } }).close();
    });
  });
});
