/**
 * The fenced code blocks of a Markdown file, each with the doc-test marker in front of it.
 *
 * A marker is an HTML comment (invisible on GitHub) on the last non-blank line before a fence:
 *
 * - `<!-- doctest: install <lang> [project=<name>] -->` — a shell block that installs the client
 *   into a fresh project of that language (ts, python, go). Blocks with the same language and
 *   project name run in order in one project; each project runs every program of its language.
 * - `<!-- doctest: run <file> [with=<file>] [server=tls|<walkthrough>] -->` — a complete program
 *   (ts, python, go), saved as `<file>` and run to completion against a fresh server; or, with
 *   `with=`, a shell block run while the `start` program `<file>` serves. `server=tls`: the fresh
 *   server speaks TLS and needs a token (the doc-test's own certificates and token, given to the
 *   program as `STATEWARD_CA_FILE` and `STATEWARD_TOKEN`); `server=<walkthrough>`: the server of
 *   the walkthrough of that name in the same file (below).
 * - `<!-- doctest: setup <walkthrough> -->` — a shell block of a walkthrough: its setup blocks run
 *   in order, once, in a directory of their own with `stateward` on PATH, as if pasted into one
 *   terminal (variables they export reach the later blocks, the server and the programs), before
 *   its server starts, wherever they stand in the text; so they must not need the server.
 * - `<!-- doctest: serve <walkthrough> [address=<host:port>] -->` — the walkthrough's server: one
 *   `stateward serve` command line, run in the walkthrough's directory as printed except that it
 *   listens on 127.0.0.1 and a free port (its `--host` and `--port` are replaced), afresh for each
 *   program run with `server=<walkthrough>`. Those programs name it as `address` (default
 *   127.0.0.1:42424), which the doc-test replaces with where it listens.
 * - `<!-- doctest: start <file> port=<n> -->` — a program that serves on port n until stopped
 *   (the doc-test gives it a free port instead); it is ready when it prints its first line.
 * - `<!-- doctest: output <file> -->` — the exact standard output of `run <file>`.
 * - `<!-- doctest: skip <reason> -->` — shown but not run (a fragment, a command that runs `make`).
 *
 * Code in a programming language (ts, js, python, go, …) must carry a marker, so nothing that
 * looks runnable escapes the doc-test unnoticed; shell, text and unlabelled blocks may.
 */

/** The languages the doc-test can run a program in. */
export type ProgramLang = "ts" | "python" | "go";

/** What a marker asks of the block after it. */
export type Marker =
  | { readonly verb: "install"; readonly lang: ProgramLang; readonly project: string }
  | { readonly verb: "run"; readonly file: string; readonly with?: string; readonly server?: string }
  | { readonly verb: "setup"; readonly walkthrough: string }
  | { readonly verb: "serve"; readonly walkthrough: string; readonly address?: string }
  | { readonly verb: "start"; readonly file: string; readonly port: number }
  | { readonly verb: "output"; readonly file: string }
  | { readonly verb: "skip"; readonly reason: string };

/** A fenced code block. */
export interface CodeBlock {
  /** The Markdown file, as given to {@link parseMarkdownBlocks}. */
  readonly source: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The info string's first word, normalized (`typescript` → `ts`, `py` → `python`); "" if none. */
  readonly lang: string;
  /** The block's text, ending with a newline unless empty. */
  readonly code: string;
  /** The marker in front of it, if any. */
  readonly marker?: Marker;
}

/** The blocks of one file, and every marker problem found in it. */
export interface ParsedMarkdown {
  readonly blocks: readonly CodeBlock[];
  /** `file:line: message`, one per problem. */
  readonly errors: readonly string[];
}

const LANG_ALIASES: Readonly<Record<string, string>> = {
  typescript: "ts",
  py: "python",
  python3: "python",
  golang: "go",
  bash: "sh",
  shell: "sh",
  javascript: "js",
};

