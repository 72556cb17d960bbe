/**
 * Reloads under a running server: replaced certificate files reach new connections while open ones
 * keep working, a broken file is logged and the old material kept; a revoked token fails on its
 * next call (unary, Pipeline operation, Watch) while still-valid principals on open connections go
 * on; an invalid auth file on reload is logged and the old one kept; SIGHUP re-reads the files.
 */
import * as assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import type { PipelineRequest, PipelineResponse, SessionEvent } from "@stateward/protocol";
import { spawnCli, stopCli } from "./helpers/cli-process";
import { capturedLogger, newToken, refusal, SecureKit, tokenEntry, unaryCall, writeAuthFile } from "./helpers/secure-server";
import { makeTestCertificates, type TestCertificates } from "./helpers/test-certificates";
import { waitFor, withTimeout } from "./helpers/test-server";

const GET = { app: "shop", sessionId: "s1", waitMs: 0 };

/** The SHA-256 fingerprint of the certificate a new TLS connection to `port` is given. */
function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca, ALPNProtocols: ["h2"] }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? "";
      socket.end();
      resolve(fingerprint);
    });
    socket.on("error", reject);
  });
}

/** Replaces `target` with `source` atomically (a copy renamed over it). */
function replaceFile(source: string, target: string): void {
  copyFileSync(source, `${target}.new`);
  renameSync(`${target}.new`, target);
}


