/**
 * The resident scenario: `mixed` with 1 M sessions of 1 KiB resident next to `mixed` on an empty
 * store (its pool only): p99.9 and max side by side, the RSS each resident session costs beyond its
 * payload, and the GC pauses (from the server's own --trace-gc).
 *
 * With two servers (the tool starts them), both exist at once and the measured phase alternates
 * between them in slices, so that whatever else the machine does falls on both runs alike. With
 * one server (given by address) the empty-store run comes first, then the loading, then the run.
 */
import { durationFlag, payloadFlag, reproduceCommand } from "./command-line";
import type { RunResult } from "./report-model";
import { sampleProcess } from "./process-stats";
import { preloadPool } from "./node-run";
import type { LoadTarget, RunContext } from "./run-context";
import { mergeRunSlices } from "./run-merge";
import { SCENARIO_DEFAULTS } from "./scenario-defaults";
import { ensurePool, LOADTEST_APP, runSessionScenario } from "./session-scenario";
import { plural } from "./plural";

/** Slices per run when two servers alternate. */
const SLICES = 2;

/** Lets the server settle before reading its RSS (its expiry ticks and pending GC run). */
function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs the scenario and returns [empty, resident]. `loaded` receives the resident sessions;
 * `empty`, when given, is a second fresh server for the empty-store run.
 */
export async function runResidentScenario(context: RunContext, loaded: LoadTarget, empty?: LoadTarget): Promise<RunResult[]> {
  const options = context.options;
  const pool = options.pool ?? SCENARIO_DEFAULTS.mixed.pool;
  const payload = options.payload ?? SCENARIO_DEFAULTS.mixed.payload;
  const spec = (target: LoadTarget) => ({
    kind: "stateward" as const,
    addresses: target.addresses,
    transport: options.transport,
    app: LOADTEST_APP,
    ...(target.security === undefined ? {} : { security: target.security }),
  });
  let emptyRun: RunResult | undefined;
  if (empty === undefined) {
    emptyRun = await runSessionScenario(context, "mixed", "stateward", loaded, "node");
  } else {
    await ensurePool(context, spec(loaded), pool, payload, loaded.observed?.pid);
  }
  await settle(1000);
  const pid = loaded.observed?.pid;
  const rssBefore = pid === undefined ? undefined : sampleProcess(pid)?.rssBytes;
  loaded.observed?.gc?.reset();
  const preload = await preloadPool(
    spec(loaded),
    { prefix: "resident-", size: options.residentSessions },
    options.residentPayload,
    { workers: 2, channels: 2, inFlight: 64, maxMs: 20 * 60_000 },
    context.progress,
  );
  const preloadGc = loaded.observed?.gc?.summary();
  const failed = Object.values(preload.errors).reduce((sum, count) => sum + count, 0);
  await settle(2000);
  const rssAfter = pid === undefined ? undefined : sampleProcess(pid)?.rssBytes;

  let loadedRun: RunResult;
  if (empty === undefined || emptyRun !== undefined) {
    loadedRun = await runSessionScenario(context, "mixed", "stateward", loaded, "node");
  } else {
    await ensurePool(context, spec(empty), pool, payload, empty.observed?.pid);
    const sliceMs = Math.max(1000, Math.round(options.durationMs / SLICES));
    // The merged runs report the whole measured time: SLICES × sliceMs.
    const emptySlices: RunResult[] = [];
    const loadedSlices: RunResult[] = [];
    for (let slice = 0; slice < SLICES; slice++) {
      emptySlices.push(await runSessionScenario(context, "mixed", "stateward", empty, "node", sliceMs));
      loadedSlices.push(await runSessionScenario(context, "mixed", "stateward", loaded, "node", sliceMs));
    }
    emptyRun = mergeRunSlices(emptySlices);
    loadedRun = mergeRunSlices(loadedSlices);
  }
  if (emptyRun === undefined) throw new Error("the empty-store run is missing");
  // One command reproduces both runs: the scenario, not the slices it is measured in.
  const command = reproduceCommand("resident", {
    duration: durationFlag(options.durationMs),
    warmup: durationFlag(options.warmupMs),
    "in-flight": options.inFlight,
    channels: options.channels,
    workers: options.workers,
    payload: payloadFlag(payload),
    pool,
    "resident-sessions": options.residentSessions,
    "resident-payload": payloadFlag(options.residentPayload),
  });
  const payloadMean = (options.residentPayload.minBytes + options.residentPayload.maxBytes) / 2;
  const perSession = rssBefore !== undefined && rssAfter !== undefined ? (rssAfter - rssBefore) / Math.max(1, preload.written) : undefined;
  const extra: Record<string, number | string> = {
    residentSessions: preload.written,
    preloadFailures: failed,
    preloadSeconds: preload.ms / 1000,
    p999RatioToEmpty: emptyRun.latency.p999 > 0 ? loadedRun.latency.p999 / emptyRun.latency.p999 : 0,
  };
  if (perSession !== undefined) {
    extra.rssPerSessionBytes = perSession;
    extra.rssBeyondPayloadPerSessionBytes = perSession - payloadMean;
  }
  if (preloadGc !== undefined) {
    extra.preloadMaxGcPauseMs = preloadGc.maxPauseMs;
    extra.preloadMaxGcPauseKind = preloadGc.maxPauseKind;
  }
  return [
    {
      ...emptyRun,
      id: "resident-empty-stateward-node",
      command,
      title: `resident · mixed on an empty store (pool only)${empty === undefined ? "" : ", a second server"}`,
      scenario: "resident",
    },
    {
      ...loadedRun,
      id: "resident-loaded-stateward-node",
      command,
      title: `resident · mixed with ${plural(preload.written, "session")} of ${payloadMean} B resident`,
      scenario: "resident",
      extra: { ...loadedRun.extra, ...extra },
      notes: [
        ...loadedRun.notes,
        "RSS per session = (RSS after loading − RSS before) / sessions, read after 2 s of idle; it includes heap not yet collected",
      ],
    },
  ];
}
