/**
 * The server's TLS material (`--tls-cert`, `--tls-key`, `--tls-client-ca`), read and checked as a
 * whole before it is used: a certificate that does not parse, a key that does not match it, or a CA
 * file without a certificate is refused with a message naming the file (never its content).
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import tls from "node:tls";

/** The files, as configured. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  /** "" without mutual TLS. */
  readonly clientCa: string;
}

/** Checked material, ready for a secure context. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The client CA certificates; undefined without mutual TLS. */
  readonly clientCa: Buffer | undefined;
  /** Facts for the log: subject, validity end, SHA-256 fingerprint of the server certificate. */
  readonly summary: { readonly subject: string; readonly validTo: string; readonly fingerprint256: string };
  /** True when the server certificate is outside its validity period now (logged as a warning). */
  readonly expired: boolean;
}

/** TLS material that cannot be used; the message names the file at fault. */
export class TlsMaterialError extends Error {
  override readonly name = "TlsMaterialError";
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificatesIn(pem: Buffer, path: string, role: string): X509Certificate[] {
  const blocks = pem.toString("latin1").match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsMaterialError(`${role} file ${JSON.stringify(path)} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new TlsMaterialError(
        `${role} file ${JSON.stringify(path)}: certificate ${index + 1} does not parse (${error instanceof Error ? error.message : String(error)}).`,
      );
    }
  });
}

/**
 * Checks the contents of the TLS files.
 * @param files - the paths, for messages.
 * @param contents - their bytes, in the same order: certificate, key, client CA (undefined without).
 * @param now - for the expiry check.
 * @throws {@link TlsMaterialError}
 */
export function checkTlsMaterial(files: TlsFiles, contents: { cert: Buffer; key: Buffer; clientCa: Buffer | undefined }, now: Date): TlsMaterial {
  const [leaf] = certificatesIn(contents.cert, files.cert, "--tls-cert");
  let key;
  try {
    key = createPrivateKey(contents.key);
  } catch {
    throw new TlsMaterialError(
      `--tls-key file ${JSON.stringify(files.key)} holds no usable PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1; encrypted keys are not supported).`,
    );
  }
  const certificate = leaf as X509Certificate;
  if (!certificate.checkPrivateKey(key)) {
    throw new TlsMaterialError(`--tls-key file ${JSON.stringify(files.key)} does not match the certificate in --tls-cert file ${JSON.stringify(files.cert)}.`);
  }
  if (contents.clientCa !== undefined) certificatesIn(contents.clientCa, files.clientCa, "--tls-client-ca");
  try {
    tls.createSecureContext({ cert: contents.cert, key: contents.key, ...(contents.clientCa === undefined ? {} : { ca: contents.clientCa }) });
  } catch (error) {
    throw new TlsMaterialError(
      `--tls-cert ${JSON.stringify(files.cert)} and --tls-key ${JSON.stringify(files.key)} cannot be used for TLS: ${error instanceof Error ? error.message : String(error)}.`,
    );
  }
  const time = now.getTime();
  return {
    cert: contents.cert,
    key: contents.key,
    clientCa: contents.clientCa,
    summary: { subject: certificate.subject.replace(/\n/g, ", "), validTo: certificate.validTo, fingerprint256: certificate.fingerprint256 },
    expired: time < Date.parse(certificate.validFrom) || time > Date.parse(certificate.validTo),
  };
}