/** Languages whose blocks read as programs: they must say whether they run. */
export const CODE_LANGS: ReadonlySet<string> = new Set(["ts", "tsx", "mts", "cts", "js", "mjs", "cjs", "jsx", "python", "go"]);
const PROGRAM_LANGS: ReadonlySet<string> = new Set<ProgramLang>(["ts", "python", "go"]);
const SHELL_LANGS: ReadonlySet<string> = new Set(["sh", "console"]);

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const MARKER = /^\s*<!--\s*doctest:(.*?)-->\s*$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A host name or IPv4 address, a colon, a port: what a README program dials. */
const HOST_PORT = /^[A-Za-z0-9][A-Za-z0-9.-]*:[0-9]{1,5}$/;
/** `server=tls`: the doc-test's own TLS + token server (so no walkthrough may be called that). */
export const TLS_SERVER = "tls";

/** Reads the fenced blocks of `text` (the contents of `source`) and checks their markers. */
export function parseMarkdownBlocks(source: string, text: string): ParsedMarkdown {
  const lines = text.split("\n");
  const blocks: CodeBlock[] = [];
  const errors: string[] = [];
  let pending: { marker: Marker | undefined; line: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const markerMatch = MARKER.exec(line);
    if (markerMatch) {
      if (pending) errors.push(`${source}:${pending.line}: a doctest marker with no code block after it`);
      const parsed = parseMarker(markerMatch[1] ?? "");
      if (typeof parsed === "string") errors.push(`${source}:${i + 1}: ${parsed}`);
      pending = { marker: typeof parsed === "string" ? undefined : parsed, line: i + 1 };
      continue;
    }
    const fence = FENCE.exec(line);
    if (!fence) {
      if (pending && line.trim() !== "") {
        errors.push(`${source}:${pending.line}: a doctest marker must come right before its code block`);
        pending = undefined;
      }
      continue;
    }
    const opener = fence[1] ?? "```";
    const rawLang = (fence[2] ?? "").toLowerCase();
    const lang = LANG_ALIASES[rawLang] ?? rawLang;
    const body: string[] = [];
    let j = i + 1;
    // A closing fence is the same character, at least as long, with nothing after it.
    const closer = new RegExp(`^ {0,3}${opener[0] === "`" ? "`" : "~"}{${opener.length},}\\s*$`);
    while (j < lines.length && !closer.test(lines[j] ?? "")) body.push(lines[j++] ?? "");
    if (j >= lines.length) errors.push(`${source}:${i + 1}: the code block is never closed`);
    const block: CodeBlock = {
      source,
      line: i + 1,
      lang,
      code: body.length > 0 ? `${body.join("\n")}\n` : "",
      ...(pending?.marker ? { marker: pending.marker } : {}),
    };
    const problem = checkBlock(block, pending !== undefined);
    if (problem) errors.push(`${source}:${i + 1}: ${problem}`);
    blocks.push(block);
    pending = undefined;
    i = j;
  }
  if (pending) errors.push(`${source}:${pending.line}: a doctest marker with no code block after it`);
  return { blocks, errors };
}

/** Why a block and its marker do not fit together, or undefined if they do. */
function checkBlock(block: CodeBlock, hadMarker: boolean): string | undefined {
  const { marker, lang } = block;
  if (!marker) {
    // An invalid marker was reported already; an absent one only matters for code.
    if (!hadMarker && CODE_LANGS.has(lang)) {
      return `a ${lang} block needs a marker: <!-- doctest: run <file> --> for a complete program, <!-- doctest: skip <reason> --> otherwise`;
    }
    return undefined;
  }
  switch (marker.verb) {
    case "install":
      return SHELL_LANGS.has(lang) ? undefined : `an install block must be a sh block, not "${lang || "unlabelled"}"`;
    case "run":
      if (marker.with !== undefined) return SHELL_LANGS.has(lang) ? undefined : `run ${marker.file} with=… is for sh blocks, not "${lang || "unlabelled"}"`;
      return PROGRAM_LANGS.has(lang) ? undefined : `run needs a ts, python or go block (or with=<file> for sh), not "${lang || "unlabelled"}"`;
    case "start":
      return PROGRAM_LANGS.has(lang) ? undefined : `start needs a ts, python or go block, not "${lang || "unlabelled"}"`;
    case "setup":
    case "serve":
      return SHELL_LANGS.has(lang) ? undefined : `a ${marker.verb} block must be a sh block, not "${lang || "unlabelled"}"`;
    case "output":
    case "skip":
      return undefined;
  }
}

