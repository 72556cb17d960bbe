/**
 * Entry of a worker thread (the "worker processes" dimension of concurrency): runs one
 * {@link WorkSpec} and talks to the pool by messages: `live` counters every 250 ms, `warm` after the
 * warm-up (then waits for `go`), and `done` or `failed` at the end.
 */
import { parentPort, workerData } from "node:worker_threads";
import { runWorkload } from "./workload-runner";
import type { WorkSpec } from "./work-spec";

/** Messages from a worker to the pool. */
export type WorkerMessage =
  | { readonly type: "live"; readonly completed: number; readonly errors: number }
  | { readonly type: "warm" }
  | { readonly type: "done"; readonly result: import("./workload-runner").SerializedLoadResult }
  | { readonly type: "failed"; readonly message: string };

const port = parentPort;
if (port === null) throw new Error("load-worker.js runs only as a worker thread");
const live = { completed: 0, errors: 0 };
const ticker = setInterval(() => port.postMessage({ type: "live", ...live } satisfies WorkerMessage), 250);
ticker.unref();
const go = new Promise<void>((resolve) => port.once("message", () => resolve()));

runWorkload(
  workerData as WorkSpec,
  async () => {
    port.postMessage({ type: "warm" } satisfies WorkerMessage);
    await go;
  },
  live,
).then(
  (result) => {
    clearInterval(ticker);
    port.postMessage({ type: "live", ...live } satisfies WorkerMessage);
    port.postMessage({ type: "done", result } satisfies WorkerMessage);
  },
  (error: unknown) => {
    clearInterval(ticker);
    port.postMessage({ type: "failed", message: error instanceof Error ? error.message : String(error) } satisfies WorkerMessage);
  },
);
