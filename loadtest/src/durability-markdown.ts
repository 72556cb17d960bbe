/**
 * The issue-15 section of BENCHMARKS.md, "Durability (issue 15)": the memory backend with
 * `--data-dir` against memory only (throughput, writes per fdatasync), the restart and the
 * snapshot pause, with where each target stands. It names its own run (command, date, machine):
 * `make bench BENCH_ONLY=durability` writes it apart from the rest of the suite.
 */
import { ALTERNATING_SLICES } from "./alternating-runs";
import { DURABILITY_RESTART_RUN_ID, DURABILITY_SNAPSHOT_RUN_ID, DURABILITY_WORKLOADS, durabilityRunId, SNAPSHOT_TRIGGER_ARGS } from "./durability-runs";
import { plural } from "./plural";
import { extraNumber, formatCount, formatErrors, formatLatencyMs, formatMiB, formatRatio, formatSliceSpread, markdownRow } from "./report-format";
import type { Report, RunResult } from "./report-model";
import { SCENARIO_DEFAULTS } from "./scenario-defaults";
import type { TargetStanding } from "./target-evaluation";
import { LATER_SLICE_WARMUP_MS } from "./tls-comparison-runs";

/** The heading of the section. */
export const DURABILITY_SECTION_HEADING = "## Durability (issue 15)";

function fixed(value: number | undefined, digits: number, suffix = ""): string {
  return value === undefined ? "–" : `${value.toFixed(digits)}${suffix}`;
}

function mib(value: number | undefined): string {
  return value === undefined ? "–" : formatMiB(value);
}

function ratio(run: RunResult | undefined, base: RunResult | undefined): string {
  return formatRatio(run !== undefined && base !== undefined && base.throughput > 0 ? run.throughput / base.throughput : undefined);
}