describe("reloading certificates and the auth file under a running server", function () {
  this.timeout(30_000);
  let certs: TestCertificates;
  let kit: SecureKit;
  let dir: string;

  before(() => {
    certs = makeTestCertificates();
  });
  after(() => certs.remove());
  beforeEach(() => {
    kit = new SecureKit(certs);
    dir = mkdtempSync(path.join(certs.dir, "live-"));
  });
  afterEach(() => kit.close());

  it("gives new connections the new certificate, keeps open connections and streams working, and keeps the old one when the new is broken", async () => {
    const cert = path.join(dir, "tls.pem");
    const key = path.join(dir, "tls.key");
    copyFileSync(certs.file("server.pem"), cert);
    copyFileSync(certs.file("server.key"), key);
    const { logger, lines } = capturedLogger();
    const server = await kit.server(["--tls-cert", cert, "--tls-key", key], logger);
    const ca = certs.read("ca.pem");
    const first = new X509Certificate(certs.read("server.pem")).fingerprint256;
    const second = new X509Certificate(certs.read("server-2.pem")).fingerprint256;
    assert.equal(await servedFingerprint(server.port, ca), first);

    // An open connection with a Watch stream on it, which must survive the reload.
    const client = kit.client(server.address, {});
    await unaryCall(client, "set", { app: "shop", sessionId: "w0", data: Buffer.from("v"), ttlSeconds: 0, lockId: 0n, keepLock: false, expectedVersion: 0n, onlyIfAbsent: false });
    const watch = client.watch({ app: "shop" });
    const events: SessionEvent[] = [];
    watch.on("data", (event: SessionEvent) => events.push(event));
    watch.on("error", () => undefined);
    await waitFor(() => server.watchers() === 1, "the watch to register");

    replaceFile(certs.file("server-2.key"), key);
    replaceFile(certs.file("server-2.pem"), cert);
    await waitFor(async () => (await servedFingerprint(server.port, ca)) === second, "new connections to get the new certificate");
    assert.ok(lines.some((line) => line.msg === "TLS certificate and key reloaded" && line.fingerprint256 === second));

    await unaryCall(client, "remove", { app: "shop", sessionId: "w0", lockId: 0n });
    await waitFor(() => events.length === 1, "the open Watch stream to get its event after the reload");
    await unaryCall(client, "get", GET);

    writeFileSync(cert, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
    assert.equal(server.reload().tls, "failed");
    assert.ok(lines.some((line) => line.msg === "TLS certificate and key not reloaded: the previous one stays in use" && String(line.error).includes("tls.pem")));
    assert.equal(await servedFingerprint(server.port, ca), second, "the old material is kept");
    await unaryCall(kit.client(server.address, {}), "get", GET);
    watch.cancel();
  });

  it("revokes a token at once: its next unary call fails, its Pipeline stream ends (a waiting Lock withdrawn, not granted), its Watch ends; valid principals go on", async () => {
    const authFile = path.join(dir, "auth.json");
    const [kept, revoked] = [newToken(), newToken()];
    const principals = [tokenEntry("shop-web", kept, ["shop"], "read-write"), tokenEntry("web-2", revoked, ["shop"], "read-write")];
    writeAuthFile(authFile, principals);
    const { logger, lines } = capturedLogger();
    const server = await kit.server([...kit.tlsFlags(false), "--auth-file", authFile], logger);
    const keptClient = kit.client(server.address, { token: kept });
    const revokedClient = kit.client(server.address, { token: revoked });
    await unaryCall(keptClient, "get", GET);
    await unaryCall(revokedClient, "get", GET);

    // A Pipeline stream and a Watch of the principal about to be revoked, open before the reload.
    const stream: ClientDuplexStream<PipelineRequest, PipelineResponse> = revokedClient.pipeline();
    const results: PipelineResponse[] = [];
    stream.on("data", (response: PipelineResponse) => results.push(response));
    const streamEnd = new Promise<ServiceError>((resolve) => stream.on("error", resolve));
    const get = (id: bigint): PipelineRequest => ({ operations: [{ id, timeoutMs: 0, request: { $case: "get", value: GET } }], cancelIds: [] });
    stream.write(get(1n));
    await waitFor(() => results.length === 1, "the first pipelined Get");
    assert.equal(results[0]?.results[0]?.result?.$case, "get");
    const watch = revokedClient.watch({ app: "shop" });
    const watchEnd = new Promise<ServiceError>((resolve) => watch.on("error", resolve));
    let eventsAfterEnd = 0;
    let watchEnded = false;
    watch.on("data", () => {
      if (watchEnded) eventsAfterEnd++;
    });
    await waitFor(() => server.watchers() === 1, "the watch to register");

    // The revoked principal waits for a lock the kept one holds; and events keep coming meanwhile.
    const setReq = (sessionId: string): Record<string, unknown> => ({ app: "shop", sessionId, data: Buffer.from("v"), ttlSeconds: 0, lockId: 0n, keepLock: false, expectedVersion: 0n, onlyIfAbsent: false });
    await unaryCall(keptClient, "set", setReq("locked"));
    const held = await unaryCall<{ lockId: bigint }>(keptClient, "lock", { app: "shop", sessionId: "locked", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 });
    stream.write({ operations: [{ id: 9n, timeoutMs: 0, request: { $case: "lock", value: { app: "shop", sessionId: "locked", waitMs: 10_000, leaseMs: 0, create: false, ttlSeconds: 0 } } }], cancelIds: [] });
    await waitFor(() => server.store.counts().then((c) => c.waiters === 1), "the pipelined Lock to wait");
    for (let i = 0; i < 200; i++) {
      await unaryCall(keptClient, "set", setReq(`e${i}`));
      await unaryCall(keptClient, "remove", { app: "shop", sessionId: `e${i}`, lockId: 0n });
    }

    writeAuthFile(authFile, principals.slice(0, 1));
    assert.equal(server.reload().authFile, "reloaded");
    assert.ok(lines.some((line) => line.msg === "auth file reloaded" && line.principals === 1));

    const unary = await refusal(unaryCall(revokedClient, "get", GET));
    assert.equal(unary.code, status.UNAUTHENTICATED);
    assert.doesNotMatch(unary.details, new RegExp(revoked), "the token is not echoed");
    const streamEnded = await withTimeout(streamEnd, 5000, "the revoked Pipeline stream to end");
    assert.equal(streamEnded.code, status.UNAUTHENTICATED);
    await waitFor(() => server.store.counts().then((c) => c.waiters === 0), "the waiting Lock to be withdrawn");
    const ended = await withTimeout(watchEnd, 5000, "the revoked Watch to end");
    watchEnded = true;
    assert.equal(ended.code, status.UNAUTHENTICATED);
    await unaryCall(keptClient, "release", { app: "shop", sessionId: "locked", lockId: held.lockId });
    // The lock went to nobody: the kept principal locks it again at once.
    await unaryCall(keptClient, "lock", { app: "shop", sessionId: "locked", waitMs: 0, leaseMs: 0, create: false, ttlSeconds: 0 });
    await unaryCall(keptClient, "set", setReq("late"));
    await unaryCall(keptClient, "remove", { app: "shop", sessionId: "late", lockId: 0n });
    assert.equal(eventsAfterEnd, 0, "no event reaches a revoked Watch after its status");
    assert.equal(server.watchers(), 0);

    await unaryCall(keptClient, "set", { app: "shop", sessionId: "k", data: Buffer.from("v"), ttlSeconds: 0, lockId: 0n, keepLock: false, expectedVersion: 0n, onlyIfAbsent: false });

    // An invalid file on reload: logged, the old policy stays (kept works, revoked stays revoked).
    writeFileSync(authFile, '{"principals": [{"name": "x"}]}');
    assert.equal(server.reload().authFile, "failed");
    assert.ok(lines.some((line) => line.msg === "auth file not reloaded: the previous one stays in use" && /principals\[0\] \("x"\): field "token_sha256"/.test(String(line.error))));
    await unaryCall(keptClient, "get", GET);
    assert.equal((await refusal(unaryCall(revokedClient, "get", GET))).code, status.UNAUTHENTICATED);
    assert.ok(!lines.some((line) => JSON.stringify(line).includes(revoked) || JSON.stringify(line).includes(kept)), "no token in the log");
  });

  it("re-reads the auth file when it changes, without a signal", async () => {
    const authFile = path.join(dir, "auth.json");
    const token = newToken();
    writeAuthFile(authFile, []);
    const server = await kit.server([...kit.tlsFlags(false), "--auth-file", authFile]);
    const client = kit.client(server.address, { token });
    assert.equal((await refusal(unaryCall(client, "get", GET))).code, status.UNAUTHENTICATED);
    writeAuthFile(authFile, [tokenEntry("new", token, ["*"], "read-only")]);
    // Only the file watch can let the call through: nothing calls reload().
    await waitFor(() => unaryCall(client, "get", GET).then(() => true, () => false), "the watcher to put the new file in force");
  });

  it("re-reads the files on SIGHUP (the CLI)", async () => {
    const authFile = path.join(dir, "auth.json");
    writeAuthFile(authFile, [tokenEntry("a", newToken(), ["shop"], "read-write")]);
    const cli = spawnCli(["--host", "127.0.0.1", "--port", "0", "--auth-file", authFile], {});
    try {
      await cli.port;
      cli.child.kill("SIGHUP");
      await waitFor(() => cli.stderr().includes("signal received: re-reading the TLS files and the auth file"), "the SIGHUP log line");
      writeFileSync(authFile, "{}");
      cli.child.kill("SIGHUP");
      await waitFor(() => cli.stderr().includes("auth file not reloaded"), "the refused reload");
      assert.equal(cli.child.exitCode, null, "the server keeps running");
    } finally {
      await stopCli(cli);
    }
  });
});
