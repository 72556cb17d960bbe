/**
 * Fault suite: clients that do not read what they asked for (audit defects 2 and 6). A real server
 * process is given never-read and slow Pipeline streams and a stopped Watch consumer; its RSS,
 * sampled from /proc, must stay within per-stream bounds, and a slow reader still gets everything.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { connect, type ClientHttp2Session } from "node:http2";
import { credentials } from "@grpc/grpc-js";
import {
  LockRequest,
  Outcome,
  PipelineRequest,
  SessionStateClient,
  SetRequest,
  type PipelineOperation,
  type PipelineResponse,
} from "../../../client/ts/src";
import { frameGrpcMessage } from "../../../loadtest/src/grpc-framing";
import { callsFor } from "../helpers/test-server";
import { startServerProcess, type ServerProcess } from "./server-process";

const MIB = 1024 * 1024;
const PAYLOAD = 256 * 1024;
const SESSIONS = 32;
const GETS_PER_STREAM = 256;

/** What one never-read stream may cost the server: 4 MiB unsent plus 4 MiB queued, and copies. */
const PER_STREAM_BOUND = 16 * MIB;

/**
 * Opens a Pipeline call over a raw HTTP/2 session, sends one request message and never reads the
 * responses (grpc-js's client would keep reading into its own buffers even when paused).
 */
