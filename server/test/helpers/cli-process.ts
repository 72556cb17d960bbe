/**
 * `stateward serve` as a child process, with everything it writes kept: either the built command
 * (server/bin/stateward, as deployed; needs `npm run build`, which `make test` does) or the CLI's
 * source through tsx.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { withTimeout } from "./test-server";

/** The repository root. */
export const REPO_ROOT = path.resolve(__dirname, "../../..");

/** The built command, as deployed. */
export const BUILT_STATEWARD = path.join(REPO_ROOT, "server", "bin", "stateward");

/** This environment without STATEWARD_* variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("STATEWARD_")) env[key] = value;
  return { ...env, ...extra };
}

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built command (server/bin/stateward) with `args` until it exits, with a clean environment plus `env`. */
export function runBuiltCli(args: readonly string[], env: Record<string, string> = {}): Promise<Finished> {
  return new Promise((resolve) => {
    execFile(BUILT_STATEWARD, args, { env: cleanEnv(env), timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A started CLI process. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything written to stderr so far (the JSON log). */
  readonly stderr: () => string;
  /** Everything written to stdout so far. */
  readonly stdout: () => string;
  /** The gRPC port, once the log says "stateward listening". */
  readonly port: Promise<number>;
}

/**
 * Spawns `stateward serve <args>` with only PATH and `env` in its environment.
 * @param how - `built` runs server/bin/stateward, `source` runs server/src/cli.ts through tsx.
 */
export function spawnCli(args: readonly string[], env: Record<string, string>, how: "built" | "source" = "source"): CliProcess {
  const [command, prefix] =
    how === "built"
      ? [path.join(REPO_ROOT, "server", "bin", "stateward"), []]
      : [process.execPath, ["--require", "tsx/cjs", path.join("server", "src", "cli.ts")]];
  if (how === "built" && !existsSync(path.join(REPO_ROOT, "server", "dist", "cli.js"))) {
    throw new Error("server/dist/cli.js is missing: run `npm run build` (make test does)");
  }
  const child = spawn(command, [...prefix, "serve", ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let stdout = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  const port = new Promise<number>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      const match = /"msg":"stateward listening"/.test(stderr) ? /"port":(\d+)/.exec(stderr) : null;
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`the CLI exited (${String(code)}) before listening: ${stderr}`)));
  });
  port.catch(() => undefined);
  return { child, stderr: () => stderr, stdout: () => stdout, port };
}

/** Stops the process with SIGTERM and resolves to its exit code. */
export async function stopCli(cli: CliProcess): Promise<number | null> {
  if (cli.child.exitCode !== null || cli.child.signalCode !== null) return cli.child.exitCode;
  const exited = new Promise<number | null>((resolve) => cli.child.once("exit", (code) => resolve(code)));
  cli.child.kill("SIGTERM");
  return withTimeout(exited, 10_000, "the CLI to exit");
}
