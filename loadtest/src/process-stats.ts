/**
 * CPU time and memory of a process from /proc/<pid>/stat and /proc/<pid>/status: the server's own
 * accounting, whoever generates the load.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** One reading of a process's counters. */
export interface ProcessSample {
  /** User + system CPU time, µs. */
  readonly cpuUs: number;
  /** Resident set size, bytes. */
  readonly rssBytes: number;
  /** Peak resident set size (VmHWM), bytes; 0 when unknown. */
  readonly peakRssBytes: number;
}

/** Fields of /proc/<pid>/stat the tool uses. */
export interface ProcStat {
  readonly utimeTicks: number;
  readonly stimeTicks: number;
  readonly rssPages: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and parentheses, so the
 * fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const end = text.lastIndexOf(")");
  if (end < 0) throw new Error("malformed /proc stat line");
  // After ")": field 3 (state) is index 0, so field n is index n - 3.
  const fields = text.slice(end + 2).trim().split(/\s+/);
  const field = (n: number): number => Number(fields[n - 3] ?? Number.NaN);
  return { utimeTicks: field(14), stimeTicks: field(15), rssPages: field(24) };
}

/** Reads `VmHWM` from /proc/<pid>/status text, bytes (0 when absent). */
export function parsePeakRss(statusText: string): number {
  const match = /^VmHWM:\s+([0-9]+)\s+kB/m.exec(statusText);
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** Memory fields of /proc/<pid>/status, bytes (0 for a field that is absent). */
export interface StatusMemory {
  /** VmRSS: resident set size (RssAnon + RssFile + RssShmem). */
  readonly vmRssBytes: number;
  /** VmHWM: peak resident set size. */
  readonly vmHwmBytes: number;
  /** RssAnon: resident anonymous memory (heap, slabs, buffers): what a leak grows. */
  readonly rssAnonBytes: number;
  /** RssFile: resident file mappings (the node binary, shared libraries). */
  readonly rssFileBytes: number;
}

function statusKib(statusText: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+([0-9]+)\\s+kB`, "m").exec(statusText);
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** Reads VmRSS, VmHWM, RssAnon and RssFile from /proc/<pid>/status text. */
export function parseStatusMemory(statusText: string): StatusMemory {
  return {
    vmRssBytes: statusKib(statusText, "VmRSS"),
    vmHwmBytes: statusKib(statusText, "VmHWM"),
    rssAnonBytes: statusKib(statusText, "RssAnon"),
    rssFileBytes: statusKib(statusText, "RssFile"),
  };
}

/** One reading of a process for the soak: CPU time and the memory fields of its status file. */
export interface DetailedProcessSample extends StatusMemory {
  /** User + system CPU time, µs. */
  readonly cpuUs: number;
}

let ticksPerSecond: number | undefined;
let pageSize: number | undefined;

function systemConstant(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync("getconf", [name], { encoding: "utf8" }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

/** Samples process `pid`; undefined when it cannot be read (e.g. not Linux, or gone). */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    ticksPerSecond ??= systemConstant("CLK_TCK", 100);
    pageSize ??= systemConstant("PAGESIZE", 4096);
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return {
      cpuUs: ((stat.utimeTicks + stat.stimeTicks) * 1_000_000) / ticksPerSecond,
      rssBytes: stat.rssPages * pageSize,
      peakRssBytes: parsePeakRss(status),
    };
  } catch {
    return undefined;
  }
}

/**
 * Samples process `pid` with its memory breakdown (VmRSS from /proc/<pid>/status, falling back to
 * the rss field of /proc/<pid>/stat); undefined when it cannot be read (not Linux, or gone).
 */
export function sampleProcessDetailed(pid: number): DetailedProcessSample | undefined {
  try {
    ticksPerSecond ??= systemConstant("CLK_TCK", 100);
    pageSize ??= systemConstant("PAGESIZE", 4096);
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    const memory = parseStatusMemory(readFileSync(`/proc/${pid}/status`, "utf8"));
    return {
      ...memory,
      vmRssBytes: memory.vmRssBytes > 0 ? memory.vmRssBytes : stat.rssPages * pageSize,
      cpuUs: ((stat.utimeTicks + stat.stimeTicks) * 1_000_000) / ticksPerSecond,
    };
  } catch {
    return undefined;
  }
}