function rawPipelineCall(address: string, request: PipelineRequest): ClientHttp2Session {
  const session = connect(`http://${address}`);
  session.on("error", () => undefined);
  const stream = session.request({
    ":method": "POST",
    ":path": "/stateward.v1.SessionState/Pipeline",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", () => undefined);
  stream.pause();
  stream.write(frameGrpcMessage(PipelineRequest.encode(request).finish()));
  return session;
}

/** `count` Gets of the test's sessions, with correlation ids from `firstId`. */
function gets(count: number, firstId: number): PipelineOperation[] {
  return Array.from({ length: count }, (_, i) => ({
    id: BigInt(firstId + i),
    timeoutMs: 0,
    request: { $case: "get" as const, value: { app: "stuck", sessionId: `s-${i % SESSIONS}`, waitMs: 0 } },
  }));
}

describe("fault: consumers that do not read", function () {
  this.timeout(120_000);
  let server: ServerProcess | undefined;
  const clients: SessionStateClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.stop();
    server = undefined;
  });

  async function start(flags: string[] = []): Promise<{ s: ServerProcess; client: SessionStateClient }> {
    const s = await startServerProcess(["--max-memory", "512MiB", ...flags]);
    server = s;
    const client = new SessionStateClient(s.address, credentials.createInsecure(), { "grpc.max_receive_message_length": 64 * MIB });
    clients.push(client);
    const { set } = callsFor(client);
    for (let i = 0; i < SESSIONS; i++) await set({ app: "stuck", sessionId: `s-${i}`, data: Buffer.alloc(PAYLOAD, i) });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { s, client };
  }

  it("bounds what never-read Pipeline streams cost, and a slow reader still gets every result", async () => {
    const { s } = await start();
    const empty = s.rss();
    const streams = 8;
    // 8 raw HTTP/2 streams that ask for 256 Gets of 256 KiB each (64 MiB of results per stream)
    // and never read: Node's HTTP/2 then grants no flow-control window beyond the first 64 KiB.
    const sessions = Array.from({ length: streams }, () => rawPipelineCall(s.address, { operations: gets(GETS_PER_STREAM, 1), cancelIds: [] }));
    let peak = 0;
    try {
      for (let i = 0; i < 20; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        peak = Math.max(peak, s.rss() - empty);
      }
    } finally {
      for (const session of sessions) session.destroy();
    }
    assert.ok(peak <= streams * PER_STREAM_BOUND + 64 * MIB, `never-read streams cost ${(peak / MIB).toFixed(1)} MiB (bound ${(streams * PER_STREAM_BOUND) / MIB + 64} MiB)`);

    // A slow reader: takes one message, then waits, again and again; it gets all 256 results.
    const slowClient = new SessionStateClient(s.address, credentials.createInsecure(), { "grpc.max_receive_message_length": 6 * MIB, "grpc.use_local_subchannel_pool": 1 });
    clients.push(slowClient);
    const slow = slowClient.pipeline();
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      slow.on("data", (response: PipelineResponse) => {
        received += response.results.length;
        for (const result of response.results) assert.equal(result.result?.$case, "get");
        slow.pause();
        setTimeout(() => slow.resume(), 20);
        if (received === GETS_PER_STREAM) resolve();
      });
      slow.on("error", reject);
    });
    slow.write({ operations: gets(GETS_PER_STREAM, 1), cancelIds: [] });
    await done;
    slow.end();
  });

  it("releases a lock grant its client never got when the stream breaks, and ends a stream whose waiting results pile up", async () => {
    const { s, client } = await start();
    const { lock, release, get } = callsFor(client);
    // (1) A grant that sits behind 16 MiB of unread Gets when the stream breaks.
    const held = await lock({ app: "stuck", sessionId: "held", create: true, leaseMs: 600_000 });
    const waitingLock: PipelineOperation = { id: 1n, timeoutMs: 0, request: { $case: "lock", value: LockRequest.fromPartial({ app: "stuck", sessionId: "held", waitMs: 60_000, leaseMs: 600_000 }) } };
    const session = rawPipelineCall(s.address, { operations: [waitingLock, ...gets(64, 2)], cancelIds: [] });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await release({ app: "stuck", sessionId: "held", lockId: held.lockId });
    await new Promise((resolve) => setTimeout(resolve, 200));
    session.destroy();
    let state = await get({ app: "stuck", sessionId: "held" });
    for (let i = 0; i < 50 && state.outcome !== Outcome.OUTCOME_OK; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      state = await get({ app: "stuck", sessionId: "held" });
    }
    assert.equal(state.outcome, Outcome.OUTCOME_OK, "the undelivered grant was released, not left to its lease");

    // (2) 640 waiting Gets of 256 KiB sessions answered at once (160 MiB) to a client that reads nothing.
    const holders = await Promise.all(
      Array.from({ length: 16 }, (_, i) => lock({ app: "stuck", sessionId: `s-${i}`, leaseMs: 600_000 })),
    );
    const empty = s.rss();
    const waiting: PipelineOperation[] = Array.from({ length: 640 }, (_, i) => ({
      id: BigInt(i + 1),
      timeoutMs: 0,
      request: { $case: "get", value: { app: "stuck", sessionId: `s-${i % 16}`, waitMs: 60_000 } },
    }));
    const piling = rawPipelineCall(s.address, { operations: waiting, cancelIds: [] });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await Promise.all(holders.map((holder, i) => release({ app: "stuck", sessionId: `s-${i}`, lockId: holder.lockId })));
    let peak = 0;
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      peak = Math.max(peak, s.rss() - empty);
    }
    piling.destroy();
    assert.ok(peak <= 128 * MIB, `results piling up for a client that does not read cost ${(peak / MIB).toFixed(1)} MiB`);
  });

  it("bounds what a stopped Watch consumer costs while 50,000 sessions end, and drops it", async () => {
    const { s, client } = await start();
    // A watcher process that stops (SIGSTOP) reads nothing any more: its socket's windows fill up.
    const child = spawn(process.execPath, ["-r", "tsx/cjs", path.join(__dirname, "..", "fixtures", "watch-counter.ts"), s.address, "w", "1000000"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    try {
      for (let wait = 0; !output.includes("ready") && wait < 400; wait++) await new Promise((resolve) => setTimeout(resolve, 25));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      child.kill("SIGSTOP");
      const pipeline = client.pipeline();
      pipeline.on("error", () => undefined);
      const empty = s.rss();
      let peak = 0;
      let answered = 0;
      pipeline.on("data", (response: PipelineResponse) => (answered += response.results.length));
      let id = 1;
      for (let round = 0; round < 100; round++) {
        const operations: PipelineOperation[] = [];
        for (let i = 0; i < 500; i++) {
          const sessionId = `gone-${round}-${i}-${"x".repeat(64)}`;
          operations.push({ id: BigInt(id++), timeoutMs: 0, request: { $case: "set", value: SetRequest.fromPartial({ app: "w", sessionId }) } });
          operations.push({ id: BigInt(id++), timeoutMs: 0, request: { $case: "remove", value: { app: "w", sessionId, lockId: 0n } } });
        }
        pipeline.write({ operations, cancelIds: [] });
        const target = (round + 1) * 1000;
        for (let wait = 0; answered < target && wait < 400; wait++) await new Promise((resolve) => setTimeout(resolve, 5));
        // Spread over more than the watcher's 1 s stall allowance.
        await new Promise((resolve) => setTimeout(resolve, 15));
        peak = Math.max(peak, s.rss() - empty);
      }
      assert.equal(answered, 100_000, "the store kept going");
      assert.ok(peak <= 64 * MIB, `a stopped watcher cost ${(peak / MIB).toFixed(1)} MiB`);
      pipeline.end();
      child.kill("SIGCONT");
      await exited;
    } finally {
      child.kill("SIGCONT");
      child.kill();
    }
    const result = JSON.parse(output.trim().split("\n").pop() ?? "{}") as { events?: number; code?: number };
    assert.equal(result.code, 8, `the watcher was dropped with RESOURCE_EXHAUSTED: ${output}`);
    assert.ok((result.events ?? 0) < 50_000);
  });
});
