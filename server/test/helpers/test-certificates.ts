/**
 * Throw-away certificates for the TLS tests, made on the fly by tools/test-certs/make-test-certs.sh
 * (openssl) into a temporary directory: nothing secret is committed.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const SCRIPT = path.resolve(__dirname, "../../../tools/test-certs/make-test-certs.sh");

/** The certificates of one test run; see make-test-certs.sh for what each file is. */
export interface TestCertificates {
  /** The directory holding them. */
  readonly dir: string;
  /** The path of `name` in {@link dir}, e.g. `file("server.pem")`. */
  file(name: string): string;
  /** The content of `name`. */
  read(name: string): Buffer;
  /** Client certificate and key paths for a common name given to {@link makeTestCertificates}. */
  client(cn: string): { readonly cert: string; readonly key: string };
  /** Deletes the directory. */
  remove(): void;
}

/**
 * Makes a CA, server certificates for localhost/127.0.0.1/::1 (one expired), a second CA, and a
 * client certificate per common name (default `web-01.example`).
 */
export function makeTestCertificates(clientCns: readonly string[] = ["web-01.example"]): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), "stateward-certs-"));
  execFileSync("bash", [SCRIPT, dir, ...clientCns], { stdio: ["ignore", "ignore", "pipe"] });
  const file = (name: string): string => path.join(dir, name);
  return {
    dir,
    file,
    read: (name) => readFileSync(file(name)),
    client: (cn) => ({ cert: file(`client-${cn}.pem`), key: file(`client-${cn}.key`) }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
