/**
 * What the doc-test runs, from the marked blocks of every README: the fresh projects (one per
 * language and `project=` name, set up by its install blocks), and the programs that run in each
 * project of their language, with their expected output and the shell blocks run beside them.
 */
import type { CodeBlock, ParsedMarkdown, ProgramLang } from "./markdown-blocks";

/** The server address README code uses; the doc-test puts its own server's address there. */
export const README_SERVER_ADDRESS = "127.0.0.1:42424";

/**
 * Where README install lines assume the clone of this repository is. The doc-test puts the real
 * repository root there, so the install lines name the files `make dist` built.
 */
export const README_CLONE_PATHS: readonly string[] = ["~/stateward", "$HOME/stateward"];

/** A fresh project and the README blocks that install the client into it. */
export interface Project {
  readonly lang: ProgramLang;
  /** The `project=` name ("default" without one). */
  readonly name: string;
  readonly installs: readonly CodeBlock[];
}

/** A shell block run while a `start` program serves. */
export interface ShellStep {
  readonly file: string;
  readonly block: CodeBlock;
  readonly output?: CodeBlock;
}

/** A README program. */
export interface Program {
  readonly file: string;
  readonly lang: ProgramLang;
  readonly block: CodeBlock;
  /** Expected standard output (`run` programs). */
  readonly output?: CodeBlock;
  /** `start` programs: the port in the README code, and the shell blocks run against it. */
  readonly serves?: { readonly port: number; readonly steps: readonly ShellStep[] };
}

/** Everything to run, and every inconsistency between the markers. */
export interface DocTestPlan {
  readonly projects: readonly Project[];
  readonly programs: readonly Program[];
  /** `file:line: message`, marker syntax problems included. */
  readonly errors: readonly string[];
}

/** Builds the plan from parsed READMEs (in the order given, which is the order things run in). */
export function planDocTests(files: readonly ParsedMarkdown[]): DocTestPlan {
  const errors: string[] = files.flatMap((f) => f.errors);
  const projects = new Map<string, { lang: ProgramLang; name: string; installs: CodeBlock[] }>();
  const programs: Program[] = [];
  const at = (b: CodeBlock): string => `${b.source}:${b.line}`;

  for (const { blocks } of files) {
    const outputs = new Map<string, CodeBlock>();
    const runs = new Map<string, CodeBlock>();
    for (const b of blocks) {
      const m = b.marker;
      if (m?.verb === "output") {
        if (outputs.has(m.file)) errors.push(`${at(b)}: a second output block for ${m.file}`);
        outputs.set(m.file, b);
      } else if (m?.verb === "run" || m?.verb === "start") {
        if (runs.has(m.file)) errors.push(`${at(b)}: ${m.file} is already a program of this file (${at(runs.get(m.file) as CodeBlock)})`);
        runs.set(m.file, b);
      }
    }
    for (const [file, b] of outputs) {
      const run = runs.get(file);
      if (!run) errors.push(`${at(b)}: output of ${file}, but no block runs ${file}`);
      else if (run.marker?.verb === "start") errors.push(`${at(b)}: ${file} is started, not run to completion: its output is not checked`);
    }

    for (const b of blocks) {
      const m = b.marker;
      if (m?.verb === "install") {
        const key = `${m.lang}/${m.project}`;
        const project = projects.get(key) ?? { lang: m.lang, name: m.project, installs: [] };
        project.installs.push(b);
        projects.set(key, project);
      } else if ((m?.verb === "run" && m.with === undefined) || m?.verb === "start") {
        const lang = b.lang as ProgramLang;
        if (!b.code.includes(README_SERVER_ADDRESS)) {
          errors.push(`${at(b)}: ${m.file} must name the server as "${README_SERVER_ADDRESS}" (the doc-test points it at its own server there)`);
        }
        const output = outputs.get(m.file);
        if (m.verb === "run") {
          programs.push({ file: m.file, lang, block: b, ...(output ? { output } : {}) });
          continue;
        }
        if (!new RegExp(`\\b${m.port}\\b`).test(b.code)) errors.push(`${at(b)}: ${m.file} does not mention its port ${m.port}`);
        const steps: ShellStep[] = [];
        for (const s of blocks) {
          if (s.marker?.verb !== "run" || s.marker.with !== m.file) continue;
          const stepOutput = outputs.get(s.marker.file);
          steps.push({ file: s.marker.file, block: s, ...(stepOutput ? { output: stepOutput } : {}) });
        }
        if (steps.length === 0) errors.push(`${at(b)}: nothing runs against ${m.file} (a sh block marked run <file> with=${m.file})`);
        programs.push({ file: m.file, lang, block: b, serves: { port: m.port, steps } });
      } else if (m?.verb === "run" && m.with !== undefined) {
        if (runs.get(m.with)?.marker?.verb !== "start") errors.push(`${at(b)}: with=${m.with}, but no block starts ${m.with}`);
      }
    }
  }

  for (const p of programs) {
    if (![...projects.values()].some((project) => project.lang === p.lang)) {
      errors.push(`${at(p.block)}: ${p.file} is ${p.lang}, but no install block makes a ${p.lang} project to run it in`);
    }
  }
  for (const project of projects.values()) {
    // Later install blocks may add libraries from the registry (express); the client comes from dist/.
    if (!project.installs.some((b) => README_CLONE_PATHS.some((p) => b.code.includes(`${p}/dist/`)))) {
      errors.push(`${at(project.installs[0] as CodeBlock)}: nothing installs the ${project.lang} client from the clone's dist/ (${README_CLONE_PATHS.map((p) => `${p}/dist/`).join(" or ")})`);
    }
    if (!programs.some((p) => p.lang === project.lang)) {
      errors.push(`${at(project.installs[0] as CodeBlock)}: no ${project.lang} program runs in the project this installs into`);
    }
  }
  return { projects: [...projects.values()], programs, errors };
}
