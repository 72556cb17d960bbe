/**
 * Durability of the memory backend (issue 15), the suite's `durability` group:
 *
 * 1. Throughput: three servers alive at once, alike but for durability: memory only, `--data-dir
 *    --fsync everysec` and `--data-dir --fsync always` (default snapshot settings, so their
 *    snapshots run during the load as they would in production). Set and Lock+Set through the
 *    client library's PipelineClient at the command line's concurrency, payloads and duration (those
 *    of the pipeline group), alternating in slices (A-B-C-C-B-A…, alternating-runs.ts). Around each
 *    workload the durable servers' /metrics are scraped: the increase of
 *    stateward_persistence_fsync_duration_seconds_count is the number of fdatasyncs, the increase of
 *    the successful Set and Lock operations (rpc_server_call_duration_seconds_count) the changes
 *    they made; changes ÷ fdatasyncs is how many writes share one sync (group commit).
 * 2. Restart and 3. snapshot pause: durability-restart.ts.
 *
 * Every data directory is under one mkdtemp directory in the OS's temporary directory, removed at
 * the end whatever happens.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runAlternatingSides, suiteGroupCommand } from "./alternating-runs";
import { runRestartAndSnapshot } from "./durability-restart";
import {
  DURABILITY_MODES,
  DURABILITY_WORKLOADS,
  durabilityRunId,
  durabilityServerArgs,
  type DurabilityMode,
} from "./durability-runs";
import { findFreePort } from "./free-port";
import { parsePrometheusText, type PrometheusSample } from "./prometheus-text";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import { scrapeMetrics } from "./soak-sampler";

/** What the durable servers' /metrics say about syncs and changes. */
export interface SyncCounters {
  /** fdatasyncs of the log (the fsync histogram's count). */
  readonly fsyncs: number;
  /** Seconds spent in them (the histogram's sum). */
  readonly fsyncSeconds: number;
  /** Successful Set and Lock operations: each changed state and wrote a record. */
  readonly changes: number;
}

const FSYNC_METRIC = "stateward_persistence_fsync_duration_seconds";
const CALLS_METRIC = "rpc_server_call_duration_seconds_count";
/** Outcomes that changed state, by method: a Lock that took the lock, a Set that wrote. */
const CHANGING_OUTCOMES: Readonly<Record<string, string>> = {
  "stateward.v1.SessionState/Set": "written",
  "stateward.v1.SessionState/Lock": "ok",
};

function sumOf(samples: readonly PrometheusSample[], name: string, keep: (sample: PrometheusSample) => boolean = () => true): number {
  return samples.filter((sample) => sample.name === name && keep(sample)).reduce((sum, sample) => sum + sample.value, 0);
}

/** Reads {@link SyncCounters} from a scrape (a histogram not yet recorded counts as 0). */
export function syncCountersOf(text: string): SyncCounters {
  const samples = parsePrometheusText(text);
  return {
    fsyncs: sumOf(samples, `${FSYNC_METRIC}_count`),
    fsyncSeconds: sumOf(samples, `${FSYNC_METRIC}_sum`),
    changes: sumOf(
      samples,
      CALLS_METRIC,
      (sample) => {
        const outcome = CHANGING_OUTCOMES[sample.labels["rpc_method"] ?? ""];
        return outcome !== undefined && sample.labels["stateward_outcome"] === outcome;
      },
    ),
  };
}

/** A server of the throughput comparison. */
interface ModeServer {
  readonly mode: DurabilityMode;
  readonly target: LoadTarget;
  readonly metricsPort: number;
}

const LABELS: Readonly<Record<DurabilityMode, string>> = {
  memory: "memory only",
  everysec: "--fsync everysec",
  always: "--fsync always",
};

/** Runs the durability group: per workload memory only, everysec, always; then restart and snapshot. */
export async function runDurabilityGroup(context: RunContext): Promise<RunResult[]> {
  const root = mkdtempSync(path.join(os.tmpdir(), "stateward-durability-"));
  const runs: RunResult[] = [];
  try {
    runs.push(...(await runThroughput(context, root)));
    runs.push(...(await runRestartAndSnapshot(context, path.join(root, "restart"))));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return runs;
}

async function runThroughput(context: RunContext, root: string): Promise<RunResult[]> {
  const servers: ModeServer[] = [];
  const runs: RunResult[] = [];
  try {
    for (const mode of DURABILITY_MODES) {
      const metricsPort = await findFreePort();
      const target = await context.stateward("plaintext", { serverArgs: durabilityServerArgs(mode, path.join(root, mode), metricsPort) });
      servers.push({ mode, target, metricsPort });
    }
    const pipelined = context.withOptions({ transport: "pipeline" });
    const command = suiteGroupCommand("durability", context.options, { "durability-sessions": context.options.durabilitySessions });
    for (const scenario of DURABILITY_WORKLOADS) {
      const before = await Promise.all(servers.map((server) => scrapeMetrics(server.metricsPort, 10_000)));
      const results = await runAlternatingSides(
        pipelined,
        scenario,
        servers.map((server) => ({ kind: "stateward" as const, target: server.target, label: LABELS[server.mode] })),
      );
      const after = await Promise.all(servers.map((server) => scrapeMetrics(server.metricsPort, 10_000)));
      servers.forEach((server, index) => {
        const run = results[index];
        if (run === undefined) return;
        const start = syncCountersOf(before[index] ?? "");
        const end = syncCountersOf(after[index] ?? "");
        const fsyncs = end.fsyncs - start.fsyncs;
        const changes = end.changes - start.changes;
        const extra: Record<string, number> = {};
        if (server.mode !== "memory") {
          extra.fsyncs = fsyncs;
          extra.stateChanges = changes;
          if (fsyncs > 0) {
            extra.writesPerFsync = changes / fsyncs;
            extra.fsyncMeanMs = ((end.fsyncSeconds - start.fsyncSeconds) * 1000) / fsyncs;
          }
        }
        runs.push({
          ...run,
          id: durabilityRunId(scenario, server.mode),
          title: `Durability · ${scenario} · ${LABELS[server.mode]} · Node (pipeline)`,
          command,
          extra: { ...run.extra, ...extra },
          notes: [
            ...run.notes,
            ...(server.mode === "memory"
              ? []
              : [
                  "fsyncs, stateChanges and writesPerFsync cover this workload's whole alternating run on this server, warm-ups included: the increase of stateward_persistence_fsync_duration_seconds_count and of the successful Set and Lock operations in rpc_server_call_duration_seconds_count",
                ]),
          ],
        });
      });
    }
  } finally {
    for (const server of servers) await server.target.stop();
  }
  return runs;
}
