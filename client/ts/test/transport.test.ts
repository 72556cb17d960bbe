/**
 * Transport behaviour that a healthy real server cannot show: retries of idempotent operations only,
 * metadata on calls and streams, TLS. A scripted fake SessionState server on 127.0.0.1:0 plays the
 * failures and records what it received.
 */
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import {
  ExpireResponse,
  GetResponse,
  LockResponse,
  Outcome,
  ReleaseResponse,
  SetResponse,
  type PipelineRequest,
  type PipelineResponse,
  type SessionStateServer,
} from "../src";
import { makeTestCertificates, type TestCertificates } from "../../../server/test/helpers/test-certificates";
import { assert, expectStatewardError, startFakeServer, useResources, type FakeServer } from "./helpers";

/** Per-method call counts, metadata seen, and how many of the next calls fail with UNAVAILABLE. */
interface Script {
  readonly calls: Record<string, number>;
  readonly metadata: Record<string, string>[];
  failNext: Record<string, number>;
  /** Pipeline streams to end abruptly on their first batch. */
  breakStreams: number;
  streams: number;
}

function record(script: Script, method: string, metadata: grpc.Metadata): boolean {
  script.calls[method] = (script.calls[method] ?? 0) + 1;
  const seen: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) seen[key] = String(value);
  script.metadata.push({ method, ...seen });
  const failures = script.failNext[method] ?? 0;
  if (failures > 0) {
    script.failNext[method] = failures - 1;
    return true;
  }
  return false;
}

const UNAVAILABLE = { code: status.UNAVAILABLE, details: "scripted outage" };
const OK_GET = GetResponse.fromPartial({ outcome: Outcome.OUTCOME_OK, data: Buffer.from("fake"), version: 1n, ttlSeconds: 60 });

function fakeImplementation(script: Script): Partial<SessionStateServer> {
  return {
    get: (call, callback) => (record(script, "get", call.metadata) ? callback(UNAVAILABLE) : callback(null, OK_GET)),
    set: (call, callback) => (record(script, "set", call.metadata) ? callback(UNAVAILABLE) : callback(null, SetResponse.fromPartial({ version: 2n, written: true }))),
    lock: (call, callback) => {
      record(script, "lock", call.metadata);
      callback(UNAVAILABLE);
    },
    release: (call, callback) => (record(script, "release", call.metadata) ? callback(UNAVAILABLE) : callback(null, ReleaseResponse.fromPartial({ released: true }))),
    expire: (call, callback) => (record(script, "expire", call.metadata) ? callback(UNAVAILABLE) : callback(null, ExpireResponse.fromPartial({ found: true, ttlSeconds: 60 }))),
    remove: (call, callback) => {
      record(script, "remove", call.metadata);
      callback(UNAVAILABLE);
    },
    pipeline: (call) => {
      script.streams++;
      record(script, "pipeline", call.metadata);
      const breakThis = script.breakStreams > 0;
      if (breakThis) script.breakStreams--;
      call.on("data", (request: PipelineRequest) => {
        if (breakThis) {
          // A node that restarts mid-batch: the stream ends, nothing answered.
          call.end();
          return;
        }
        const results: PipelineResponse["results"] = [];
        for (const operation of request.operations) {
          const kind = operation.request?.$case ?? "get";
          script.calls[`pipeline.${kind}`] = (script.calls[`pipeline.${kind}`] ?? 0) + 1;
          if (operation.request?.$case === "get") results.push({ id: operation.id, result: { $case: "get", value: OK_GET } });
          else results.push({ id: operation.id, result: { $case: "set", value: SetResponse.fromPartial({ version: 2n, written: true }) } });
        }
        call.write({ results });
      });
      call.on("end", () => call.end());
    },
  };
}

function startFake(
  script: Script,
  credentials = grpc.ServerCredentials.createInsecure(),
  implementation: Partial<SessionStateServer> = fakeImplementation(script),
): Promise<FakeServer> {
  return startFakeServer(implementation, credentials);
}

function newScript(): Script {
  return { calls: {}, metadata: [], failNext: {}, breakStreams: 0, streams: 0 };
}

