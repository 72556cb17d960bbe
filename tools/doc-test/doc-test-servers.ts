/**
 * The servers README programs run against (a {@link ServerChoice}): what each needs is made once
 * per doc-test run (certificates, a token, an auth file), and a fresh server is started from it
 * for every program.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { ServerChoice, Walkthrough } from "./doc-test-plan";
import { substitute, where } from "./fresh-project";
import { runCommand } from "./processes";

/** What a server needs to start, and what a program that calls it needs. */
export interface ServerRecipe {
  /** Flags of `stateward serve`, which listens on 127.0.0.1, port 0. */
  readonly flags: readonly string[];
  /** The directory it starts in, where relative file names in its flags are looked up. */
  readonly cwd?: string;
  /** Variables the server gets on top of the doc-test's environment. */
  readonly serverEnv: Readonly<Record<string, string>>;
  /** Variables a program gets on top of its project's environment (a token, a CA file). */
  readonly programEnv: Readonly<Record<string, string>>;
}

/** openssl, the token command and a walkthrough's setup blocks. */
const SETUP_TIMEOUT_MS = 120_000;

/** The plain server: no flags, nothing to give the program. */
const PLAIN: ServerRecipe = { flags: [], serverEnv: {}, programEnv: {} };

/** Bash's own bookkeeping, not a block's doing. */
const BASH_OWN: ReadonlySet<string> = new Set(["_", "PWD", "OLDPWD", "SHLVL"]);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Each recipe made once (on first use), by the server it is for. */
export class ServerRecipes {
  private readonly made = new Map<string, Promise<ServerRecipe>>();

  /**
   * @param work the doc-test's temporary directory; recipes make their files in directories in it.
   * @param repoRoot the repository, whose built `stateward` command and test-certificate script are used.
   */
  constructor(
    private readonly work: string,
    private readonly repoRoot: string,
  ) {}

  /** The recipe of `choice`, made on the first call; a failure to make it fails every call. */
  for(choice: ServerChoice): Promise<ServerRecipe> {
    if (choice.kind === "plain") return Promise.resolve(PLAIN);
    const slug = choice.kind === "tls" ? "server-tls" : `walkthrough-${choice.walkthrough.source.replace(/[^A-Za-z0-9]+/g, "-").toLowerCase()}-${choice.walkthrough.name}`;
    let recipe = this.made.get(slug);
    if (!recipe) {
      const dir = path.join(this.work, slug);
      recipe = choice.kind === "tls" ? makeTlsRecipe(dir, this.repoRoot) : makeWalkthroughRecipe(choice.walkthrough, dir, this.repoRoot);
      this.made.set(slug, recipe);
    }
    return recipe;
  }
}

/**
 * `server=tls`: throw-away certificates (tools/test-certs/make-test-certs.sh; the server's is for
 * 127.0.0.1), one token minted by the built `stateward token create` for every app, read-write,
 * in an auth file of its own. The program gets the token as `STATEWARD_TOKEN` and the CA as
 * `STATEWARD_CA_FILE`, the names the client READMEs' TLS examples read.
 */
export async function makeTlsRecipe(dir: string, repoRoot: string): Promise<ServerRecipe> {
  mkdirSync(dir, { recursive: true });
  const options = { cwd: dir, env: process.env, timeoutMs: SETUP_TIMEOUT_MS };
  await runCommand("bash", [path.join(repoRoot, "tools", "test-certs", "make-test-certs.sh"), dir], options);
  const { stdout } = await runCommand(path.join(repoRoot, "server", "bin", "stateward"), ["token", "create", "--name", "doc-test"], options);
  const [token = "", entry = ""] = stdout.split("\n");
  // Its first line is the token, its second the auth file's entry for it (checked by the server).
  writeFileSync(path.join(dir, "auth.json"), `{ "principals": [${entry}] }\n`);
  return {
    flags: ["--tls-cert", path.join(dir, "server.pem"), "--tls-key", path.join(dir, "server.key"), "--auth-file", path.join(dir, "auth.json")],
    serverEnv: {},
    programEnv: { STATEWARD_TOKEN: token, STATEWARD_CA_FILE: path.join(dir, "ca.pem") },
  };
}

/** A value as one single-quoted shell word. */
function shellQuote(value: string): string {
  return `'${value.split("'").join(`'\\''`)}'`;
}

/** `env -0` output as a record. */
function parseEnv0(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of text.split("\0")) {
    const at = entry.indexOf("=");
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return env;
}

/**
 * A walkthrough's setup blocks, run in order in `dir` as if pasted into one terminal: with
 * `stateward` (the repository's server/bin) on PATH, the README's clone path replaced by the
 * repository, and every variable a block exports or changes set for the blocks after it. Those
 * variables go to the server and to the programs too, which need them as a reader's shell would
 * have them (`STATEWARD_TOKEN`, `STATEWARD_CA_FILE`); all but PATH, as a program's PATH is its
 * project's (the venv's bin). The serve block's flags are used as printed, in `dir`.
 */
export async function makeWalkthroughRecipe(walkthrough: Walkthrough, dir: string, repoRoot: string): Promise<ServerRecipe> {
  mkdirSync(dir, { recursive: true });
  // Beside the directory, not in it: a block that lists its files sees only its own.
  const envFile = `${dir}.env`;
  const base: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(repoRoot, "server", "bin")}${path.delimiter}${process.env.PATH ?? ""}` };
  const exported: Record<string, string> = {};
  for (const block of walkthrough.setups) {
    const before = Object.entries(exported)
      .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
      .join("");
    // The block's own text, between what earlier blocks exported and a dump of what it exports.
    const script = `${before}${substitute(block.code, { repoRoot })}\nenv -0 > ${shellQuote(envFile)}\n`;
    await runCommand("bash", ["-euo", "pipefail", "-c", script], { cwd: dir, env: base, timeoutMs: SETUP_TIMEOUT_MS }).catch((err: Error) => {
      throw new Error(`the setup block at ${where(block)} (walkthrough ${walkthrough.name}) failed: ${err.message}`);
    });
    for (const [name, value] of Object.entries(parseEnv0(readFileSync(envFile, "utf8")))) {
      if (ENV_NAME.test(name) && !BASH_OWN.has(name) && base[name] !== value) exported[name] = value;
    }
  }
  const forOthers = Object.fromEntries(Object.entries(exported).filter(([name]) => name !== "PATH"));
  return { flags: walkthrough.flags, cwd: dir, serverEnv: forOthers, programEnv: forOthers };
}
