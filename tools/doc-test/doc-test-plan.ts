/**
 * What the doc-test runs, from the marked blocks of every README: the fresh projects (one per
 * language and `project=` name, set up by its install blocks), the walkthroughs (setup blocks and
 * the server they configure), and the programs that run in each project of their language, with
 * the server they run against, their expected output and the shell blocks run beside them.
 */
import { TLS_SERVER, type CodeBlock, type ParsedMarkdown, type ProgramLang } from "./markdown-blocks";

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

/**
 * A walkthrough of one README: shell blocks that make what its server needs (certificates, a
 * token, an auth file), and the `stateward serve` command that starts it.
 */
export interface Walkthrough {
  readonly source: string;
  readonly name: string;
  /** The setup blocks, in the order they run (the README's). */
  readonly setups: readonly CodeBlock[];
  /** The serve block. */
  readonly serve: CodeBlock;
  /** The serve command's flags, without `--host` and `--port` (the doc-test listens on 127.0.0.1, port 0). */
  readonly flags: readonly string[];
}

/** The server a `run` program runs against: a fresh one for every run. */
export type ServerChoice =
  /** `stateward serve` with no flags: plaintext, no authentication. */
  | { readonly kind: "plain" }
  /** `server=tls`: TLS and a token, with the doc-test's own certificates and auth file. */
  | { readonly kind: "tls" }
  /** `server=<walkthrough>`: what the walkthrough's setup blocks made, started by its serve block. */
  | { readonly kind: "walkthrough"; readonly walkthrough: Walkthrough };

/** A README program. */
export interface Program {
  readonly file: string;
  readonly lang: ProgramLang;
  readonly block: CodeBlock;
  /** The server it runs against (`start` programs: always plain). */
  readonly server: ServerChoice;
  /** The server address its code names, where the doc-test puts its server's. */
  readonly address: string;
  /** Expected standard output (`run` programs). */
  readonly output?: CodeBlock;
  /** `start` programs: the port in the README code, and the shell blocks run against it. */
  readonly serves?: { readonly port: number; readonly steps: readonly ShellStep[] };
}

/** Everything to run, and every inconsistency between the markers. */
export interface DocTestPlan {
  readonly projects: readonly Project[];
  readonly walkthroughs: readonly Walkthrough[];
  readonly programs: readonly Program[];
  /** `file:line: message`, marker syntax problems included. */
  readonly errors: readonly string[];
}

