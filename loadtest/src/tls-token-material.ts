/**
 * The throw-away security material of a `tls-token` server the tool starts: certificates from
 * tools/test-certs/make-test-certs.sh (a CA and a server certificate for 127.0.0.1), one token
 * minted by the server's own `stateward token create`, and the auth file naming it. Everything
 * lives in a private temporary directory that is deleted with the server.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { StatewardSecurity } from "./target-spec";

const run = promisify(execFile);

/** The app the tool's principal may use: the only app it writes (session-scenario.ts LOADTEST_APP). */
const PRINCIPAL_APP = "loadtest";

/** The principal's name in the auth file (shown in the server's logs, never the token). */
export const LOADTEST_PRINCIPAL = "loadtest";

/** What a started `tls-token` server and its clients need. */
export interface TlsTokenMaterial {
  /** `serve` flags: --tls-cert, --tls-key and --auth-file. */
  readonly serverArgs: readonly string[];
  /** What the clients present: the CA and the token. */
  readonly security: StatewardSecurity;
  /** Deletes the directory (keys, certificates, auth file). */
  remove(): void;
}

/**
 * Makes the material with openssl (through the repository's test-certificate script) and the
 * server CLI `cli` (the same one that serves, so the auth file is one it accepts).
 */
export async function makeTlsTokenMaterial(cli: string, repoRoot: string): Promise<TlsTokenMaterial> {
  const dir = mkdtempSync(path.join(tmpdir(), "stateward-loadtest-tls-"));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    await run("bash", [path.join(repoRoot, "tools", "test-certs", "make-test-certs.sh"), dir]);
    const minted = await run(process.execPath, [cli, "token", "create", "--name", LOADTEST_PRINCIPAL, "--app", PRINCIPAL_APP]);
    const [token, entry] = minted.stdout.split("\n");
    if (token === undefined || token === "" || entry === undefined || entry === "") {
      // The output holds the token: say what is missing, not what was printed.
      throw new Error(`"${path.basename(cli)} token create" did not print a token and an auth file entry on two lines`);
    }
    const authFile = path.join(dir, "auth.json");
    writeFileSync(authFile, JSON.stringify({ principals: [JSON.parse(entry) as unknown] }), { mode: 0o600 });
    chmodSync(path.join(dir, "server.key"), 0o600);
    return {
      serverArgs: ["--tls-cert", path.join(dir, "server.pem"), "--tls-key", path.join(dir, "server.key"), "--auth-file", authFile],
      security: { caPem: readFileSync(path.join(dir, "ca.pem"), "utf8"), token },
      remove,
    };
  } catch (error) {
    remove();
    throw error;
  }
}
