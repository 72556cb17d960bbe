/**
 * `@stateward/client/express` with `clientOptions`: the store makes its own SessionClient from the
 * same options (TLS, token, ...), every call of a request carries the token over TLS, and the
 * store's `close()` closes that client (and only a client it made).
 */
import express from "express";
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { makeTestCertificates, type TestCertificates } from "../../../server/test/helpers/test-certificates";
import { SessionClient } from "../src";
import { StatewardStore, statewardSession } from "../src/express";
import { assert, expectStatewardError, listenOnLoopback, TRANSPORTS, useResources } from "./helpers";
import { startRecordingServer, type RecordingServer } from "./recording-server";

declare module "express-session" {
  interface SessionData {
    visits?: number;
  }
}

const TOKEN = "tok-express-Wd4fR7tY1uI9oP3aS6dF8gH2jK5lZ0x";

describe("express: the store passes clientOptions (tls, token) to the client it makes", () => {
  const r = useResources();
  let certs: TestCertificates;
  let server: RecordingServer;

  before(async () => {
    certs = makeTestCertificates();
    server = await startRecordingServer(grpc.ServerCredentials.createSsl(null, [{ cert_chain: certs.read("server.pem"), private_key: certs.read("server.key") }], false));
  });
  after(() => {
    server.close();
    certs.remove();
  });

  const address = (): string => server.address.replace("127.0.0.1", "localhost");

  for (const transport of TRANSPORTS) {
    it(`a lock-aware Express app over TLS with a token [${transport}]`, async () => {
      const before = server.calls.length;
      const store = new StatewardStore({ clientOptions: { address: address(), transport, tls: { rootCertsFile: certs.file("ca.pem") }, token: TOKEN }, app: "shop" });
      r().defer(() => store.close());
      const app = express();
      app.use(statewardSession({ store, secret: "test-secret-not-for-production", resave: false, saveUninitialized: false }));
      app.post("/visit", (req, res) => {
        req.session.visits = (req.session.visits ?? 0) + 1;
        res.json(req.session.visits);
      });
      const listening = await listenOnLoopback(app);
      r().defer(() => listening.close());

      const first = await fetch(`${listening.url}/visit`, { method: "POST" });
      assert.equal(await first.json(), 1);
      const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      assert.match(cookie, /^connect\.sid=/);
      const second = await fetch(`${listening.url}/visit`, { method: "POST", headers: { cookie } });
      assert.equal(await second.json(), 2);

      const calls = server.calls.slice(before);
      assert.ok(calls.length > 0);
      for (const call of calls) assert.deepEqual(call.authorization, [`Bearer ${TOKEN}`], `${call.method} carried the token`);
      if (transport === "unary") assert.ok(calls.some((call) => call.method === "lock") && calls.some((call) => call.method === "set"));
    });
  }

  it("close() closes the client the store made: later calls fail with CLIENT_CLOSED", async () => {
    const store = new StatewardStore({ clientOptions: { address: address(), tls: { rootCertsFile: certs.file("ca.pem") }, token: TOKEN } });
    store.close();
    store.close();
    const read = new Promise((resolve, reject) => store.get("sid", (error, value) => (error ? reject(error) : resolve(value))));
    await expectStatewardError(read, status.CANCELLED, "CLIENT_CLOSED");
  });

  it("close() leaves a client you gave open", async () => {
    const client = r().client({ address: address(), tls: { rootCertsFile: certs.file("ca.pem") }, token: TOKEN });
    const store = new StatewardStore({ client });
    store.close();
    assert.ok(client instanceof SessionClient);
    assert.equal((await client.get("express", "sid")).outcome, "not-found");
  });
});
