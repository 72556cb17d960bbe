/**
 * The security of one server from its configuration: the TLS material (--tls-cert, --tls-key,
 * --tls-client-ca) and the access policy (--auth-file), each read and checked at start (a broken
 * file stops the start with a message naming it) and then kept in service by a
 * {@link ReloadingFiles} (re-read on change and on SIGHUP). Also the warning of --insecure-remote.
 */
import type { ServerConfig } from "./config";
import { isLoopbackHost } from "./config";
import type { Logger } from "./logger";
import { AccessControl } from "./security/access-control";
import type { AccessPolicy, Denial } from "./security/access-policy";
import { AuthFailureLog, type FailureContext } from "./security/auth-failure-log";
import { parseAuthFile } from "./security/auth-file";
import { ReloadingFiles, type ReloadOutcome } from "./security/reloading-files";
import { checkTlsMaterial, type TlsMaterial } from "./security/tls-material";
import { TlsState } from "./security/tls-state";

/** What a reload (SIGHUP) did to each kind of file; absent = not configured. */
export interface SecurityReload {
  readonly tls?: ReloadOutcome;
  readonly authFile?: ReloadOutcome;
}

/** The security state of a running server. */
export interface ServerSecurity {
  /** TLS material in service; undefined = plaintext. */
  readonly tls: TlsState | undefined;
  /** The access policy in force; undefined = no authentication. */
  readonly access: AccessControl | undefined;
  /** Re-reads every file now (SIGHUP). */
  reload(): SecurityReload;
  /** Stops watching the files. */
  close(): void;
}

function tlsSummary(material: TlsMaterial): Record<string, unknown> {
  return { subject: material.summary.subject, validTo: material.summary.validTo, fingerprint256: material.summary.fingerprint256, mutual: material.clientCa !== undefined };
}

/** What --insecure-remote exposes with what is missing, for the warning logged at every start. */
function insecureRemoteWarning(tls: TlsState | undefined, authFile: boolean): string {
  const trusted = " Only for a trusted network.";
  if (tls === undefined && !authFile) {
    return `--insecure-remote: serving without TLS and authentication; anyone who can reach the port can read and change every session, and read them on the wire.${trusted}`;
  }
  if (tls === undefined) {
    return `--insecure-remote: serving without TLS; the network can read every session and the bearer tokens on the wire, and replay the tokens to read and change sessions.${trusted}`;
  }
  return tls.mutual
    ? `--insecure-remote: serving without an auth file; every client with a certificate from --tls-client-ca can read and change every session.${trusted}`
    : `--insecure-remote: serving without authentication; anyone who can reach the port can read and change every session.${trusted}`;
}

/**
 * Reads the configured files and starts following them.
 * @param onDenial - counts each refusal (the metric); the rate-limited log is added here.
 * @throws when a file cannot be read or is invalid (the message names the file, entry and field).
 */
export function startServerSecurity(config: ServerConfig, logger: Logger, onDenial: (denial: Denial) => void): ServerSecurity {
  let tls: TlsState | undefined;
  let tlsFiles: ReloadingFiles<TlsMaterial> | undefined;
  let authFiles: ReloadingFiles<AccessPolicy> | undefined;
  let access: AccessControl | undefined;
  try {
    if (config.tlsCert !== "") {
      const files = { cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa };
      tlsFiles = ReloadingFiles.open<TlsMaterial>({
        what: "TLS certificate and key",
        paths: [files.cert, files.key, files.clientCa],
        load: ([cert, key, clientCa]) => {
          const material = checkTlsMaterial(files, { cert: cert as Buffer, key: key as Buffer, clientCa }, new Date());
          if (material.expired) logger.warn(tlsSummary(material), "the TLS certificate is outside its validity period: clients will refuse it");
          return material;
        },
        apply: (material) => {
          if (tls === undefined) tls = new TlsState(material);
          else tls.replace(material);
        },
        describe: tlsSummary,
        logger,
      });
    }
    if (config.authFile !== "") {
      const failureLog = new AuthFailureLog(logger);
      const sink = (denial: Denial, context: FailureContext): void => {
        onDenial(denial);
        failureLog.record(denial, context);
      };
      authFiles = ReloadingFiles.open({
        what: "auth file",
        paths: [config.authFile],
        load: ([text]) => parseAuthFile((text as Buffer).toString("utf8"), config.authFile),
        apply: (policy) => {
          if (access === undefined) access = new AccessControl(policy, sink);
          else access.replace(policy);
        },
        describe: (policy) => ({ principals: policy.size }),
        logger,
      });
    }
  } catch (error) {
    tlsFiles?.close();
    authFiles?.close();
    throw error;
  }
  if (config.insecureRemote && (tls === undefined || access === undefined)) {
    logger.warn({ host: config.host, remote: !isLoopbackHost(config.host) }, insecureRemoteWarning(tls, access !== undefined));
  }
  if (access?.policy.namesCertificates === true && tls?.mutual !== true) {
    logger.warn("the auth file names client certificates (client_cert_cn), but without --tls-client-ca no client presents one: those principals cannot call");
  }
  return {
    tls,
    access,
    reload: () => ({
      ...(tlsFiles === undefined ? {} : { tls: tlsFiles.reload() }),
      ...(authFiles === undefined ? {} : { authFile: authFiles.reload() }),
    }),
    close: () => {
      tlsFiles?.close();
      authFiles?.close();
    },
  };
}
