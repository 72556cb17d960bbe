/**
 * The pinned external tools of the tests (grpcurl, grpc-health-probe), which mk/grpc-tools.mk
 * installs into .tools/bin, and ways to run them as a user would.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "../../..");
export const TOOLS_BIN = path.join(REPO_ROOT, ".tools", "bin");
export const GRPCURL = path.join(TOOLS_BIN, "grpcurl");
export const HEALTH_PROBE = path.join(TOOLS_BIN, "grpc-health-probe");
/** The address the README's commands use (`make run`'s default); the tests use their server's. */
export const README_ADDRESS = "127.0.0.1:42424";

/** PATH with .tools/bin first, so that the README's `grpcurl` is the pinned one. */
export const TOOL_ENV: NodeJS.ProcessEnv = { ...process.env, PATH: `${TOOLS_BIN}${path.delimiter}${process.env.PATH ?? ""}` };

export interface Run {
  readonly code: number;
  /** stdout then stderr (each command here writes to one of them). */
  readonly output: string;
}

/** Runs a shell command line (as a user would paste it) until it exits. */
export function sh(command: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", command], { env: TOOL_ENV, timeout: 15_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        reject(new Error(`${command}: ${error.message}`));
        return;
      }
      resolve({ code: error === null ? 0 : (error.code as number), output: stdout + stderr });
    });
  });
}

/** Runs a tool directly (no shell) with `args`. */
export function tool(file: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: TOOL_ENV, timeout: 15_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        reject(new Error(`${file}: ${error.message}`));
        return;
      }
      resolve({ code: error === null ? 0 : (error.code as number), output: stdout + stderr });
    });
  });
}