/** A marker from the text between `doctest:` and `-->`, or why it is not one. */
export function parseMarker(text: string): Marker | string {
  const [verb = "", ...rest] = text.trim().split(/\s+/);
  const positional = rest.filter((w) => !w.includes("="));
  const options = new Map<string, string>();
  for (const w of rest.filter((w) => w.includes("="))) {
    const at = w.indexOf("=");
    options.set(w.slice(0, at), w.slice(at + 1));
  }
  const allow = (...keys: string[]): string | undefined => {
    const unknown = [...options.keys()].filter((k) => !keys.includes(k));
    return unknown.length > 0 ? `doctest ${verb}: unknown option ${unknown.join(", ")}` : undefined;
  };
  const oneFile = (): string | undefined => {
    if (positional.length !== 1) return `doctest ${verb} takes one file name, got ${positional.length}`;
    const file = positional[0] ?? "";
    return FILE_NAME.test(file) ? undefined : `doctest ${verb}: "${file}" is not a plain file name`;
  };
  switch (verb) {
    case "install": {
      const lang = positional[0] ?? "";
      if (positional.length !== 1 || !PROGRAM_LANGS.has(lang)) return `doctest install takes one language (ts, python or go), got "${positional.join(" ")}"`;
      const project = options.get("project") ?? "default";
      if (!FILE_NAME.test(project)) return `doctest install: project "${project}" is not a plain name`;
      return allow("project") ?? { verb, lang: lang as ProgramLang, project };
    }
    case "run": {
      const bad = oneFile() ?? allow("with", "server");
      if (bad) return bad;
      const withFile = options.get("with");
      if (withFile !== undefined && !FILE_NAME.test(withFile)) return `doctest run: with="${withFile}" is not a plain file name`;
      const server = options.get("server");
      if (server !== undefined && !FILE_NAME.test(server)) return `doctest run: server="${server}" is not "${TLS_SERVER}" or a walkthrough's name`;
      // A shell step runs against its start program, which itself runs against a plain server.
      if (server !== undefined && withFile !== undefined) return `doctest run: with= and server= do not go together (a with= step talks to its start program)`;
      return { verb, file: positional[0] ?? "", ...(withFile !== undefined ? { with: withFile } : {}), ...(server !== undefined ? { server } : {}) };
    }
    case "setup":
    case "serve": {
      const name = positional[0] ?? "";
      if (positional.length !== 1 || !FILE_NAME.test(name)) return `doctest ${verb} takes one walkthrough name, got "${positional.join(" ")}"`;
      if (name === TLS_SERVER) return `doctest ${verb}: "${TLS_SERVER}" is the doc-test's own TLS server (server=${TLS_SERVER}), not a walkthrough's name`;
      if (verb === "setup") return allow() ?? { verb, walkthrough: name };
      const address = options.get("address");
      if (address !== undefined && !HOST_PORT.test(address)) return `doctest serve: address="${address}" is not <host>:<port>`;
      return allow("address") ?? { verb, walkthrough: name, ...(address !== undefined ? { address } : {}) };
    }
    case "start": {
      const bad = oneFile() ?? allow("port");
      if (bad) return bad;
      const port = Number(options.get("port"));
      if (!Number.isInteger(port) || port < 1 || port > 65_535) return `doctest start needs port=<the port the program listens on>`;
      return { verb, file: positional[0] ?? "", port };
    }
    case "output":
      return oneFile() ?? allow() ?? { verb, file: positional[0] ?? "" };
    case "skip": {
      const reason = rest.join(" ");
      return reason === "" ? "doctest skip needs a reason (why the block is not run)" : { verb, reason };
    }
    default:
      return `unknown doctest verb "${verb}" (install, run, start, output, setup, serve or skip)`;
  }
}
