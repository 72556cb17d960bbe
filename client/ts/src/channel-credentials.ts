/**
 * How the SDK's channels are secured, in one place for {@link SessionClient}, {@link PipelineClient}
 * and users of the raw stubs: TLS from PEM or files (read and checked once, when the client is
 * made), the bearer token as gRPC call credentials over TLS, or as plain `authorization` metadata
 * over plaintext only when the caller asks for it (`insecureToken`).
 *
 * Nothing here puts a token, or a key's content, in an error message.
 */
import { readFileSync } from "node:fs";
import { checkServerIdentity } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { status, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";
import { StatewardError } from "./errors";

/**
 * TLS settings. Every PEM may be given inline (a Buffer or a string) or as a file path (`…File`),
 * not both; files are read once, when the client is made. Without `rootCerts`/`rootCertsFile` the
 * server's certificate must chain to Node's bundled roots.
 */
export interface TlsOptions {
  /** PEM root certificates to trust (the CA that signed the server's certificate). */
  readonly rootCerts?: Buffer | string;
  /** Path of a PEM file with the root certificates to trust. */
  readonly rootCertsFile?: string;
  /** PEM client certificate chain, for mutual TLS; needs `privateKey` or `privateKeyFile`. */
  readonly certChain?: Buffer | string;
  /** Path of the PEM client certificate chain, for mutual TLS; needs `privateKey` or `privateKeyFile`. */
  readonly certChainFile?: string;
  /** PEM private key of the client certificate, for mutual TLS; needs `certChain` or `certChainFile`. */
  readonly privateKey?: Buffer | string;
  /** Path of the PEM private key of the client certificate; needs `certChain` or `certChainFile`. */
  readonly privateKeyFile?: string;
  /**
   * The name the server's certificate is checked against, instead of the host of the address
   * (e.g. `"stateward.internal"` when connecting by IP address). The SDK's clients also send it as
   * the TLS server name (SNI) and as the `:authority` of every call.
   */
  readonly serverName?: string;
}

/**
 * The bearer token, as the server's `--auth-file` knows it (by its SHA-256). Over TLS it travels
 * as gRPC call credentials, as `authorization: Bearer <token>` on every unary call, pipeline stream
 * and Watch.
 */
export interface TokenOptions {
  /** The bearer token (visible ASCII, as `stateward token create` prints it). */
  readonly token?: string;
  /**
   * Send `token` over a plaintext channel too, as plain `authorization` metadata: anyone who can
   * see the traffic can then replay it. For local development against a loopback server with an
   * auth file. Default false: a token without TLS is refused when the client is made.
   */
  readonly insecureToken?: boolean;
}

/** Options of {@link channelCredentials}. */
export interface ChannelCredentialsOptions {
  /** TLS settings. Without them the credentials are plaintext (insecure). */
  readonly tls?: TlsOptions;
  /** A bearer token, composed into the credentials as call credentials (TLS only). */
  readonly token?: string;
}

/** What this module knows about credentials it built (found again when a client is given them). */
interface CredentialFacts {
  readonly serverName: string | undefined;
  readonly hasToken: boolean;
}

const FACTS = new WeakMap<ChannelCredentials, CredentialFacts>();

/** A misconfiguration found when a client is made: INVALID_ARGUMENT, before anything connects. */
function configError(message: string, cause?: unknown): StatewardError {
  return new StatewardError(status.INVALID_ARGUMENT, undefined, message, "connect", cause === undefined ? {} : { cause });
}

/** Tokens are header values: a newline (a token read from a file) would fail every call later. */
const TOKEN = /^[\x21-\x7e]+$/;

function checkToken(token: string): void {
  if (!TOKEN.test(token)) {
    throw configError("token must be a non-empty string of visible ASCII without spaces or line breaks (a token read from a file may end with a newline)");
  }
}

/** The bearer token as call credentials: a fresh `authorization` entry for every call. */
function tokenCallCredentials(token: string): grpc.CallCredentials {
  const value = `Bearer ${token}`;
  return grpc.credentials.createFromMetadataGenerator((_options, callback) => {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", value);
    callback(null, metadata);
  });
}

type PemKind = "rootCerts" | "certChain" | "privateKey";

/** One PEM of `tls`, inline or from its file; null when neither is given. */
function readPem(tls: TlsOptions, kind: PemKind): Buffer | null {
  const fileOption = `${kind}File` as const;
  const inline = tls[kind];
  const file = tls[fileOption];
  if (inline !== undefined && file !== undefined) throw configError(`tls.${kind} and tls.${fileOption} are both given: give one of them`);
  let pem: Buffer;
  let what: string;
  if (file !== undefined) {
    what = `tls.${fileOption} (${file})`;
    try {
      pem = readFileSync(file);
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw configError(`${what} cannot be read: ${why}`, error);
    }
  } else if (inline !== undefined) {
    what = `tls.${kind}`;
    pem = typeof inline === "string" ? Buffer.from(inline, "utf8") : inline;
  } else {
    return null;
  }
  // A DER file, an empty file or the wrong file would otherwise fail only at the first handshake.
  if (!pem.includes("-----BEGIN ")) throw configError(`${what} holds no PEM block (-----BEGIN ...)`);
  return pem;
}

/** TLS channel credentials from `tls`, every file read and every PEM parsed now. */
function tlsCredentials(tls: TlsOptions): ChannelCredentials {
  const rootCerts = readPem(tls, "rootCerts");
  const certChain = readPem(tls, "certChain");
  const privateKey = readPem(tls, "privateKey");
  if ((certChain === null) !== (privateKey === null)) {
    throw configError(
      certChain === null
        ? "tls.privateKey(File) is given without tls.certChain(File): a client certificate and its key go together"
        : "tls.certChain(File) is given without tls.privateKey(File): a client certificate and its key go together",
    );
  }
  const serverName = tls.serverName;
  if (serverName !== undefined && serverName.trim() === "") throw configError("tls.serverName is empty");
  // The credentials check the name themselves, so that a raw stub built on them checks it too;
  // the clients also send it as SNI and :authority (channelOptionsOf).
  const verifyOptions: grpc.VerifyOptions = serverName === undefined ? {} : { checkServerIdentity: (_host, cert) => checkServerIdentity(serverName, cert) };
  let credentials: ChannelCredentials;
  try {
    credentials = grpc.credentials.createSsl(rootCerts, privateKey, certChain, verifyOptions);
  } catch (error) {
    // OpenSSL's messages name what is wrong (no start line, key values mismatch), never a key's content.
    throw configError(`tls: the certificates or the key cannot be used: ${(error as Error).message}`, error);
  }
  FACTS.set(credentials, { serverName, hasToken: false });
  return credentials;
}

/**
 * Channel credentials for a Stateward server: TLS from `tls` (files read, PEM parsed now), with
 * `token` as call credentials; plaintext without `tls`. For {@link PipelineClient}'s credentials
 * argument and the raw `SessionStateClient` (e.g. for `watchSessionEvents`); `SessionClient` takes
 * the same options directly.
 *
 * @throws {@link StatewardError} INVALID_ARGUMENT for a file that cannot be read, a PEM that
 *   cannot be used, a client certificate without its key (or the reverse), or a token without
 *   `tls` (plaintext credentials cannot carry one: give the client `token` with `insecureToken`).
 */
export function channelCredentials(options: ChannelCredentialsOptions = {}): ChannelCredentials {
  if (options.tls === undefined) {
    if (options.token !== undefined) {
      throw configError(
        "channelCredentials: a token needs tls; over plaintext, give the client `token` with `insecureToken: true` instead (plaintext credentials cannot carry call credentials)",
      );
    }
    return grpc.credentials.createInsecure();
  }
  const credentials = tlsCredentials(options.tls);
  if (options.token === undefined) return credentials;
  checkToken(options.token);
  const composed = credentials.compose(tokenCallCredentials(options.token));
  FACTS.set(composed, { serverName: options.tls.serverName, hasToken: true });
  return composed;
}

/** What a client asks for: explicit credentials or TLS options, and a token. */
export interface ChannelSecurityOptions extends TokenOptions {
  readonly credentials?: ChannelCredentials;
  readonly tls?: TlsOptions;
}

/** How a client makes its channels and calls, resolved from its options. */
export interface ChannelSecurity {
  /** The channel credentials, with the token composed in over TLS. */
  readonly credentials: ChannelCredentials;
  /** Channel options they need: the TLS server name override (SNI, certificate name, :authority). */
  readonly channelOptions: ChannelOptions;
  /** The token as metadata for every call and stream: only over plaintext with `insecureToken`. */
  readonly plaintextMetadata: grpc.Metadata | undefined;
}

/**
 * Resolves a client's security options (the SDK's clients' one way to do it). Explicit
 * `credentials` are used as given, with the token composed in when they are secure.
 *
 * @param client - the client's name, for messages.
 * @internal
 */
export function resolveChannelSecurity(options: ChannelSecurityOptions, client: string): ChannelSecurity {
  if (options.credentials !== undefined && options.tls !== undefined) {
    throw configError(`${client}: credentials and tls are both given: give tls, or build the credentials with channelCredentials({ tls })`);
  }
  const base = options.credentials ?? (options.tls === undefined ? grpc.credentials.createInsecure() : tlsCredentials(options.tls));
  const facts = FACTS.get(base);
  const channelOptions = channelOptionsOf(facts?.serverName);
  const token = options.token;
  if (token === undefined) return { credentials: base, channelOptions, plaintextMetadata: undefined };
  checkToken(token);
  if (facts?.hasToken === true) throw configError(`${client}: the token is given twice, in the credentials and in the client's token option: give it once`);
  if (base._isSecure()) {
    const credentials = base.compose(tokenCallCredentials(token));
    FACTS.set(credentials, { serverName: facts?.serverName, hasToken: true });
    return { credentials, channelOptions, plaintextMetadata: undefined };
  }
  if (options.insecureToken !== true) {
    throw configError(
      `${client}: a token over a plaintext channel would travel in clear text: give tls (TLS options, e.g. { rootCertsFile }) or, for local development only, insecureToken: true`,
    );
  }
  const plaintextMetadata = new grpc.Metadata();
  plaintextMetadata.set("authorization", `Bearer ${token}`);
  return { credentials: base, channelOptions, plaintextMetadata };
}

function channelOptionsOf(serverName: string | undefined): ChannelOptions {
  if (serverName === undefined) return {};
  return { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName };
}
