/**
 * A real Stateward server in its own process (as deployed), for the fault suite: its RSS is read
 * from /proc, and it is killed in teardown whatever happens.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parseStatusMemory } from "../../../loadtest/src/process-stats";

/** The repository root. */
export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

/** A started server process. */
export interface ServerProcess {
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** The process id (its /proc entry is what is measured). */
  readonly pid: number;
  /** Resident set size now, in bytes. */
  rss(): number;
  /** Stops it (SIGTERM, then SIGKILL after 3 s). */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL: a crash, nothing cleaned up); resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `stateward serve` through the `stateward` launcher (server/bin/stateward, which sets the
 * allocator's environment the way the command does in production), bound to 127.0.0.1 port 0,
 * in `cwd` (default: this process's), where relative file names in `flags` are looked up.
 */
export async function startServerProcess(flags: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<ServerProcess> {
  if (!existsSync(path.join(REPO_ROOT, "server", "dist", "cli.js"))) throw new Error("server/dist/cli.js is missing: run `npm run build` (make test does)");
  const child = spawn(path.join(REPO_ROOT, "server", "bin", "stateward"), ["serve", "--host", "127.0.0.1", "--port", "0", "--log-level", "info", ...flags], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
    ...(cwd !== undefined ? { cwd } : {}),
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${buffered}`)), 20_000);
    // The log (JSON lines) says which port was bound; it may come on either stream.
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      for (const line of buffered.split("\n")) {
        try {
          const record = JSON.parse(line) as { msg?: unknown; port?: unknown };
          if (record.msg === "stateward listening" && typeof record.port === "number") {
            clearTimeout(timer);
            resolve(record.port);
          }
        } catch {
          // Not a whole JSON line yet.
        }
      }
      if (buffered.length > 65_536) buffered = buffered.slice(-4096);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}: ${buffered}`));
    });
  });
  const pid = child.pid as number;
  return {
    address: `127.0.0.1:${port}`,
    pid,
    rss: () => rssOf(pid),
    stop: () => stopProcess(child),
    kill: (signal = "SIGKILL") => killProcess(child, signal),
  };
}

/** VmRSS of a process, in bytes. */
export function rssOf(pid: number): number {
  return parseStatusMemory(readFileSync(`/proc/${pid}/status`, "utf8")).vmRssBytes;
}

/** Sends `signal` and resolves once the process has exited (at once if it has). */
export function killProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  return exited;
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the process has exited (at once if it has). */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