/** "Durability (issue 15)". */
export function durabilitySection(report: Report, standings: readonly TargetStanding[], reasons: Readonly<Record<string, string>>): string[] {
  const runs = new Map(report.runs.map((run) => [run.id, run]));
  const memorySet = runs.get(durabilityRunId("set", "memory"));
  const restart = runs.get(DURABILITY_RESTART_RUN_ID);
  const snapshot = runs.get(DURABILITY_SNAPSHOT_RUN_ID);
  const m = report.machine;
  const lines = [
    DURABILITY_SECTION_HEADING,
    "",
    `This run: \`${report.command}\` (\`make bench BENCH_ONLY=durability\` runs it alone; \`make bench\` with the rest of the suite), ${report.startedAt} → ${report.finishedAt}, on ${plural(m.cpus, "CPU")} (${m.cpuModel}), ${formatMiB(m.memoryBytes)}, Node ${m.nodeVersion}, kernel ${m.kernel}, load average ${m.loadAverageAtStart.toFixed(2)} when it started (the machine is shared with other work: read the ratios of the same run, not the absolute numbers). Data directories in a fresh mkdtemp directory of the OS's temporary directory (the root file system here), removed afterwards.`,
    "",
    "### Throughput with a data directory",
    "",
    `Three servers alive at once, alike (\`--max-memory 4GiB\`, a metrics port) but for durability: memory only, \`--data-dir DIR --fsync everysec\` and \`--data-dir DIR --fsync always\`, with the default snapshot settings (so their snapshots run during the load as in production). Set (unlocked) and Lock+Set through the client library's PipelineClient, at the concurrency, payloads and pools of the pipeline group, alternating between the three in ${ALTERNATING_SLICES} slices each (A-B-C, then C-B-A, …; the whole --warmup before a server's first slice, ${LATER_SLICE_WARMUP_MS} ms before the others). Writes per fdatasync: the increase of the successful Set (written) and Lock (ok) operations in \`rpc_server_call_duration_seconds_count\` over the increase of \`stateward_persistence_fsync_duration_seconds_count\`, both scraped from /metrics before and after the workload's alternating run on that server (warm-ups included).`,
    "",
    memorySet === undefined
      ? "Not measured in this run."
      : `${plural(memorySet.settings.concurrency, "request")} in flight (${memorySet.settings.inFlight} × ${plural(memorySet.settings.channels, "channel")} × ${plural(memorySet.settings.workers, "worker")}), ${memorySet.settings.durationMs / 1000} s measured per server and workload, ${memorySet.settings.payload}, pool of ${memorySet.settings.pool.toLocaleString("en-US")}.`,
    "",
    markdownRow([
      "workload",
      "memory only ops/s",
      "everysec ops/s",
      "ratio",
      "slice ratios",
      "always ops/s",
      "ratio",
      "slice ratios",
      "writes per fdatasync (always)",
      "fdatasyncs always / everysec",
      "mean fdatasync ms always / everysec",
      "p99 ms memory / everysec / always",
      "server µs/op memory / everysec / always",
      "errors",
    ]),
    markdownRow(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]),
  ];
  for (const scenario of DURABILITY_WORKLOADS) {
    const unit = SCENARIO_DEFAULTS[scenario].unit;
    const memory = runs.get(durabilityRunId(scenario, "memory"));
    const everysec = runs.get(durabilityRunId(scenario, "everysec"));
    const always = runs.get(durabilityRunId(scenario, "always"));
    if (memory === undefined || everysec === undefined || always === undefined) {
      lines.push(markdownRow([unit, "not measured", "", "", "", "", "", "", "", "", "", "", "", ""]));
      continue;
    }
    const sides = [memory, everysec, always];
    lines.push(
      markdownRow([
        unit,
        formatCount(memory.throughput),
        formatCount(everysec.throughput),
        ratio(everysec, memory),
        formatSliceSpread(everysec),
        formatCount(always.throughput),
        ratio(always, memory),
        formatSliceSpread(always),
        fixed(extraNumber(always, "writesPerFsync"), 1),
        `${fixed(extraNumber(always, "fsyncs"), 0)} / ${fixed(extraNumber(everysec, "fsyncs"), 0)}`,
        `${fixed(extraNumber(always, "fsyncMeanMs"), 2)} / ${fixed(extraNumber(everysec, "fsyncMeanMs"), 2)}`,
        sides.map((run) => formatLatencyMs(run.latency.p99)).join(" / "),
        sides.map((run) => (run.server === undefined ? "–" : run.server.cpuUsPerOp.toFixed(1))).join(" / "),
        sides.map((run) => formatErrors(run.errors)).join(" / "),
      ]),
    );
  }
  lines.push("", "### Restart", "");
  if (restart === undefined) {
    lines.push("Not measured in this run.");
  } else {
    const sessions = extraNumber(restart, "sessions") ?? 0;
    lines.push(
      `One server with \`--data-dir DIR --fsync everysec\` (default snapshot settings) filled with ${plural(sessions, "session")} of 1 KiB through the pipeline (unlocked Sets of distinct sessions, 2 workers × 2 channels × 64 in flight), left to finish any snapshot it was writing and 3 s idle, its steady RSS read (VmRSS), then SIGTERM; a new server on the same directory. Restart time: from its spawn to its "stateward listening" log line. Peak RSS during the replay: the larger of VmHWM when it listens and VmRSS sampled every 20 ms from the spawn.${sessions < 1_000_000 ? ` **This run has ${plural(sessions, "session")}, not the 1,000,000 of the targets.**` : ""}`,
      "",
      markdownRow(["figure", "value"]),
      markdownRow(["---", "---:"]),
      markdownRow(["sessions written (fill)", formatCount(sessions)]),
      markdownRow(["fill", `${fixed(extraNumber(restart, "fillSeconds"), 1, " s")} (${formatCount(restart.throughput)} Sets/s)`]),
      markdownRow(["snapshots the server wrote during the fill", fixed(extraNumber(restart, "fillSnapshots"), 0)]),
      markdownRow(["data directory before the restart: snapshots / logs", `${mib(extraNumber(restart, "snapshotBytesBefore"))} / ${mib(extraNumber(restart, "logBytesBefore"))}`]),
      markdownRow(["shutdown (SIGTERM to exit)", fixed(extraNumber(restart, "stopSeconds"), 2, " s")]),
      markdownRow(["**restart: spawn to serving**", `**${fixed(extraNumber(restart, "restartSeconds"), 2, " s")}**`]),
      markdownRow(["of which replay (the server's replaySeconds)", fixed(extraNumber(restart, "replaySeconds"), 2, " s")]),
      markdownRow(["records replayed", fixed(extraNumber(restart, "replayedRecords"), 0)]),
      markdownRow(["steady RSS before the restart", mib(extraNumber(restart, "steadyRssBytes"))]),
      markdownRow(["**peak RSS during the replay**", `**${mib(extraNumber(restart, "peakReplayRssBytes"))}** (${formatRatio(extraNumber(restart, "replayRssRatio"))} the steady RSS)`]),
      markdownRow(["steady RSS after the restart (3 s idle)", mib(extraNumber(restart, "steadyRssAfterRestartBytes"))]),
    );
  }
  lines.push("", "### Snapshot pause", "");
  if (snapshot === undefined) {
    lines.push("Not measured in this run.");
  } else {
    lines.push(
      `On the restarted server (started with \`${SNAPSHOT_TRIGGER_ARGS.join(" ")}\`, the smallest thresholds the server accepts, so that the first writes after the replay start a snapshot of every session; replay never starts one): a probe thread sends a unary Get every 1 ms (of a session that does not exist, so the probe itself never writes). After a quiet 2 s baseline, Sets of the replayed sessions (32 in flight, pipeline) run until the snapshot's temporary file appears, then stop; the probe goes on until the server logs "snapshot written". The window is the server's own (its log line's time less the seconds it reports). The pause is the longest time in the window without a probe answer.`,
      "",
      markdownRow(["figure", "value"]),
      markdownRow(["---", "---:"]),
      markdownRow(["sessions in the snapshot", formatCount(extraNumber(snapshot, "snapshotSessions") ?? 0)]),
      markdownRow(["snapshot size / duration", `${mib(extraNumber(snapshot, "snapshotBytes"))} / ${fixed(extraNumber(snapshot, "snapshotSeconds"), 2, " s")}`]),
      markdownRow(["**longest time without a probe answer during the snapshot**", `**${fixed(extraNumber(snapshot, "longestProbeGapMs"), 1, " ms")}** (starting ${fixed(extraNumber(snapshot, "longestProbeGapAtMs"), 0, " ms")} into the window)`]),
      markdownRow(["probes during the snapshot: p50 / p99 / max latency", `${formatLatencyMs(snapshot.latency.p50)} / ${formatLatencyMs(snapshot.latency.p99)} / ${formatLatencyMs(snapshot.latency.max)} ms (${formatCount(snapshot.completed)} probes, errors ${formatErrors(snapshot.errors)})`]),
      markdownRow(["quiet baseline before it: longest gap / p99 / max latency", `${fixed(extraNumber(snapshot, "baselineLongestProbeGapMs"), 1, " ms")} / ${fixed(extraNumber(snapshot, "baselineProbeP99Ms"), 2, " ms")} / ${fixed(extraNumber(snapshot, "baselineProbeMaxMs"), 1, " ms")}`]),
      markdownRow(["snapshot renamed into place / older logs deleted (ms into the window)", `${fixed(extraNumber(snapshot, "snapshotRenamedAtMs"), 0)} / ${fixed(extraNumber(snapshot, "olderLogsDeletedAtMs"), 0)} (older logs: ${mib(extraNumber(snapshot, "olderLogBytes"))})`]),
      markdownRow(["the server's longest scan slice (longestSliceMs)", fixed(extraNumber(snapshot, "serverLongestSliceMs"), 2, " ms")]),
      markdownRow(["the server's event-loop lag max over the window (nodejs_eventloop_lag_max_seconds)", fixed(extraNumber(snapshot, "serverEventLoopLagMaxMs"), 1, " ms")]),
      markdownRow(["the server's longest GC pause in the window", `${fixed(extraNumber(snapshot, "serverGcMaxPauseMs"), 1, " ms")} (${String(snapshot.extra["serverGcMaxPauseKind"] ?? "–")})`]),
      markdownRow(["writes that started it / they stopped after the window's start", `${formatCount(extraNumber(snapshot, "writesBeforeSnapshot") ?? 0)} / ${fixed(extraNumber(snapshot, "writesStoppedAfterSnapshotStartMs"), 0, " ms")}`]),
      markdownRow(["sessions read back after the restart", `${formatCount(extraNumber(snapshot, "sessionsFoundAfterRestart") ?? 0)} of ${formatCount(extraNumber(snapshot, "sessionsCheckedAfterRestart") ?? 0)} found`]),
    );
  }
  lines.push("", "### Targets of issue 15", "");
  for (const standing of standings.filter((item) => item.name.startsWith("Durability:"))) {
    lines.push(`- ${standing.name}: ${standing.target}. Measured ${standing.measured}: **${standing.status}**.`);
    if (standing.status === "missed") lines.push(`  Why: ${reasons[standing.name] ?? "not analysed yet."}`);
  }
  return lines;
}