describe("transport: retries, metadata, TLS", function () {
  const r = useResources();
  let script: Script;
  let address: string;

  beforeEach(async () => {
    script = newScript();
    const fake = await startFake(script);
    r().defer(() => fake.close());
    address = fake.address;
  });

  describe("unary (grpc-js service config retryPolicy)", function () {
    it("retries Get, Expire and Release on UNAVAILABLE", async () => {
      const client = r().client({ address, transport: "unary", retry: { maxAttempts: 4, initialBackoffMs: 5, maxBackoffMs: 20 } });
      script.failNext = { get: 2, expire: 1, release: 3 };
      assert.equal((await client.get("app", "s1")).outcome, "ok");
      assert.equal(script.calls.get, 3);
      assert.deepEqual(await client.expire("app", "s1"), { outcome: "ok", ttlSeconds: 60 });
      assert.equal(script.calls.expire, 2);
      assert.deepEqual(await client.release("app", "s1", 7n), { outcome: "ok" });
      assert.equal(script.calls.release, 4);
    });

    it("gives up after maxAttempts, with UNAVAILABLE", async () => {
      const client = r().client({ address, transport: "unary", retry: { maxAttempts: 2, initialBackoffMs: 5 } });
      script.failNext = { get: 5 };
      await expectStatewardError(client.get("app", "s1"), status.UNAVAILABLE);
      assert.equal(script.calls.get, 2);
    });

    it("never retries Lock, Set or Remove (they may have run)", async () => {
      const client = r().client({ address, transport: "unary", retry: { maxAttempts: 5, initialBackoffMs: 5 } });
      script.failNext = { set: 1 };
      await expectStatewardError(client.set("app", "s1", "v"), status.UNAVAILABLE);
      await expectStatewardError(client.lock("app", "s1"), status.UNAVAILABLE);
      await expectStatewardError(client.remove("app", "s1"), status.UNAVAILABLE);
      assert.deepEqual([script.calls.set, script.calls.lock, script.calls.remove], [1, 1, 1]);
    });

    it("retry: false disables retries", async () => {
      const client = r().client({ address, transport: "unary", retry: false });
      script.failNext = { get: 1 };
      await expectStatewardError(client.get("app", "s1"), status.UNAVAILABLE);
      assert.equal(script.calls.get, 1);
    });
  });

  describe("pipeline (bounded explicit retries)", function () {
    it("retries a Get whose stream broke, on a new stream", async () => {
      const client = r().client({ address, retry: { maxAttempts: 3, initialBackoffMs: 5 } });
      script.breakStreams = 1;
      assert.equal((await client.get("app", "s1")).outcome, "ok");
      assert.equal(script.streams, 2);
      assert.equal(script.calls["pipeline.get"], 1, "answered once, on the second stream");
    });

    it("never retries a Set whose stream broke: UNAVAILABLE", async () => {
      const client = r().client({ address, retry: { maxAttempts: 5, initialBackoffMs: 5 } });
      script.breakStreams = 1;
      await expectStatewardError(client.set("app", "s1", "v"), status.UNAVAILABLE);
      assert.equal(script.calls["pipeline.set"], undefined);
      assert.deepEqual(await client.set("app", "s1", "v"), { outcome: "ok", version: 2n }, "the next call opens a new stream");
    });

    it("stops retrying at maxAttempts", async () => {
      const client = r().client({ address, retry: { maxAttempts: 2, initialBackoffMs: 5 } });
      script.breakStreams = 5;
      await expectStatewardError(client.get("app", "s1"), status.UNAVAILABLE);
      assert.equal(script.streams, 2);
    });
  });

  describe("metadata", function () {
    it("client metadata goes on unary calls and on pipeline streams; per-call metadata on its call", async () => {
      const client = r().client({ address, metadata: { authorization: "Bearer abc" } });
      await client.get("app", "s1");
      await client.get("app", "s1", { metadata: { "x-request-id": "r-1" } });
      const stream = script.metadata.find((m) => m.method === "pipeline");
      assert.equal(stream?.authorization, "Bearer abc");
      const unary = script.metadata.find((m) => m.method === "get");
      assert.ok(unary !== undefined, "a call with its own metadata travels unary");
      assert.equal(unary["x-request-id"], "r-1");
      assert.equal(unary.authorization, "Bearer abc");
    });

    it("per-call metadata overrides the client's for the same key", async () => {
      const client = r().client({ address, transport: "unary", metadata: new grpc.Metadata() });
      const metadata = new grpc.Metadata();
      metadata.set("x-tenant", "t2");
      const overriding = r().client({ address, transport: "unary", metadata: { "x-tenant": "t1" } });
      await client.get("app", "s1", { metadata });
      await overriding.get("app", "s1", { metadata });
      assert.deepEqual(
        script.metadata.filter((m) => m.method === "get").map((m) => m["x-tenant"]),
        ["t2", "t2"],
      );
    });
  });

  describe("forced release against a server that is not Stateward-aware", function () {
    it("polls a server that ignores wait_ms, and force-releases a lock older than executionTimeout", async () => {
      // A State-Service-like server: answers "locked" at once whatever wait_ms says, and never
      // ends a lock by itself.
      const lockedSince = Date.now();
      let holder: bigint | undefined = 7n;
      const seen = { locks: 0, waitMs: [] as number[], released: [] as bigint[] };
      const legacy = await startFake(newScript(), grpc.ServerCredentials.createInsecure(), {
        lock: (call, callback) => {
          seen.locks++;
          seen.waitMs.push(call.request.waitMs);
          if (holder !== undefined) {
            callback(null, LockResponse.fromPartial({ outcome: Outcome.OUTCOME_LOCKED, lockId: holder, lockAgeMs: BigInt(Date.now() - lockedSince), ttlSeconds: 60 }));
          } else {
            holder = 8n;
            callback(null, LockResponse.fromPartial({ outcome: Outcome.OUTCOME_OK, lockId: 8n, version: 3n, data: Buffer.from("d"), ttlSeconds: 60, leaseMs: 0 }));
          }
        },
        release: (call, callback) => {
          seen.released.push(call.request.lockId);
          const released = call.request.lockId === holder;
          if (released) holder = undefined;
          callback(null, ReleaseResponse.fromPartial({ released }));
        },
      });
      r().defer(() => legacy.close());
      const client = r().client({ address: legacy.address, transport: "unary" });
      const started = Date.now();
      const request = await client.beginRequest("app", "s1", { readOnly: false, waitMs: 5_000, forcedRelease: { executionTimeoutMs: 150, pollIntervalMs: 20 } });
      assert.equal(request.outcome, "ok");
      assert.ok(Date.now() - started >= 100, "waited for the holder to pass executionTimeout");
      assert.deepEqual(seen.released, [7n], "force-released once, with the holder's lock id");
      assert.ok(seen.locks >= 3 && seen.locks < 30, `polled (${seen.locks} lock calls), at the poll interval`);
    });

    it("without forcedRelease a writer just gets locked when the wait runs out", async () => {
      const legacy = await startFake(newScript(), grpc.ServerCredentials.createInsecure(), {
        lock: (_call, callback) => callback(null, LockResponse.fromPartial({ outcome: Outcome.OUTCOME_LOCKED, lockId: 7n, lockAgeMs: 999_999n })),
      });
      r().defer(() => legacy.close());
      const client = r().client({ address: legacy.address, transport: "unary" });
      const request = await client.beginRequest("app", "s1", { readOnly: false, waitMs: 50 });
      assert.equal(request.outcome, "locked");
    });
  });

  describe("TLS", function () {
    // Made for this run (nothing secret is committed); tls-auth.test.ts covers TLS in depth.
    let certs: TestCertificates;
    before(() => {
      certs = makeTestCertificates();
    });
    after(() => certs.remove());

    for (const transport of ["pipeline", "unary"] as const) {
      it(`talks to a TLS server with the given root certificate [${transport}]`, async () => {
        const tlsScript = newScript();
        const fake = await startFake(tlsScript, grpc.ServerCredentials.createSsl(null, [{ private_key: certs.read("server.key"), cert_chain: certs.read("server.pem") }], false));
        r().defer(() => fake.close());
        // By name: a TLS server name may not be an IP address (RFC 6066).
        const byName = fake.address.replace("127.0.0.1", "localhost");
        const client = r().client({ address: byName, transport, tls: { rootCerts: certs.read("ca.pem") } });
        assert.equal((await client.get("app", "s1")).outcome, "ok");
        const insecure = r().client({ address: fake.address, transport, retry: false, defaultTimeoutMs: 1000 });
        await expectStatewardError(insecure.get("app", "s1"), status.UNAVAILABLE);
      });
    }
  });
});
