/**
 * `rediss://`: Stateward (the built server, as a process) on a Redis that speaks TLS on its
 * `--tls-port` (Debian's redis-server is built with TLS), with the test CA trusted through Node's
 * NODE_EXTRA_CA_CERTS (the backend has no CA option of its own).
 */
import * as assert from "node:assert/strict";

import { startServerProcess } from "../fault/server-process";
import { startRedis } from "../helpers/redis-server";
import { respCommand } from "../helpers/resp-command";
import { freePort } from "../helpers/telemetry-test-kit";
import { makeTestCertificates } from "../helpers/test-certificates";
import { callsFor, newChannelClient } from "../helpers/test-server";
import { keyOf, Teardown, uniquePrefix } from "./stateward-on-redis";

describe("Redis backend over TLS (rediss://)", function () {
  this.timeout(30_000);
  const teardown = new Teardown();
  afterEach(() => teardown.run());

  it("keeps sessions in a Redis reached over TLS", async () => {
    const certs = teardown.add(makeTestCertificates(), (made) => made.remove());
    const tlsPort = await freePort();
    const redis = teardown.add(
      await startRedis({
        extraArgs: ["--tls-port", String(tlsPort), "--tls-cert-file", certs.file("server.pem"), "--tls-key-file", certs.file("server.key"), "--tls-ca-cert-file", certs.file("ca.pem"), "--tls-auth-clients", "no"],
      }),
      (started) => started.stop(),
    );
    const prefix = uniquePrefix("tls");
    const server = teardown.add(
      await startServerProcess(["--backend", "redis", "--redis-url", `rediss://127.0.0.1:${tlsPort}`, "--redis-prefix", prefix], {
        NODE_EXTRA_CA_CERTS: certs.file("ca.pem"),
      }),
      (started) => started.stop(),
    );
    const client = teardown.add(newChannelClient(server.address), (made) => made.close());
    const call = callsFor(client);
    assert.equal((await call.set({ data: "over TLS" })).version, 1n);
    assert.equal((await call.get()).data.toString(), "over TLS");
    // The session is in that Redis (read here over its plain port).
    assert.equal(await respCommand({ port: redis.port }, ["HGET", keyOf(prefix, "app", "s1"), "v"]), "1");
  });
});
