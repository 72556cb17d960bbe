/**
 * Who may do what: the principals of an auth file (see auth-file.ts), looked up by credential, and
 * the rule of each call (the request's app, read or write). Transport-free: the gRPC and HTTP layers
 * extract the credential and turn a {@link Denial} into their status.
 */
import { createHash } from "node:crypto";

/** `read-only` (Get and Watch) or `read-write` (every operation). */
export type Access = "read-only" | "read-write";

/** One principal of the auth file. */
export interface Principal {
  /** Its name in the file: shown in PERMISSION_DENIED messages and logs (never a secret). */
  readonly name: string;
  /** The apps it may use; `"*"` = all. */
  readonly apps: ReadonlySet<string> | "*";
  /** What it may do in them. */
  readonly access: Access;
}

/**
 * What a call presented. The token is kept only as its SHA-256, the form the auth file holds, so a
 * stream that re-checks its credential after a reload does not keep the secret itself.
 */
export interface Credential {
  /** SHA-256 of the bearer token's UTF-8 bytes, lowercase hex; absent without a token. */
  readonly tokenSha256?: string;
  /** True when an `authorization` value was sent that is not `Bearer <token>`. */
  readonly malformed?: boolean;
  /** Subject common name of a client certificate that chained to --tls-client-ca. */
  readonly clientCertCn?: string;
}

/** Why a call was refused; `reason` is the metric label, `code` the contract's ErrorReason. */
export type AuthFailureReason =
  | "missing_credential"
  | "malformed_credential"
  | "unknown_token"
  | "unknown_certificate"
  | "app_not_allowed"
  | "read_only";

/** Every {@link AuthFailureReason}, for counters that start at 0. */
export const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = Object.freeze([
  "missing_credential",
  "malformed_credential",
  "unknown_token",
  "unknown_certificate",
  "app_not_allowed",
  "read_only",
]);

/** A refused call, as the transports report it. Messages never contain a token or a session id. */
export interface Denial {
  /** UNAUTHENTICATED (no valid credential) or PERMISSION_DENIED (a valid one that may not do this). */
  readonly kind: "unauthenticated" | "permission-denied";
  readonly reason: AuthFailureReason;
  /** The contract's reason (errors.proto). */
  readonly errorReason: "MISSING_CREDENTIAL" | "UNKNOWN_CREDENTIAL" | "APP_NOT_ALLOWED" | "READ_ONLY_PRINCIPAL";
  readonly message: string;
  /** ErrorInfo metadata: principal, app, access, required. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The principal's name, or undefined when none was identified (logged as "unknown"). */
  readonly principal: string | undefined;
}

// The contract's rule for app names: a name that breaks it is not shown (it could be megabytes).
const SHOWABLE_APP = /^[\x21-\x7e]{0,128}$/;

/** The app as messages, metadata and logs show it. */
function shownApp(app: string): string {
  return SHOWABLE_APP.test(app) ? app : "(an invalid app name)";
}

