/**
 * Runs a workload on several threads at once (worker_threads; one thread runs in-process) and
 * merges what they measured.
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import { mergeRecordings } from "./interval-timeline";
import { LatencyHistogram } from "./latency-histogram";
import type { LiveCounters, LoadResult } from "./load-driver";
import type { WorkerMessage } from "./load-worker";
import { runWorkload, type SerializedLoadResult } from "./workload-runner";
import type { WorkSpec } from "./work-spec";

/** Callbacks of {@link runOnThreads}. */
export interface PoolHooks {
  /** Called once every thread has warmed up, right before the measured phase (sample CPU here). */
  readonly beforeMeasure: () => void;
  /** Sum of the threads' live counters, kept current while the run goes on. */
  readonly live: LiveCounters;
}

/** Merges the results of several threads into one. */
export function mergeResults(results: readonly SerializedLoadResult[]): LoadResult {
  const histogram = new LatencyHistogram();
  const outcomes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let completed = 0;
  let measuredMs = 0;
  let warmupRequests = 0;
  for (const result of results) {
    histogram.add(LatencyHistogram.decode(result.histogram));
    for (const [key, count] of Object.entries(result.outcomes)) outcomes[key] = (outcomes[key] ?? 0) + count;
    for (const [key, count] of Object.entries(result.errors)) errors[key] = (errors[key] ?? 0) + count;
    completed += result.completed;
    measuredMs = Math.max(measuredMs, result.measuredMs);
    warmupRequests += result.warmupRequests;
  }
  const intervals = mergeRecordings(results.map((result) => ({ counts: result.timeline, latency: result.intervalLatency })));
  return { histogram, outcomes, errors, timeline: intervals.counts, intervalLatency: intervals.latency, completed, measuredMs, warmupRequests };
}

function workerEntry(): { file: string; execArgv: string[] } {
  // Under tsx (tests, development) the sources are .ts and the worker needs tsx's loader too.
  const typescript = __filename.endsWith(".ts");
  return {
    file: path.join(__dirname, typescript ? "load-worker.ts" : "load-worker.js"),
    execArgv: typescript ? ["--require", "tsx/cjs"] : [],
  };
}

function runInWorker(spec: WorkSpec, onWarm: () => Promise<void>, live: LiveCounters[], slot: number): Promise<SerializedLoadResult> {
  const { file, execArgv } = workerEntry();
  const worker = new Worker(file, { workerData: spec, execArgv });
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.on("message", (message: WorkerMessage) => {
      switch (message.type) {
        case "live":
          live[slot] = { completed: message.completed, errors: message.errors };
          break;
        case "warm":
          void onWarm().then(() => worker.postMessage("go"));
          break;
        case "done":
          settled = true;
          resolve(message.result);
          void worker.terminate();
          break;
        case "failed":
          settled = true;
          reject(new Error(message.message));
          void worker.terminate();
          break;
      }
    });
    worker.on("error", (error) => {
      if (!settled) reject(error);
      settled = true;
    });
    worker.on("exit", (code) => {
      if (!settled) reject(new Error(`load worker exited with code ${code}`));
      settled = true;
    });
  });
}

/**
 * Runs one spec per thread: a single spec in this thread, several on worker threads. The measured
 * phase starts on every thread together, after `hooks.beforeMeasure()`.
 */
export async function runOnThreads(specs: readonly WorkSpec[], hooks: PoolHooks): Promise<LoadResult> {
  let warmCount = 0;
  let releaseAll: () => void = () => undefined;
  const allWarm = new Promise<void>((resolve) => {
    releaseAll = resolve;
  });
  const onWarm = async (): Promise<void> => {
    warmCount++;
    if (warmCount === specs.length) {
      hooks.beforeMeasure();
      releaseAll();
    }
    await allWarm;
  };
  if (specs.length === 1 && specs[0] !== undefined) {
    return mergeResults([await runWorkload(specs[0], onWarm, hooks.live)]);
  }
  const perThread: LiveCounters[] = specs.map(() => ({ completed: 0, errors: 0 }));
  const timer = setInterval(() => {
    hooks.live.completed = perThread.reduce((sum, counters) => sum + counters.completed, 0);
    hooks.live.errors = perThread.reduce((sum, counters) => sum + counters.errors, 0);
  }, 100);
  try {
    const results = await Promise.all(specs.map((spec, slot) => runInWorker(spec, onWarm, perThread, slot)));
    return mergeResults(results);
  } finally {
    clearInterval(timer);
  }
}
