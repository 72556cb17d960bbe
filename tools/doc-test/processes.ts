/** Child processes for the doc-test: commands run to completion, and programs that serve. */
import { spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { networkInterfaces } from "node:os";
import { stopProcess } from "../../server/test/fault/server-process";

/** Where and how to run a command. */
export interface CommandOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Killed (and failed) after this long. */
  readonly timeoutMs: number;
}

/** What a finished command printed. */
export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** The last part of a process's output, for error messages. */
function tail(text: string, max = 4000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

/**
 * Runs `command args…` to completion. Fails with the command, its exit and its output when it
 * exits non-zero, is killed, or outlives `timeoutMs`.
 */
export function runCommand(command: string, args: readonly string[], options: CommandOptions): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${err.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ stdout, stderr });
      const how = timedOut ? `did not finish within ${options.timeoutMs} ms` : signal ? `was killed by ${signal}` : `exited with ${code}`;
      reject(new Error(`\`${[command, ...args].join(" ")}\` in ${options.cwd} ${how}\n--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}`));
    });
  });
}

/** A program started by {@link startServing}. */
export interface ServingProgram {
  /** Its first line of standard output (its "listening" line). */
  readonly firstLine: string;
  /** What it printed so far, for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after 3 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts a program that serves until stopped, and resolves when it prints its first line (it
 * prints it once it listens): no sleeping, no polling. Fails if it exits or stays silent first.
 */
export function startServing(command: string, args: readonly string[], options: CommandOptions): Promise<ServingProgram> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const output = (): string => `--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stopProcess(child).then(() => reject(new Error(`\`${command} ${args.join(" ")}\` printed no line within ${options.timeoutMs} ms\n${output()}`)));
    }, options.timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      reject(new Error(`\`${command} ${args.join(" ")}\` exited (${signal ?? code}) before it printed a line\n${output()}`));
    };
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => {
      const before = stdout;
      stdout += chunk.toString();
      const newline = stdout.indexOf("\n");
      if (newline < 0 || before.includes("\n")) return;
      clearTimeout(timer);
      child.off("exit", onExit);
      resolve({ firstLine: stdout.slice(0, newline), output, stop: () => stopProcess(child) });
    });
    child.once("exit", onExit);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${err.message}`));
    });
  });
}

/**
 * A port nothing listens on right now, for a README program that must be given a port number
 * (its code names one; port 0 would not tell the shell steps where it went).
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Whether something accepts TCP connections on host:port. A refusal, an unreachable host and
 * silence for 2 s all count as no.
 */
export function acceptsConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    const done = (accepted: boolean): void => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once("connect", () => done(true));
    socket.once("timeout", () => done(false));
    socket.once("error", () => done(false));
  });
}

/**
 * Addresses of this machine other than 127.0.0.1 that reach a listener bound to every interface:
 * 127.0.0.2 (all of 127/8 is loopback on Linux) and the external IPv4 addresses, if any.
 */
export function otherLocalAddresses(): string[] {
  const external = Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .filter((a) => a.family === "IPv4" && !a.internal)
    .map((a) => a.address);
  return ["127.0.0.2", ...external];
}
