/**
 * Entry of the probe thread of the durability group's snapshot run (durability-restart.ts): a
 * unary Get of one session every `periodMs` on its own event loop, so that nothing the tool's main
 * thread does (its writers, its scrapes, its own GC) delays a probe or its answer. Times are
 * epoch ms (`performance.timeOrigin + performance.now()`), comparable with the server's log.
 * Messages: `ready` once the first Get was answered; on `stop` it stops sending, waits for the
 * probes in flight and posts `result`.
 */
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { GrpcUnarySessionOps } from "./grpc-unary-session-ops";

/** What the probe thread is given. */
export interface ProbeSpec {
  readonly address: string;
  readonly app: string;
  readonly sessionId: string;
  readonly periodMs: number;
}

/** What it sends back: per probe its send time and its answer time (NaN: failed), epoch ms. */
export type ProbeMessage =
  | { readonly type: "ready" }
  | { readonly type: "result"; readonly sentAt: number[]; readonly answeredAt: number[]; readonly failed: number };

const port = parentPort;
if (port === null) throw new Error("probe-worker.js runs only as a worker thread");
const spec = workerData as ProbeSpec;
const ops = new GrpcUnarySessionOps(spec.address, spec.app);
const now = (): number => performance.timeOrigin + performance.now();
const sentAt: number[] = [];
const answeredAt: number[] = [];
let inFlight = 0;
let failed = 0;

function send(): void {
  const index = sentAt.length;
  sentAt.push(now());
  answeredAt.push(Number.NaN);
  inFlight++;
  ops.get(spec.sessionId).then(
    () => {
      answeredAt[index] = now();
      inFlight--;
    },
    () => {
      failed++;
      inFlight--;
    },
  );
}

void ops.get(spec.sessionId).then(() => {
  const timer = setInterval(send, spec.periodMs);
  port.postMessage({ type: "ready" } satisfies ProbeMessage);
  port.once("message", () => {
    clearInterval(timer);
    const deadline = Date.now() + 10_000;
    const finish = (): void => {
      if (inFlight > 0 && Date.now() < deadline) {
        setTimeout(finish, 5);
        return;
      }
      ops.close();
      port.postMessage({ type: "result", sentAt, answeredAt, failed } satisfies ProbeMessage);
    };
    finish();
  });
});
