/**
 * A fresh project outside the repository, made the way a user starts one (`npm init -y`,
 * `python3 -m venv .venv`, `go mod init`), with the client installed by the README's own install
 * blocks from the clone's `dist/`; and README programs saved and run in it.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { README_CLONE_PATHS, README_SERVER_ADDRESS, type Program, type Project } from "./doc-test-plan";
import type { CodeBlock, ProgramLang } from "./markdown-blocks";
import { runCommand, startServing, type CommandOutput, type ServingProgram } from "./processes";

/** Setting up a project installs from registries: generous, on a shared machine. */
const INSTALL_TIMEOUT_MS = 300_000;
/** A program's run includes tsx's or the go command's compile. */
const RUN_TIMEOUT_MS = 120_000;

/** A project made by {@link createProject}. */
export interface FreshProject {
  readonly lang: ProgramLang;
  readonly name: string;
  readonly dir: string;
  /** The environment its commands run in (the venv on PATH, a private Go module cache). */
  readonly env: NodeJS.ProcessEnv;
}

/** What {@link substitute} replaces. */
export interface Substitutions {
  readonly repoRoot: string;
  /** Where the doc-test's server listens. */
  readonly serverAddress?: string;
  /** The address the code names its server by (default {@link README_SERVER_ADDRESS}). */
  readonly namedAddress?: string;
  readonly port?: { readonly from: number; readonly to: number };
}

/** Replaces the README's clone location with the repository root, and its server address. */
export function substitute(code: string, values: Substitutions): string {
  let out = code;
  for (const clone of README_CLONE_PATHS) out = out.split(`${clone}/`).join(`${values.repoRoot}/`);
  // The program's port before the server's address, which might contain the same digits.
  if (values.port) out = out.replace(new RegExp(`\\b${values.port.from}\\b`, "g"), String(values.port.to));
  if (values.serverAddress !== undefined) out = out.split(values.namedAddress ?? README_SERVER_ADDRESS).join(values.serverAddress);
  return out;
}

/** `file:line` of a block, for messages and test titles. */
export function where(block: CodeBlock): string {
  return `${block.source}:${block.line}`;
}

