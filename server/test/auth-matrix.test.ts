/**
 * The access matrix of issue 13, table-driven: principals × apps × every operation × both
 * transports × with and without mutual TLS, each cell with its expected status, against a real
 * server with TLS and an auth file.
 */
import * as assert from "node:assert/strict";
import path from "node:path";
import { status, type ClientDuplexStream, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type { PipelineRequest, PipelineResponse, SessionEvent, SessionStateClient } from "@stateward/protocol";
import { decodeStatusDetails, STATUS_DETAILS_TRAILER } from "@stateward/protocol";
import { newToken, SecureKit, tokenEntry, unaryCall, writeAuthFile, type ClientIdentity, type PrincipalEntry } from "./helpers/secure-server";
import { makeTestCertificates, type TestCertificates } from "./helpers/test-certificates";

type App = "shop" | "blog" | "admin";
type Operation = "get" | "lock" | "set" | "release" | "expire" | "remove" | "watch";
/** What a caller may do in an app: everything, reads only, nothing (PERMISSION_DENIED), or not even be known (UNAUTHENTICATED). */
type Grant = "rw" | "ro" | "no-app" | "unauthenticated";
type Expected = "OK" | "PERMISSION_DENIED:APP_NOT_ALLOWED" | "PERMISSION_DENIED:READ_ONLY_PRINCIPAL" | "UNAUTHENTICATED:MISSING_CREDENTIAL" | "UNAUTHENTICATED:UNKNOWN_CREDENTIAL";

const APPS: readonly App[] = ["shop", "blog", "admin"];
const OPERATIONS: readonly Operation[] = ["get", "lock", "set", "release", "expire", "remove", "watch"];
const READS: ReadonlySet<Operation> = new Set(["get", "watch"]);

const TOKENS = { shopWeb: newToken(), reports: newToken(), ops: newToken() };

/** The auth file of every cell. */
const PRINCIPALS: readonly PrincipalEntry[] = [
  tokenEntry("shop-web", TOKENS.shopWeb, ["shop"], "read-write"),
  tokenEntry("reports", TOKENS.reports, ["shop", "blog"], "read-only"),
  tokenEntry("ops", TOKENS.ops, ["*"], "read-write"),
  { name: "web-mtls", client_cert_cn: "web-01.example", apps: ["shop"], access: "read-write" },
];

/** A caller: how it identifies itself, and (per transport security) what it may do in each app. */
interface Caller {
  readonly name: string;
  /** Credentials with mutual TLS (every caller must present a certificate chaining to the CA). */
  readonly mutual: ClientIdentity;
  /** Credentials with TLS only (a certificate would not be asked for). */
  readonly tls: ClientIdentity;
  readonly grants: { readonly mutual: Readonly<Record<App, Grant>>; readonly tls: Readonly<Record<App, Grant>> };
  /** The UNAUTHENTICATED reason, for callers refused as unknown. */
  readonly unknownReason?: { readonly mutual: Expected; readonly tls: Expected };
}

const ALL = (grant: Grant): Record<App, Grant> => ({ shop: grant, blog: grant, admin: grant });

// The expected access of every caller, written out (not derived from the auth file).
const CALLERS: readonly Caller[] = [
  {
    name: "shop-web (token, read-write on shop)",
    mutual: { token: TOKENS.shopWeb, certificate: "client-anonymous.example" },
    tls: { token: TOKENS.shopWeb },
    grants: { mutual: { shop: "rw", blog: "no-app", admin: "no-app" }, tls: { shop: "rw", blog: "no-app", admin: "no-app" } },
  },
  {
    name: "reports (token, read-only on shop and blog)",
    mutual: { token: TOKENS.reports, certificate: "client-anonymous.example" },
    tls: { token: TOKENS.reports },
    grants: { mutual: { shop: "ro", blog: "ro", admin: "no-app" }, tls: { shop: "ro", blog: "ro", admin: "no-app" } },
  },
  {
    name: "ops (token, read-write on *)",
    mutual: { token: TOKENS.ops, certificate: "client-anonymous.example" },
    tls: { token: TOKENS.ops },
    grants: { mutual: ALL("rw"), tls: ALL("rw") },
  },
  {
    name: "web-mtls (client certificate web-01.example, read-write on shop)",
    mutual: { certificate: "client-web-01.example" },
    // Without mutual TLS the server asks for no certificate: the caller has no credential.
    tls: { certificate: "client-web-01.example" },
    grants: { mutual: { shop: "rw", blog: "no-app", admin: "no-app" }, tls: ALL("unauthenticated") },
    unknownReason: { mutual: "UNAUTHENTICATED:UNKNOWN_CREDENTIAL", tls: "UNAUTHENTICATED:MISSING_CREDENTIAL" },
  },
  {
    name: "a client certificate the auth file does not name, no token",
    mutual: { certificate: "client-anonymous.example" },
    tls: {},
    grants: { mutual: ALL("unauthenticated"), tls: ALL("unauthenticated") },
    unknownReason: { mutual: "UNAUTHENTICATED:UNKNOWN_CREDENTIAL", tls: "UNAUTHENTICATED:MISSING_CREDENTIAL" },
  },
  {
    name: "an unknown token",
    mutual: { token: newToken(), certificate: "client-web-01.example" },
    tls: { token: newToken() },
    grants: { mutual: ALL("unauthenticated"), tls: ALL("unauthenticated") },
    unknownReason: { mutual: "UNAUTHENTICATED:UNKNOWN_CREDENTIAL", tls: "UNAUTHENTICATED:UNKNOWN_CREDENTIAL" },
  },
  {
    name: "a malformed authorization value (Basic)",
    mutual: { authorization: "Basic dXNlcjpwYXNz", certificate: "client-web-01.example" },
    tls: { authorization: "Basic dXNlcjpwYXNz" },
    grants: { mutual: ALL("unauthenticated"), tls: ALL("unauthenticated") },
    unknownReason: { mutual: "UNAUTHENTICATED:UNKNOWN_CREDENTIAL", tls: "UNAUTHENTICATED:UNKNOWN_CREDENTIAL" },
  },
];

function expectedOf(caller: Caller, security: "mutual" | "tls", app: App, operation: Operation): Expected {
  switch (caller.grants[security][app]) {
    case "rw":
      return "OK";
    case "ro":
      return READS.has(operation) ? "OK" : "PERMISSION_DENIED:READ_ONLY_PRINCIPAL";
    case "no-app":
      return "PERMISSION_DENIED:APP_NOT_ALLOWED";
    case "unauthenticated":
      return caller.unknownReason?.[security] ?? "UNAUTHENTICATED:MISSING_CREDENTIAL";
  }
}

/** One request per operation, on a session of its own (so that cells never meet). */
function requestOf(operation: Exclude<Operation, "watch">, app: App, sessionId: string): Record<string, unknown> {
  const key = { app, sessionId };
  switch (operation) {
    case "get":
      return { ...key, waitMs: 0 };
    case "lock":
      return { ...key, waitMs: 0, leaseMs: 0, create: true, ttlSeconds: 0 };
    case "set":
      return { ...key, data: Buffer.from("v"), ttlSeconds: 0, lockId: 0n, keepLock: false, expectedVersion: 0n, onlyIfAbsent: false };
    case "release":
      return { ...key, lockId: 1n };
    case "expire":
      return { ...key, ttlSeconds: 0 };
    case "remove":
      return { ...key, lockId: 0n };
  }
}

function outcomeOfError(error: { code: number; reason: string }): string {
  return `${status[error.code]}:${error.reason}`;
}

function reasonOfServiceError(error: ServiceError): string {
  const raw = error.metadata?.get(STATUS_DETAILS_TRAILER)[0];
  return Buffer.isBuffer(raw) ? (decodeStatusDetails(raw)?.errorInfo?.reason ?? "") : "";
}

async function unaryOutcome(client: SessionStateClient, operation: Exclude<Operation, "watch">, request: Record<string, unknown>): Promise<string> {
  try {
    await unaryCall(client, operation, request);
    return "OK";
  } catch (error) {
    const e = error as ServiceError;
    return outcomeOfError({ code: e.code, reason: reasonOfServiceError(e) });
  }
}

/**
 * Watch: OK when the event of a session removed in the app arrives (`trigger` removes one), else
 * the status the stream ended with.
 */
async function watchOutcome(client: SessionStateClient, app: App, trigger: () => Promise<void>): Promise<string> {
  const call: ClientReadableStream<SessionEvent> = client.watch({ app });
  const outcome = new Promise<string>((resolve) => {
    call.on("data", () => resolve("OK"));
    call.on("error", (error: ServiceError) => resolve(error.code === status.CANCELLED ? "CANCELLED" : outcomeOfError({ code: error.code, reason: reasonOfServiceError(error) })));
  });
  // Until the event arrives, keep removing sessions (the Watch may not be registered yet).
  let settled = false;
  void outcome.then(() => (settled = true));
  for (let i = 0; i < 100 && !settled; i++) {
    await trigger();
    await Promise.race([outcome, new Promise((r) => setTimeout(r, 20))]);
  }
  call.cancel();
  return outcome;
}

/** Runs `operations` of one caller over one Pipeline stream: per operation its outcome, or the stream's refusal for all. */
async function pipelineOutcomes(client: SessionStateClient, operations: readonly { app: App; operation: Exclude<Operation, "watch">; sessionId: string }[]): Promise<string[]> {
  const call: ClientDuplexStream<PipelineRequest, PipelineResponse> = client.pipeline();
  const results = new Map<bigint, string>();
  const done = new Promise<string | undefined>((resolve) => {
    call.on("data", (response: PipelineResponse) => {
      for (const result of response.results) {
        const r = result.result;
        results.set(result.id, r?.$case === "error" ? outcomeOfError({ code: r.value.code, reason: r.value.reason }) : "OK");
      }
      if (results.size === operations.length) resolve(undefined);
    });
    call.on("error", (error: ServiceError) => resolve(outcomeOfError({ code: error.code, reason: reasonOfServiceError(error) })));
  });
  call.write({
    operations: operations.map((o, i) => ({
      id: BigInt(i + 1),
      timeoutMs: 0,
      request: { $case: o.operation, value: requestOf(o.operation, o.app, o.sessionId) },
    })) as unknown as PipelineRequest["operations"],
    cancelIds: [],
  });
  const refused = await done;
  call.end();
  return operations.map((_, i) => refused ?? results.get(BigInt(i + 1)) ?? "missing");
}

describe("access matrix: principals × apps × operations × transports × mutual TLS", function () {
  this.timeout(120_000);
  let certs: TestCertificates;
  let kit: SecureKit;

  before(() => {
    certs = makeTestCertificates(["web-01.example", "anonymous.example"]);
  });
  after(() => certs.remove());
  beforeEach(() => {
    kit = new SecureKit(certs);
  });
  afterEach(() => kit.close());

  for (const security of ["tls", "mutual"] as const) {
    it(`gives every cell its expected status (${security === "mutual" ? "with" : "without"} mutual TLS)`, async () => {
      const authFile = path.join(certs.dir, `auth-${security}.json`);
      writeAuthFile(authFile, PRINCIPALS);
      const server = await kit.server([...kit.tlsFlags(security === "mutual"), "--auth-file", authFile]);
      const opsIdentity: ClientIdentity = security === "mutual" ? { token: TOKENS.ops, certificate: "client-anonymous.example" } : { token: TOKENS.ops };
      const ops = kit.client(server.address, opsIdentity);
      const mismatches: string[] = [];
      let cells = 0;
      let triggered = 0;
      for (const [index, caller] of CALLERS.entries()) {
        const client = kit.client(server.address, caller[security]);
        const pipelined: { app: App; operation: Exclude<Operation, "watch">; sessionId: string; expected: Expected }[] = [];
        for (const app of APPS) {
          for (const operation of OPERATIONS) {
            const expected = expectedOf(caller, security, app, operation);
            const cell = `${caller.name} | ${app} | ${operation}`;
            if (operation === "watch") {
              const trigger = async (): Promise<void> => {
                const sessionId = `watch-${triggered++}`;
                await unaryCall(ops, "set", requestOf("set", app, sessionId));
                await unaryCall(ops, "remove", requestOf("remove", app, sessionId));
              };
              const actual = await watchOutcome(client, app, trigger);
              cells++;
              if (actual !== expected) mismatches.push(`${cell} | watch: expected ${expected}, got ${actual}`);
              continue;
            }
            const actual = await unaryOutcome(client, operation, requestOf(operation, app, `c${index}-${operation}-unary`));
            cells++;
            if (actual !== expected) mismatches.push(`${cell} | unary: expected ${expected}, got ${actual}`);
            pipelined.push({ app, operation, sessionId: `c${index}-${operation}-pipeline`, expected });
          }
        }
        // A stream without a valid credential is refused as a whole; otherwise each operation on its own.
        const outcomes = await pipelineOutcomes(client, pipelined);
        pipelined.forEach((cell, i) => {
          cells++;
          if (outcomes[i] !== cell.expected) {
            mismatches.push(`${caller.name} | ${cell.app} | ${cell.operation} | pipeline: expected ${cell.expected}, got ${outcomes[i]}`);
          }
        });
      }
      assert.deepEqual(mismatches, [], `${mismatches.length} of ${cells} cells differ`);
      assert.equal(cells, CALLERS.length * APPS.length * (OPERATIONS.length * 2 - 1));
    });
  }
});