/** Builds the plan from parsed READMEs (in the order given, which is the order things run in). */
export function planDocTests(files: readonly ParsedMarkdown[]): DocTestPlan {
  const errors: string[] = files.flatMap((f) => f.errors);
  const projects = new Map<string, { lang: ProgramLang; name: string; installs: CodeBlock[] }>();
  const programs: Program[] = [];
  const allWalkthroughs: Walkthrough[] = [];
  const at = (b: CodeBlock): string => `${b.source}:${b.line}`;

  for (const { blocks } of files) {
    const outputs = new Map<string, CodeBlock>();
    const runs = new Map<string, CodeBlock>();
    const serves = new Map<string, CodeBlock>();
    const setups = new Map<string, CodeBlock[]>();
    for (const b of blocks) {
      const m = b.marker;
      if (m?.verb === "output") {
        if (outputs.has(m.file)) errors.push(`${at(b)}: a second output block for ${m.file}`);
        outputs.set(m.file, b);
      } else if (m?.verb === "run" || m?.verb === "start") {
        if (runs.has(m.file)) errors.push(`${at(b)}: ${m.file} is already a program of this file (${at(runs.get(m.file) as CodeBlock)})`);
        runs.set(m.file, b);
      } else if (m?.verb === "serve") {
        if (serves.has(m.walkthrough)) errors.push(`${at(b)}: a second serve block for walkthrough ${m.walkthrough} (${at(serves.get(m.walkthrough) as CodeBlock)})`);
        else serves.set(m.walkthrough, b);
      } else if (m?.verb === "setup") {
        setups.set(m.walkthrough, [...(setups.get(m.walkthrough) ?? []), b]);
      }
    }
    const walkthroughs = new Map<string, { walkthrough: Walkthrough; address: string; used: boolean }>();
    for (const [name, serve] of serves) {
      const flags = serveCommandFlags(serve.code);
      if (typeof flags === "string") errors.push(`${at(serve)}: ${flags}`);
      const walkthrough: Walkthrough = { source: serve.source, name, setups: setups.get(name) ?? [], serve, flags: typeof flags === "string" ? [] : flags };
      const address = serve.marker?.verb === "serve" ? (serve.marker.address ?? README_SERVER_ADDRESS) : README_SERVER_ADDRESS;
      walkthroughs.set(name, { walkthrough, address, used: false });
      allWalkthroughs.push(walkthrough);
    }
    for (const [name, [first]] of setups) {
      if (first && !serves.has(name)) errors.push(`${at(first)}: setup of walkthrough ${name}, but no block serves it (<!-- doctest: serve ${name} -->)`);
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
        let server: ServerChoice = { kind: "plain" };
        let address = README_SERVER_ADDRESS;
        if (m.verb === "run" && m.server === TLS_SERVER) server = { kind: "tls" };
        else if (m.verb === "run" && m.server !== undefined) {
          const found = walkthroughs.get(m.server);
          if (!found) errors.push(`${at(b)}: server=${m.server}, but no block of this file serves walkthrough ${m.server} (<!-- doctest: serve ${m.server} -->), and it is not "${TLS_SERVER}"`);
          else {
            found.used = true;
            server = { kind: "walkthrough", walkthrough: found.walkthrough };
            address = found.address;
          }
        }
        if (!b.code.includes(address)) {
          errors.push(`${at(b)}: ${m.file} must name the server as "${address}" (the doc-test points it at its own server there)`);
        }
        const output = outputs.get(m.file);
        if (m.verb === "run") {
          programs.push({ file: m.file, lang, block: b, server, address, ...(output ? { output } : {}) });
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
        programs.push({ file: m.file, lang, block: b, server, address, serves: { port: m.port, steps } });
      } else if (m?.verb === "run" && m.with !== undefined) {
        if (runs.get(m.with)?.marker?.verb !== "start") errors.push(`${at(b)}: with=${m.with}, but no block starts ${m.with}`);
      }
    }
    for (const { walkthrough, used } of walkthroughs.values()) {
      if (!used) errors.push(`${at(walkthrough.serve)}: nothing runs against walkthrough ${walkthrough.name} (a program marked run <file> server=${walkthrough.name})`);
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
  return { projects: [...projects.values()], walkthroughs: allWalkthroughs, programs, errors };
}

/** The characters of flags, file names and addresses: no quoting, expansion, redirection or comments. */
const PLAIN_WORDS = /^[A-Za-z0-9_./:=@%+,\s-]*$/;

/**
 * The flags of a serve block's one `stateward serve` command line (`\` continues it), without
 * `--host` and `--port`; or why the block is not such a command. The doc-test passes them to the
 * server without a shell, so nothing but what is printed can run.
 */
export function serveCommandFlags(code: string): readonly string[] | string {
  const line = code.replace(/\\\n/g, " ").trim();
  if (line.includes("\n")) return "a serve block is one command line (a trailing \\ continues it)";
  if (!PLAIN_WORDS.test(line)) return "a serve block is a plain `stateward serve` command: no quotes, variables, comments or other shell syntax";
  const [command, sub, ...args] = line.split(/\s+/);
  if (command !== "stateward" || sub !== "serve") return "a serve block runs `stateward serve ...`";
  const flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const name = arg.split("=")[0];
    if (name !== "--host" && name !== "--port") {
      flags.push(arg);
      continue;
    }
    // Replaced: the doc-test's server listens on 127.0.0.1 port 0, whatever the README binds.
    if (!arg.includes("=") && (args[++i] ?? "--").startsWith("--")) return `${name} in the serve block has no value`;
  }
  return flags;
}
