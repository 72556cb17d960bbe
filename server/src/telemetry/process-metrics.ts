/**
 * The standard process metrics of the Prometheus client libraries (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_start_time_seconds`,
 * `process_open_fds`, `process_max_fds`), as observable instruments read at collection time, from
 * Node's own counters and, on Linux, /proc/self (virtual memory, descriptors and their limit; on
 * other systems those three are not reported). Nothing runs between collections.
 */
import { readFileSync, readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { Meter } from "@opentelemetry/api";
import {
  METRIC_PROCESS_CPU,
  METRIC_PROCESS_MAX_FDS,
  METRIC_PROCESS_OPEN_FDS,
  METRIC_PROCESS_RESIDENT_MEMORY,
  METRIC_PROCESS_START_TIME,
  METRIC_PROCESS_VIRTUAL_MEMORY,
} from "./telemetry-names";

/** Reads a /proc file, undefined where there is none (not Linux). */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Virtual memory size in bytes: field 23 of /proc/self/stat (after the command in parentheses). */
export function virtualMemoryBytes(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so field 23 is fields[20].
  const value = Number(fields[20]);
  return Number.isFinite(value) ? value : undefined;
}

/** The soft limit of open files from /proc/self/limits; undefined when unlimited or unknown. */
export function maxOpenFiles(limits: string): number | undefined {
  const match = /^Max open files\s+(\d+)/m.exec(limits);
  return match === null ? undefined : Number(match[1]);
}

/** Open descriptors: the entries of /proc/self/fd less the one the listing itself opened. */
function openFds(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length - 1;
  } catch {
    return undefined;
  }
}

/** Registers the process metrics on `meter`. */
export function observeProcessMetrics(meter: Meter): void {
  const cpu = meter.createObservableCounter(METRIC_PROCESS_CPU, { description: "User and system CPU time spent by the process.", unit: "s" });
  const resident = meter.createObservableGauge(METRIC_PROCESS_RESIDENT_MEMORY, { description: "Resident memory size of the process.", unit: "By" });
  const virtual = meter.createObservableGauge(METRIC_PROCESS_VIRTUAL_MEMORY, { description: "Virtual memory size of the process.", unit: "By" });
  const startTime = meter.createObservableGauge(METRIC_PROCESS_START_TIME, {
    description: "Start time of the process since the Unix epoch.",
    unit: "s",
  });
  const open = meter.createObservableGauge(METRIC_PROCESS_OPEN_FDS, { description: "Open file descriptors.", unit: "{file_descriptor}" });
  const max = meter.createObservableGauge(METRIC_PROCESS_MAX_FDS, { description: "Limit of open file descriptors (soft RLIMIT_NOFILE).", unit: "{file_descriptor}" });
  // performance.timeOrigin is when this process started, in ms since the epoch.
  const startSeconds = performance.timeOrigin / 1000;
  meter.addBatchObservableCallback(
    (observer) => {
      const usage = process.cpuUsage();
      observer.observe(cpu, (usage.user + usage.system) / 1e6);
      observer.observe(resident, process.memoryUsage.rss());
      observer.observe(startTime, startSeconds);
      const stat = readProc("/proc/self/stat");
      const vsize = stat === undefined ? undefined : virtualMemoryBytes(stat);
      if (vsize !== undefined) observer.observe(virtual, vsize);
      const fds = openFds();
      if (fds !== undefined) observer.observe(open, fds);
      const limits = readProc("/proc/self/limits");
      const limit = limits === undefined ? undefined : maxOpenFiles(limits);
      if (limit !== undefined) observer.observe(max, limit);
    },
    [cpu, resident, virtual, startTime, open, max],
  );
}
