/**
 * The HTTP health checks (`/healthz`, `/readyz`) for load balancers that do not speak gRPC: on
 * `--health-port` alone and beside `/metrics` on `--metrics-port`, over real HTTP against a real
 * server. Readiness follows the same state as grpc.health.v1: 503 before the gRPC port is bound and
 * from the moment a shutdown begins, through the drain, while liveness stays 200.
 */
import * as assert from "node:assert/strict";
import http from "node:http";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { resolveConfig, startServer, type StartedServer } from "../src/index";
import { startHealthEndpoint } from "../src/http/health-routes";
import type { HttpEndpoint } from "../src/http/http-listener";
import { ServingState } from "../src/serving-state";
import { httpRequest } from "./helpers/http-get";
import { freePort, unary } from "./helpers/telemetry-test-kit";
import { GetRequest, SetRequest } from "../../client/ts/src";
import { grpc, newChannelClient, waitFor, withTimeout } from "./helpers/test-server";

/** Resolves with the connection error once nothing listens on `port` any more. */
async function refused(port: number): Promise<string> {
  const error = await httpRequest(port, "/healthz").then(
    (answer) => assert.fail(`expected the port to be closed, got HTTP ${answer.status}`),
    (failure: unknown) => failure as NodeJS.ErrnoException,
  );
  return error.code ?? String(error);
}

// ---- grpc.health.v1 and an open stream, as a client sees them ------------------------------------

interface HealthClient extends grpc.Client {
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

function healthClient(address: string): HealthClient {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  return new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}

/**
 * Opens a server-reflection stream and leaves it open: a call the server cannot end by itself, so a
 * graceful shutdown stays in its drain until the stream is ended (or the grace period is over).
 */
async function openReflectionStream(address: string): Promise<{ end(): void; close(): void }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const identity = (buffer: Buffer): Buffer => buffer;
  const call = client.makeBidiStreamRequest("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", identity, identity);
  const answered = new Promise<void>((resolve, reject) => {
    call.once("data", () => resolve());
    call.once("error", reject);
  });
  call.on("error", () => undefined);
  // ServerReflectionRequest { list_services: "" } (field 7, length-delimited, empty).
  call.write(Buffer.from([0x3a, 0x00]));
  await withTimeout(answered, 5000, "the reflection answer");
  return { end: () => call.end(), close: () => client.close() };
}

async function startWith(flags: readonly string[]): Promise<StartedServer> {
  const config = resolveConfig(["--host", "127.0.0.1", "--port", "0", "--log-level", "silent", ...flags], {});
  return startServer(config);
}

// ---- tests ------------------------------------------------------------------------------------

