/**
 * Servers with TLS, mutual TLS and auth files for the security tests, and clients that present
 * tokens and client certificates: all on 127.0.0.1 port 0, certificates made on the fly
 * (test-certificates.ts), closed in teardown.
 */
import { randomBytes } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { Writable } from "node:stream";
import { SessionStateClient } from "@stateward/protocol";
import { resolveConfig, startServer, type Logger, type StartedServer } from "../../src/index";
import { createLogger } from "../../src/logger";
import { tokenSha256 } from "../../src/security/access-policy";
import type { TestCertificates } from "./test-certificates";

/** A principal entry of an auth file, as the file holds it. */
export interface PrincipalEntry {
  readonly name: string;
  readonly token_sha256?: string;
  readonly client_cert_cn?: string;
  readonly apps: readonly string[];
  readonly access: "read-only" | "read-write";
}

/** A new random token (as `stateward token create` makes them). */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** A token principal's entry. */
export function tokenEntry(name: string, token: string, apps: readonly string[], access: PrincipalEntry["access"]): PrincipalEntry {
  return { name, token_sha256: tokenSha256(token), apps, access };
}

/** Writes an auth file (atomically: a temporary file renamed over it, as deployment tools do). */
export function writeAuthFile(path: string, principals: readonly PrincipalEntry[]): void {
  writeFileSync(`${path}.tmp`, JSON.stringify({ principals }, null, 2));
  // A rename is one change event, never a half-written file.
  renameSync(`${path}.tmp`, path);
}

/** A logger whose JSON lines the test reads (parsed), at `info` and above. */
export function capturedLogger(): { readonly logger: Logger; readonly lines: Record<string, unknown>[]; readonly text: () => string } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const line of String(chunk).split("\n").filter((l) => l.length > 0)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger("info", sink), lines, text: () => raw.join("\n") };
}

/** How a test client connects. */
export interface ClientIdentity {
  /** Trust these CA certificates (PEM); default the test CA. */
  readonly ca?: Buffer;
  /** Present this client certificate (file names in the certificates directory, without extension). */
  readonly certificate?: string;
  /** Send this bearer token as call credentials. */
  readonly token?: string;
  /** Send this raw `authorization` value instead (malformed credentials). */
  readonly authorization?: string;
  /** Plaintext instead of TLS. */
  readonly plaintext?: boolean;
}

// The test certificates name localhost (and 127.0.0.1): checking against the name keeps Node from
// warning about an IP address as TLS server name.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.use_local_subchannel_pool": 1,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.ssl_target_name_override": "localhost",
};

/** Channel credentials for `identity`. */
export function credentialsFor(certs: TestCertificates, identity: ClientIdentity): grpc.ChannelCredentials {
  if (identity.plaintext === true) return grpc.credentials.createInsecure();
  const ssl = grpc.credentials.createSsl(
    identity.ca ?? certs.read("ca.pem"),
    identity.certificate === undefined ? null : certs.read(`${identity.certificate}.key`),
    identity.certificate === undefined ? null : certs.read(`${identity.certificate}.pem`),
  );
  const authorization = identity.token === undefined ? identity.authorization : `Bearer ${identity.token}`;
  if (authorization === undefined) return ssl;
  return grpc.credentials.combineChannelCredentials(
    ssl,
    grpc.credentials.createFromMetadataGenerator((_params, callback) => {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", authorization);
      callback(null, metadata);
    }),
  );
}

/** Test resources: servers and clients, closed by {@link SecureKit.close}. */
export class SecureKit {
  private readonly closers: (() => unknown)[] = [];

  constructor(readonly certs: TestCertificates) {}

  /** A server on 127.0.0.1:0 with `flags` (paths relative to the certificates directory are not resolved: pass full ones). */
  async server(flags: readonly string[], logger?: Logger): Promise<StartedServer> {
    const config = resolveConfig(["--host", "127.0.0.1", "--port", "0", "--log-level", "silent", ...flags], {});
    const server = await startServer(config, logger === undefined ? {} : { logger });
    this.closers.push(() => server.shutdown().catch(() => server.forceShutdown()));
    return server;
  }

  /** The usual TLS flags: the test CA's server certificate, mutual with the test CA when `mutual`. */
  tlsFlags(mutual: boolean): string[] {
    return [
      "--tls-cert",
      this.certs.file("server.pem"),
      "--tls-key",
      this.certs.file("server.key"),
      ...(mutual ? ["--tls-client-ca", this.certs.file("ca.pem")] : []),
    ];
  }

  /** A generated client on `address` with `identity` (its own connection). */
  client(address: string, identity: ClientIdentity): SessionStateClient {
    const client = new SessionStateClient(address, credentialsFor(this.certs, identity), CHANNEL_OPTIONS);
    this.closers.push(() => client.close());
    return client;
  }

  /** Closes everything, last opened first. */
  async close(): Promise<void> {
    for (const close of this.closers.reverse()) await close();
    this.closers.length = 0;
  }
}

/** Resolves to the error a call failed with (and fails if it succeeded). */
export async function refusal(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error("the call succeeded");
}

/** Promisified unary call of a generated client. */
export function unaryCall<Res>(client: SessionStateClient, method: string, request: unknown, timeoutMs = 5000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>)[method];
    if (fn === undefined) throw new Error(`no method ${method}`);
    fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => (error === null ? resolve(response) : reject(error)));
  });
}
