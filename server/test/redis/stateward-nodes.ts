/**
 * Several Stateward processes in front of one Redis deployment, as deployed (server/bin/stateward,
 * `--backend redis`), each with its own unary client, Pipeline client and metrics port, and a way to
 * kill one like a crash. {@link useNodes} registers the teardown that stops every node and closes
 * every client of a test, whatever happens.
 */
import * as assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

import { PipelineClient } from "../../../client/ts/src";
import { startServerProcess, type ServerProcess } from "../fault/server-process";
import { httpGet } from "../helpers/http-get";
import { freePort } from "../helpers/telemetry-test-kit";
import { callsFor, callsOf, newChannelClient, pipelineStartersFor, startersFor, waitFor, type Calls, type Starters } from "../helpers/test-server";

/** The application name every request of these tests uses (the builders' default). */
export const APP = "app";

/** One Stateward node and its clients. */
export interface StatewardNode {
  /** `n0`, `n1`, ... in start order (for messages). */
  readonly name: string;
  /** `127.0.0.1:<port>` of its gRPC port. */
  readonly address: string;
  /** Promisified unary calls (SessionStateClient). */
  readonly call: Calls;
  /** Unary call starters (to cancel a call, or to look at it while it waits). */
  readonly start: Starters;
  /** Calls carried as operations over one Pipeline stream (PipelineClient). */
  readonly pipeline: { readonly call: Calls; readonly start: Starters };
  /** A unary client on a channel of its own (closed in teardown): for many independent clients. */
  newCalls(): Calls;
  /** A Pipeline client of its own (closed in teardown). */
  newPipelineCalls(): Calls;
  /** Calls waiting on this node, as its `stateward_waiters` gauge on /metrics says. */
  waiters(): Promise<number>;
  /** grpc.health.v1 Check of `service` ("" = the server): SERVING, NOT_SERVING, ... */
  health(service?: string): Promise<string>;
  /** Kills the process with SIGKILL (no shutdown, nothing released) and closes its clients. */
  kill(): Promise<void>;
  /** Stops it gracefully (SIGTERM). */
  stop(): Promise<void>;
}

/** The flags that put a node on Redis: one URL, or a cluster's seeds, and the key prefix. */
export type RedisTarget = { readonly url: string; readonly prefix: string } | { readonly seeds: string; readonly prefix: string };

let prefixes = 0;

/** A key prefix no other test uses, so that tests sharing one Redis never see each other's keys. */
export function uniquePrefix(): string {
  prefixes += 1;
  return `swt${process.pid}-${prefixes}:`;
}

/** The redis flags of {@link RedisTarget}. */
function redisFlags(target: RedisTarget): string[] {
  const where = "url" in target ? ["--redis-url", target.url] : ["--redis-cluster", target.seeds];
  return ["--backend", "redis", ...where, "--redis-prefix", target.prefix];
}

interface HealthClient extends grpc.Client {
  check(request: { service: string }, options: Partial<grpc.CallOptions>, callback: (error: grpc.ServiceError | null, response: { status: string }) => void): void;
}

function healthClientFor(address: string): HealthClient {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  return new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}

/** Parses the `stateward_waiters` gauge out of a Prometheus exposition. */
function waitersGauge(exposition: string): number {
  const match = /^stateward_waiters(?:\{[^}]*\})? (\d+(?:\.\d+)?)/m.exec(exposition);
  assert.ok(match?.[1] !== undefined, "/metrics has a stateward_waiters gauge");
  return Number(match[1]);
}

/** The nodes of one test; stopped by its teardown. */
export class NodeSet {
  readonly #processes: ServerProcess[] = [];
  readonly #closers: (() => void)[] = [];

  /** Starts `count` nodes (in parallel) on `target`, each with `flags` too. */
  async start(count: number, target: RedisTarget, flags: readonly string[] = []): Promise<StatewardNode[]> {
    return Promise.all(Array.from({ length: count }, () => this.startOne(target, flags)));
  }

  /** Starts one node on `target`. */
  async startOne(target: RedisTarget, flags: readonly string[] = []): Promise<StatewardNode> {
    const name = `n${this.#processes.length}`;
    const metricsPort = await freePort();
    const process = await startServerProcess([...redisFlags(target), "--metrics-port", String(metricsPort), ...flags]);
    this.#processes.push(process);
    const closers: (() => void)[] = [];
    const track = <T extends { close(): void }>(client: T): T => {
      closers.push(() => client.close());
      this.#closers.push(() => client.close());
      return client;
    };
    const unary = track(newChannelClient(process.address));
    const pipelined = track(new PipelineClient(process.address, grpc.credentials.createInsecure(), { channelOptions: { "grpc.use_local_subchannel_pool": 1 } }));
    const health = track(healthClientFor(process.address));
    const pipelineStart = pipelineStartersFor(pipelined);
    const closeClients = (): void => {
      for (const close of closers.splice(0)) close();
    };
    return {
      name,
      address: process.address,
      call: callsFor(unary),
      start: startersFor(unary),
      pipeline: { start: pipelineStart, call: callsOf(pipelineStart) },
      newCalls: () => callsFor(track(newChannelClient(process.address))),
      newPipelineCalls: () =>
        callsOf(
          pipelineStartersFor(track(new PipelineClient(process.address, grpc.credentials.createInsecure(), { channelOptions: { "grpc.use_local_subchannel_pool": 1 } }))),
        ),
      waiters: async () => {
        const answer = await httpGet(metricsPort, "/metrics");
        assert.equal(answer.status, 200, `GET /metrics on ${name}`);
        return waitersGauge(answer.body);
      },
      health: (service = "") =>
        new Promise<string>((resolve, reject) => {
          health.check({ service }, { deadline: new Date(Date.now() + 2000) }, (error, response) => (error ? reject(error) : resolve(response.status)));
        }),
      kill: async () => {
        await process.kill("SIGKILL");
        closeClients();
      },
      stop: async () => {
        closeClients();
        await process.stop();
      },
    };
  }

  /** Closes every client and stops every node (SIGTERM, SIGKILL after 3 s). */
  async stopAll(): Promise<void> {
    for (const close of this.#closers.splice(0)) close();
    await Promise.all(this.#processes.splice(0).map((p) => p.stop()));
  }
}

/** Registers a per-test {@link NodeSet} whose nodes are stopped in `afterEach`. */
export function useNodes(): () => NodeSet {
  let current: NodeSet | undefined;
  beforeEach(() => {
    current = new NodeSet();
  });
  afterEach(async () => {
    const nodes = current;
    current = undefined;
    await nodes?.stopAll();
  });
  return () => {
    assert.ok(current, "useNodes() is valid inside a test");
    return current;
  };
}

/** Waits until `node` reports `n` waiting calls. */
export async function waitForWaitersOn(node: StatewardNode, n: number, timeoutMs = 5000): Promise<void> {
  let last = -1;
  await waitFor(async () => (last = await node.waiters()) === n, `${n} waiter(s) on ${node.name} (have ${last})`, timeoutMs);
}

/** The hash tag of a session's keys: `{` + base64url(app + "\n" + session id) + `}`. */
export function sessionHashTag(sessionId: string, app = APP): string {
  return `{${Buffer.from(`${app}\n${sessionId}`).toString("base64url")}}`;
}