describe("HTTP health checks", () => {
  let server: StartedServer | undefined;
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    const s = server;
    server = undefined;
    if (s !== undefined) {
      await withTimeout(s.shutdown(), 5000, "server.shutdown()").catch((error: unknown) => {
        s.forceShutdown();
        throw error;
      });
    }
  });

  describe("on --health-port", () => {
    it("answers /healthz and /readyz 200 while serving (GET and HEAD, never cached), 405 for other methods, 404 elsewhere", async () => {
      const port = await freePort();
      server = await startWith(["--health-port", String(port)]);
      assert.equal(server.healthPort, port);
      assert.equal(server.metricsPort, undefined, "no metrics endpoint is started for the health checks");

      const live = await httpRequest(port, "/healthz");
      assert.deepEqual([live.status, live.body], [200, "ok\n"]);
      assert.match(String(live.headers["content-type"]), /^text\/plain/);
      assert.equal(live.headers["cache-control"], "no-store");
      const ready = await httpRequest(port, "/readyz?verbose");
      assert.deepEqual([ready.status, ready.body], [200, "ready\n"]);
      assert.equal(ready.headers["cache-control"], "no-store");

      const head = await httpRequest(port, "/readyz", "HEAD");
      assert.deepEqual([head.status, head.body], [200, ""]);
      const post = await httpRequest(port, "/readyz", "POST");
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, "GET, HEAD");
      const metrics = await httpRequest(port, "/metrics");
      assert.equal(metrics.status, 404, "the health port serves no metrics");
      assert.match(metrics.body, /\/healthz and \/readyz/);
    });

    it("with --shutdown-delay-ms, says 503 while it goes on serving new connections, then drains", async () => {
      const port = await freePort();
      server = await startWith(["--health-port", String(port), "--shutdown-delay-ms", "1500"]);
      const started = server;
      const begun = Date.now();
      let stopped = false;
      const stopping = started.shutdown().then(() => {
        stopped = true;
      });
      assert.equal((await httpRequest(port, "/readyz")).status, 503);
      // A client that connects only now, after the 503: still served.
      const client = newChannelClient(started.address);
      cleanups.push(() => client.close());
      await unary(client, client.set, SetRequest.fromPartial({ app: "shop", sessionId: "during-delay", data: Buffer.from("x") }));
      const got = await unary(client, client.get, GetRequest.fromPartial({ app: "shop", sessionId: "during-delay" }));
      assert.equal(Buffer.from(got.data).toString(), "x");
      assert.equal(stopped, false, "still in the delay");
      await withTimeout(stopping, 10_000, "the shutdown after its delay");
      assert.ok(Date.now() - begun >= 1400, `the drain began after the delay (${Date.now() - begun} ms)`);
      assert.equal(await refused(port), "ECONNREFUSED");
      server = undefined;
    });

    it("with --shutdown-delay-ms, a forced shutdown cuts the delay short", async () => {
      server = await startWith(["--shutdown-delay-ms", "600000"]);
      const stopping = server.shutdown();
      server.forceShutdown();
      await withTimeout(stopping, 5000, "the shutdown() promise after forceShutdown");
      server = undefined;
    });

    it("turns /readyz to 503 when a shutdown begins, with grpc.health.v1 turning NOT_SERVING, keeps /healthz 200 through the drain, then closes", async () => {
      const port = await freePort();
      // A long grace period: only the end of the open stream below may finish the drain.
      server = await startWith(["--health-port", String(port), "--shutdown-grace-ms", "60000"]);
      const started = server;
      const health = healthClient(started.address);
      cleanups.push(() => health.close());
      const statuses: string[] = [];
      const watch = health.watch({ service: "" });
      watch.on("data", (message: { status: string }) => statuses.push(message.status));
      watch.on("error", () => undefined);
      const watchEnded = new Promise<void>((resolve) => watch.once("end", () => resolve()));
      await waitFor(() => statuses.length > 0, "the first health status");
      assert.deepEqual(statuses, ["SERVING"]);
      assert.equal((await httpRequest(port, "/readyz")).status, 200);

      const reflection = await openReflectionStream(started.address);
      cleanups.push(() => reflection.close());
      let stopped = false;
      const stopping = started.shutdown().then(() => {
        stopped = true;
      });

      // Readiness flips at once and stays 503 for as long as the drain lasts.
      const notReady = await httpRequest(port, "/readyz");
      assert.deepEqual([notReady.status, notReady.body], [503, "not ready: shutting down\n"]);
      assert.equal(notReady.headers["cache-control"], "no-store");
      await withTimeout(watchEnded, 5000, "the health Watch to end");
      assert.deepEqual(statuses, ["SERVING", "NOT_SERVING"], "gRPC health turned NOT_SERVING with it");
      for (let i = 0; i < 3; i++) {
        assert.equal(stopped, false, "the open stream holds the drain");
        assert.equal((await httpRequest(port, "/readyz")).status, 503);
        assert.equal((await httpRequest(port, "/healthz")).status, 200, "liveness holds during the drain");
      }

      reflection.end();
      await withTimeout(stopping, 10_000, "the drain to finish once the stream ends");
      assert.equal(await refused(port), "ECONNREFUSED", "the health port is closed once the server stopped");
    });

    it("is refused on the gRPC port or the metrics port, naming both options", () => {
      assert.throws(() => resolveConfig(["--port", "9000", "--health-port", "9000"], {}), /--health-port \(STATEWARD_HEALTH_PORT\) is 9000, the same as --port \(STATEWARD_PORT\): the health checks need a port of their own/);
      assert.throws(
        () => resolveConfig(["--metrics-port", "9464", "--health-port", "9464"], {}),
        /--health-port \(STATEWARD_HEALTH_PORT\).*--metrics-port \(STATEWARD_METRICS_PORT\), which serves \/healthz and \/readyz already/,
      );
      assert.equal(resolveConfig([], { STATEWARD_HEALTH_PORT: "8080" }).healthPort, 8080);
      assert.throws(() => resolveConfig(["--health-port", "65536"], {}), /--health-port.*0 to 65535/);
    });

    it("fails the start with a message naming the port when it is taken", async () => {
      const taken = http.createServer();
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
      cleanups.push(() => taken.close());
      const port = (taken.address() as { port: number }).port;
      await assert.rejects(startWith(["--health-port", String(port)]), new RegExp(`port ${port} is in use; pick another with --health-port`));
    });

    it("is closed again when the metrics port or the gRPC port cannot be bound", async () => {
      const taken = http.createServer();
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
      cleanups.push(() => taken.close());
      const takenPort = String((taken.address() as { port: number }).port);
      for (const flag of ["--metrics-port", "--port"]) {
        const port = await freePort();
        const argv = ["--host", "127.0.0.1", "--port", "0", "--health-port", String(port), "--log-level", "silent", flag, takenPort];
        await assert.rejects(startServer(resolveConfig(argv, {})), new RegExp(`port ${takenPort} is in use; pick another with ${flag}$`), flag);
        assert.equal(await refused(port), "ECONNREFUSED", `nothing left listening after ${flag} failed`);
      }
    });

    it("opens no port at all when the start fails before the bind (here: the backend cannot be made)", async () => {
      const healthPort = await freePort();
      const metricsPort = await freePort();
      const argv = ["--host", "127.0.0.1", "--port", "0", "--health-port", String(healthPort), "--metrics-port", String(metricsPort), "--log-level", "silent"];
      const broken = (): never => {
        throw new Error("no backend today");
      };
      await assert.rejects(startServer(resolveConfig(argv, {}), { backend: broken }), /no backend today/);
      assert.equal(await refused(healthPort), "ECONNREFUSED");
      assert.equal(await refused(metricsPort), "ECONNREFUSED");
    });
  });

  describe("on --metrics-port", () => {
    it("serves /healthz and /readyz beside /metrics, and 503 from the start of a shutdown", async () => {
      const port = await freePort();
      server = await startWith(["--metrics-port", String(port), "--shutdown-grace-ms", "60000"]);
      const started = server;
      assert.equal(started.healthPort, undefined);
      const metrics = await httpRequest(port, "/metrics");
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^# (HELP|TYPE) /m);
      assert.deepEqual([(await httpRequest(port, "/healthz")).status, (await httpRequest(port, "/readyz")).status], [200, 200]);
      assert.equal((await httpRequest(port, "/nowhere")).status, 404);

      const reflection = await openReflectionStream(started.address);
      cleanups.push(() => reflection.close());
      const stopping = started.shutdown();
      const notReady = await httpRequest(port, "/readyz");
      assert.deepEqual([notReady.status, notReady.body], [503, "not ready: shutting down\n"]);
      assert.equal((await httpRequest(port, "/healthz")).status, 200);
      reflection.end();
      await withTimeout(stopping, 10_000, "the drain to finish once the stream ends");
    });
  });

  describe("the routes over each phase of the serving state", () => {
    let endpoint: HttpEndpoint | undefined;
    afterEach(async () => {
      await endpoint?.close();
      endpoint = undefined;
    });

    it("answers 503 (starting) before the gRPC port is bound, 200 once serving, 503 (shutting down) for good after", async () => {
      const state = new ServingState();
      endpoint = await startHealthEndpoint("127.0.0.1", 0, state);
      const readiness = async (): Promise<[number, string]> => {
        const answer = await httpRequest(endpoint?.port ?? 0, "/readyz");
        return [answer.status, answer.body];
      };
      assert.deepEqual(await readiness(), [503, "not ready: starting\n"]);
      assert.equal((await httpRequest(endpoint.port, "/healthz")).status, 200, "live while starting");
      state.serve();
      assert.deepEqual(await readiness(), [200, "ready\n"]);
      state.stop();
      assert.deepEqual(await readiness(), [503, "not ready: shutting down\n"]);
      state.serve();
      assert.deepEqual(await readiness(), [503, "not ready: shutting down\n"], "a stopped server never serves again");
    });
  });
});