function shell(code: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CommandOutput> {
  return runCommand("bash", ["-euo", "pipefail", "-c", code], { cwd, env, timeoutMs });
}

/**
 * Makes the project in `dir` and runs its install blocks there. TypeScript projects also get
 * what runs and type-checks the README's TypeScript as written (tsx, typescript, @types/node, at
 * the repository's versions): the doc-test's tools, not the client's dependencies.
 */
export async function createProject(project: Project, dir: string, repoRoot: string): Promise<FreshProject> {
  if (/\s/.test(repoRoot)) throw new Error(`the doc-test pastes the repository path into shell lines: ${repoRoot} must not contain spaces`);
  mkdirSync(dir, { recursive: true });
  const base: NodeJS.ProcessEnv = { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };
  let env: NodeJS.ProcessEnv;
  switch (project.lang) {
    case "ts":
      env = base;
      await runCommand("npm", ["init", "-y"], { cwd: dir, env, timeoutMs: INSTALL_TIMEOUT_MS });
      break;
    case "python": {
      const venv = path.join(dir, ".venv");
      await runCommand("python3", ["-m", "venv", venv], { cwd: dir, env: base, timeoutMs: INSTALL_TIMEOUT_MS });
      // What `. .venv/bin/activate` does.
      env = { ...base, VIRTUAL_ENV: venv, PATH: `${path.join(venv, "bin")}${path.delimiter}${base.PATH ?? ""}`, PIP_DISABLE_PIP_VERSION_CHECK: "1" };
      delete env.PYTHONHOME;
      break;
    }
    case "go":
      // A GOPATH and module cache of its own: a v0.1.0 cached from an earlier `make dist` must not
      // stand in for the one in dist/ now, nor the machine's checksum-database state for what
      // dist/goproxy serves. Writable, so that the project can be deleted.
      env = {
        ...base,
        GOPATH: path.join(dir, ".gopath"),
        GOMODCACHE: path.join(dir, ".gomodcache"),
        GOFLAGS: `${base.GOFLAGS ?? ""} -modcacherw`.trim(),
      };
      await runCommand("go", ["mod", "init", "example.com/app"], { cwd: dir, env, timeoutMs: INSTALL_TIMEOUT_MS });
      break;
  }
  for (const install of project.installs) {
    await shell(substitute(install.code, { repoRoot }), dir, env, INSTALL_TIMEOUT_MS).catch((err: Error) => {
      throw new Error(`the install block at ${where(install)} failed: ${err.message}`);
    });
  }
  if (project.lang === "ts") {
    const dev = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies;
    const tools = ["tsx", "typescript", "@types/node"].map((name) => `${name}@${dev[name] ?? "latest"}`);
    await runCommand("npm", ["install", "--save-dev", "--prefer-offline", "--loglevel=error", ...tools], { cwd: dir, env, timeoutMs: INSTALL_TIMEOUT_MS });
    // A CommonJS project (npm init -y has no "type"), type-checked strictly, libraries included.
    const compilerOptions = {
      target: "ES2022",
      module: "Node16",
      moduleResolution: "Node16",
      strict: true,
      noUncheckedIndexedAccess: true,
      esModuleInterop: true,
      skipLibCheck: false,
      types: ["node"],
      noEmit: true,
    };
    writeFileSync(path.join(dir, "tsconfig.json"), `${JSON.stringify({ compilerOptions }, null, 2)}\n`);
  }
  return { lang: project.lang, name: project.name, dir, env };
}

/** The directory a program is saved in: its own, so that programs never share a file or a Go main. */
function programDir(project: FreshProject, program: Program): string {
  const slug = `${program.block.source.replace(/[^A-Za-z0-9]+/g, "-").toLowerCase()}-${program.block.line}`;
  const dir = path.join(project.dir, slug);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes the program (substituted) into the project; type-checks TypeScript. Returns how to run it. */
async function prepare(project: FreshProject, program: Program, code: string): Promise<{ command: string; args: string[]; cwd: string }> {
  const dir = programDir(project, program);
  writeFileSync(path.join(dir, program.file), code);
  switch (project.lang) {
    case "ts": {
      writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", files: [program.file] }));
      await runCommand(path.join(project.dir, "node_modules", ".bin", "tsc"), ["-p", dir], { cwd: dir, env: project.env, timeoutMs: RUN_TIMEOUT_MS }).catch((err: Error) => {
        throw new Error(`${program.file} (${where(program.block)}) does not type-check: ${err.message}`);
      });
      return { command: path.join(project.dir, "node_modules", ".bin", "tsx"), args: [program.file], cwd: dir };
    }
    case "python":
      return { command: "python", args: [program.file], cwd: dir };
    case "go":
      return { command: "go", args: ["run", "."], cwd: dir };
  }
}

/**
 * Runs a `run` program to completion against the server at `serverAddress` (in place of the
 * address its code names), with `extraEnv` added to the project's environment (what its server
 * needs it to have: a token, a CA file); its output.
 */
export async function runProgram(project: FreshProject, program: Program, repoRoot: string, serverAddress: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<CommandOutput> {
  const how = await prepare(project, program, substitute(program.block.code, { repoRoot, serverAddress, namedAddress: program.address }));
  return runCommand(how.command, how.args, { cwd: how.cwd, env: { ...project.env, ...extraEnv }, timeoutMs: RUN_TIMEOUT_MS });
}

/** A started `start` program, and how to run its shell steps. */
export interface StartedProgram extends ServingProgram {
  /** Runs a shell step (its port substituted) in the program's directory; its output. */
  step(block: CodeBlock): Promise<CommandOutput>;
}

/** Starts a `start` program on `port` (in place of the README's) against the server. */
export async function startProgram(project: FreshProject, program: Program, repoRoot: string, serverAddress: string, port: number): Promise<StartedProgram> {
  const from = program.serves?.port;
  if (from === undefined) throw new Error(`${program.file} is not a start program`);
  const values = { repoRoot, serverAddress, port: { from, to: port } };
  const how = await prepare(project, program, substitute(program.block.code, values));
  const serving = await startServing(how.command, how.args, { cwd: how.cwd, env: project.env, timeoutMs: RUN_TIMEOUT_MS });
  return {
    ...serving,
    step: (block) => shell(substitute(block.code, values), how.cwd, project.env, RUN_TIMEOUT_MS),
  };
}
