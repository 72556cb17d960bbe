/**
 * The servers the tool starts for a run, each on a loopback port: Stateward (`node
 * server/dist/cli.js serve`), the echo baseline and redis-server.
 */
import path from "node:path";
import { findFreePort } from "./free-port";
import { GcTracker } from "./gc-trace";
import { startProcess, type ManagedProcess } from "./managed-process";

/** A started server and its address. */
export interface StartedTarget {
  readonly address: string;
  readonly process: ManagedProcess;
  /** GC events of a Node server started with --trace-gc. */
  readonly gc?: GcTracker;
  /** Without `gc`: why its GC pauses are unknown, for the report. */
  readonly gcUnavailable?: string;
}

/** The repository root (loadtest/dist or loadtest/src is two levels below it). */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** Default path of the Stateward CLI (built by `npx tsc -b`). */
export const DEFAULT_SERVER_CLI = path.join(REPO_ROOT, "server", "dist", "cli.js");

/** Options of {@link startStateward}. */
export interface StatewardProcessOptions {
  /** Path of server/dist/cli.js. */
  readonly cli?: string;
  /** Extra `serve` flags, e.g. `--max-memory 4GiB`. */
  readonly serverArgs?: readonly string[];
  /** Node/V8 flags before the script, e.g. `--initial-old-space-size=256`. */
  readonly nodeArgs?: readonly string[];
  /** Longest wait for "stateward listening", ms (default 30 s; a replay of a large data directory takes longer). */
  readonly startTimeoutMs?: number;
  /** Called with its pid as soon as it is spawned, before it is ready. */
  readonly onSpawn?: (pid: number) => void;
  /** Every line of its stdout and stderr (its JSON log is on stderr). */
  readonly onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

/** Starts `stateward serve` on a free loopback port, with V8's GC trace on. */
export async function startStateward(options: StatewardProcessOptions = {}): Promise<StartedTarget> {
  const gc = new GcTracker();
  const process = await startProcess({
    name: "stateward",
    command: globalThis.process.execPath,
    // --trace-gc: the GC pauses are a figure of the run; it prints to stdout, the logs go to stderr.
    args: ["--trace-gc", ...(options.nodeArgs ?? []), options.cli ?? DEFAULT_SERVER_CLI, "serve", "--host", "127.0.0.1", "--port", "0", "--log-level", "info", ...(options.serverArgs ?? [])],
    ready: (line) => {
      if (!line.startsWith("{")) return undefined;
      try {
        const record = JSON.parse(line) as { msg?: unknown; port?: unknown };
        return record.msg === "stateward listening" && typeof record.port === "number" ? record.port : undefined;
      } catch {
        return undefined;
      }
    },
    onLine: (line, stream) => {
      if (stream === "stdout") gc.line(line);
      options.onLine?.(line, stream);
    },
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
    ...(options.onSpawn === undefined ? {} : { onSpawn: options.onSpawn }),
  });
  return { address: `127.0.0.1:${process.readyValue}`, process, gc };
}

/** Starts the echo baseline server (a bare grpc-js server) on a free loopback port. */
export async function startEchoServer(): Promise<StartedTarget> {
  const script = path.join(__dirname, __filename.endsWith(".ts") ? "echo-server-main.ts" : "echo-server-main.js");
  const gc = new GcTracker();
  const process = await startProcess({
    name: "echo server",
    command: globalThis.process.execPath,
    args: [...(script.endsWith(".ts") ? ["--require", "tsx/cjs"] : []), "--trace-gc", script, "--port", "0"],
    ready: (line) => {
      if (!line.startsWith("{")) return undefined;
      const record = JSON.parse(line) as { port?: unknown };
      return typeof record.port === "number" ? record.port : undefined;
    },
    onLine: (line, stream) => {
      if (stream === "stdout") gc.line(line);
    },
  });
  return { address: `127.0.0.1:${process.readyValue}`, process, gc };
}

/** Starts redis-server (Debian's package) on a free loopback port, without persistence. */
export async function startRedis(command = "redis-server"): Promise<StartedTarget> {
  const port = await findFreePort();
  const process = await startProcess({
    name: "redis-server",
    command,
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no"],
    ready: (line) => (line.includes("Ready to accept connections") ? port : undefined),
  });
  return { address: `127.0.0.1:${port}`, process, gcUnavailable: "redis-server is not a V8 process: there is no GC trace to read" };
}
