/**
 * A server the tool starts as a child process: started, awaited until it says it is ready, and
 * stopped (SIGTERM, then SIGKILL after a grace period). Its output is read line by line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import readline from "node:readline";

/** How to start and recognise readiness of a child server. */
export interface ProcessSpec {
  /** A name for messages, e.g. `redis-server`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Returns a value once a stdout/stderr line shows the server is ready (e.g. its port). */
  readonly ready: (line: string) => number | undefined;
  /** Every output line, e.g. for GC traces. */
  readonly onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Longest wait for readiness, ms. */
  readonly startTimeoutMs?: number;
  /** Called once the child is spawned, before it is ready (e.g. to sample its memory while it starts). */
  readonly onSpawn?: (pid: number) => void;
  /** Working directory. */
  readonly cwd?: string;
}

/** How a child exited. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started child server. */
export interface ManagedProcess {
  /** Its process id (for /proc statistics). */
  readonly pid: number;
  /** What `ready` returned (e.g. the port). */
  readonly readyValue: number;
  /** The last output lines, for error messages. */
  tail(): string[];
  /** How it exited (`code` null when a signal ended it), or undefined while it runs. */
  exitStatus(): ProcessExit | undefined;
  /** Stops it and resolves when it has exited. */
  stop(): Promise<void>;
}

const TAIL_LINES = 20;

/** Starts `spec` and resolves once it is ready; rejects (and kills it) if it exits or times out. */
export function startProcess(spec: ProcessSpec): Promise<ManagedProcess> {
  const child: ChildProcess = spawn(spec.command, [...spec.args], {
    cwd: spec.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid !== undefined) spec.onSpawn?.(child.pid);
  const lines: string[] = [];
  let exited = child.exitCode !== null;
  let exit: ProcessExit | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = true;
      exit = { code, signal };
      resolve();
    });
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const timeout = setTimeout(() => fail(new Error(`${spec.name} did not become ready in time`)), spec.startTimeoutMs ?? 30_000);
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      child.kill("SIGKILL");
      reject(new Error(`${error.message}\n${lines.join("\n")}`));
    };
    const handle = (stream: "stdout" | "stderr") => (line: string) => {
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      spec.onLine?.(line, stream);
      if (settled) return;
      const value = spec.ready(line);
      if (value === undefined) return;
      settled = true;
      clearTimeout(timeout);
      resolve({
        pid: child.pid ?? 0,
        readyValue: value,
        tail: () => [...lines],
        exitStatus: () => exit,
        stop: async () => {
          if (exited) return;
          child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
          await exitPromise;
          clearTimeout(killer);
        },
      });
    };
    if (child.stdout !== null) readline.createInterface({ input: child.stdout }).on("line", handle("stdout"));
    if (child.stderr !== null) readline.createInterface({ input: child.stderr }).on("line", handle("stderr"));
    child.once("error", (error) => fail(new Error(`${spec.name}: ${error.message}`)));
    child.once("exit", (code, signal) => fail(new Error(`${spec.name} exited (${signal ?? code}) before it was ready`)));
  });
}