/** SHA-256 of a token's UTF-8 bytes in lowercase hex, as `token_sha256` holds it. */
export function tokenSha256(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

const BEARER = /^bearer[ \t]+([!-~]+)[ \t]*$/i;

/**
 * The credential of the `authorization` values of a call or request (gRPC metadata, HTTP header),
 * or undefined when there are none. Anything but one `Bearer <token>` is malformed. The token is
 * hashed at once: only its SHA-256 is kept.
 */
export function bearerCredential(values: readonly unknown[]): Credential | undefined {
  if (values.length === 0) return undefined;
  const match = values.length === 1 && typeof values[0] === "string" ? BEARER.exec(values[0]) : null;
  return match === null ? { malformed: true } : { tokenSha256: tokenSha256(match[1] as string) };
}

/**
 * The credential a call or a request presents: its bearer token (a token, when sent, decides
 * alone), else the subject common name of its verified client certificate. `certificateCn` is
 * called only when no `authorization` came, and only if given: reading the peer's certificate is a
 * native call per request.
 */
export function presentedCredential(authorization: readonly unknown[], certificateCn?: () => string | undefined): Credential {
  const bearer = bearerCredential(authorization);
  if (bearer !== undefined) return bearer;
  const cn = certificateCn?.();
  return cn === undefined ? {} : { clientCertCn: cn };
}

const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

const MISSING: Denial = Object.freeze({
  kind: "unauthenticated",
  reason: "missing_credential",
  errorReason: "MISSING_CREDENTIAL",
  message:
    "this server requires credentials: send the metadata \"authorization: Bearer <token>\" (or, with mutual TLS, a client certificate named in the server's auth file)",
  metadata: NO_METADATA,
  principal: undefined,
});

const MALFORMED: Denial = Object.freeze({
  kind: "unauthenticated",
  reason: "malformed_credential",
  errorReason: "UNKNOWN_CREDENTIAL",
  message: 'the "authorization" metadata is not of the form "Bearer <token>"',
  metadata: NO_METADATA,
  principal: undefined,
});

const UNKNOWN_TOKEN: Denial = Object.freeze({
  kind: "unauthenticated",
  reason: "unknown_token",
  errorReason: "UNKNOWN_CREDENTIAL",
  message: "the bearer token is not valid on this server (unknown or revoked)",
  metadata: NO_METADATA,
  principal: undefined,
});

const UNKNOWN_CERTIFICATE: Denial = Object.freeze({
  kind: "unauthenticated",
  reason: "unknown_certificate",
  errorReason: "UNKNOWN_CREDENTIAL",
  message: "the client certificate's common name is not a principal of this server's auth file (unknown or revoked)",
  metadata: NO_METADATA,
  principal: undefined,
});

/** The principals of one version of the auth file. Immutable: a reload builds a new one. */
export class AccessPolicy {
  private readonly byToken: ReadonlyMap<string, Principal>;
  private readonly byCertCn: ReadonlyMap<string, Principal>;

  /**
   * @param tokens - principals by `token_sha256`.
   * @param certificates - principals by `client_cert_cn`.
   */
  constructor(tokens: ReadonlyMap<string, Principal>, certificates: ReadonlyMap<string, Principal>) {
    this.byToken = tokens;
    this.byCertCn = certificates;
  }

  /** Principals in the file. */
  get size(): number {
    return this.byToken.size + this.byCertCn.size;
  }

  /** True when some principal is named by a client certificate (only then is the peer's certificate read). */
  get namesCertificates(): boolean {
    return this.byCertCn.size > 0;
  }

  /**
   * The principal of a credential, or why there is none. A token, when sent, decides alone (an
   * unknown token is refused even with a known certificate: the caller meant the token).
   *
   * The lookup is by the SHA-256 of the token, so its timing depends on that digest only, never on
   * how much of a secret token a guess gets right: finding a stored digest by timing would take a
   * preimage of it. The stored digests are not secrets either (the file may be world-readable).
   */
  authenticate(credential: Credential): Principal | Denial {
    if (credential.malformed === true) return MALFORMED;
    if (credential.tokenSha256 !== undefined) return this.byToken.get(credential.tokenSha256) ?? UNKNOWN_TOKEN;
    if (credential.clientCertCn !== undefined) return this.byCertCn.get(credential.clientCertCn) ?? UNKNOWN_CERTIFICATE;
    return MISSING;
  }
}

/** True for a {@link Denial} (a principal or a stream identity is never one). */
export function isDenial<T extends object>(value: T | Denial): value is Denial {
  return "errorReason" in value;
}

/**
 * Whether `principal` may call `method` (a write when `write`) on `app`; undefined when it may.
 * @param method - the operation's name (`Set`), for the message.
 */
export function authorize(principal: Principal, requested: string, write: boolean, method: string): Denial | undefined {
  const app = shownApp(requested);
  if (principal.apps !== "*" && !principal.apps.has(requested)) {
    return {
      kind: "permission-denied",
      reason: "app_not_allowed",
      errorReason: "APP_NOT_ALLOWED",
      message: `principal ${JSON.stringify(principal.name)} has no access to app ${JSON.stringify(app)} (its auth file entry's "apps" do not include it)`,
      metadata: { principal: principal.name, app },
      principal: principal.name,
    };
  }
  if (write && principal.access !== "read-write") {
    return {
      kind: "permission-denied",
      reason: "read_only",
      errorReason: "READ_ONLY_PRINCIPAL",
      message: `principal ${JSON.stringify(principal.name)} is read-only and may not call ${method} on app ${JSON.stringify(app)}: that needs "access": "read-write"`,
      metadata: { principal: principal.name, app, access: principal.access, required: "read-write" },
      principal: principal.name,
    };
  }
  return undefined;
}
