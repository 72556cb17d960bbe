/** Facts about the machine, for the report header and BENCHMARKS.md. */
import os from "node:os";
import type { MachineInfo } from "./report-model";

/** Reads CPU count and model, memory, Node version and kernel. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    memoryBytes: os.totalmem(),
    nodeVersion: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    loadAverageAtStart: os.loadavg()[0] ?? 0,
  };
}
