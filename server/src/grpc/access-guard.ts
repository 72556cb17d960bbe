/**
 * Authentication and authorisation of gRPC calls with an auth file (--auth-file): the credential of
 * a call (its `authorization: Bearer` metadata, or the common name of its mutual-TLS client
 * certificate), checked against the policy in force, and refusals answered UNAUTHENTICATED or
 * PERMISSION_DENIED with their ErrorInfo (status-mapping.ts builds the status).
 *
 * Unary calls are checked before their handler runs. A Pipeline stream is authenticated when it
 * opens (refused as a whole without a valid credential), then each operation is authorised on its
 * own app and fails alone. A Watch is checked when it starts and ended when a reload revokes it.
 * Health stays open; reflection needs any valid principal.
 */
import {
  status,
  type handleBidiStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Metadata,
  type ServerDuplexStream,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { AuthContext } from "@grpc/grpc-js/build/src/auth-context";
import { isDenial, presentedCredential, type Credential, type Denial } from "../security/access-policy";
import type { AccessControl, StreamIdentity } from "../security/access-control";
import type { FailureContext } from "../security/auth-failure-log";
import { refusal, toStatus, type Failure } from "./status-mapping";

/** A call as far as its credential goes. */
interface CredentialSource {
  readonly metadata: Metadata;
  getAuthContext(): AuthContext;
  getPeer(): string;
}

/** The subject common name of the call's verified client certificate, if it has one. */
function certificateCnOf(call: CredentialSource): string | undefined {
  const cn = call.getAuthContext().sslPeerCertificate?.subject?.CN;
  // Several CN attributes come as an array: not a name an auth file can hold.
  return typeof cn === "string" ? cn : undefined;
}

/**
 * The credential a call presents (see presentedCredential). The peer's certificate is read only
 * when asked (mutual TLS, and the policy names certificates).
 */
export function credentialOf(call: CredentialSource, readCertificate: boolean): Credential {
  return presentedCredential(call.metadata.get("authorization"), readCertificate ? () => certificateCnOf(call) : undefined);
}

/** A denial as the status of a call or an operation. */
export function denialFailure(denial: Denial): Failure {
  const code = denial.kind === "unauthenticated" ? status.UNAUTHENTICATED : status.PERMISSION_DENIED;
  return refusal(code, denial.errorReason, denial.message, denial.metadata);
}

/** Where a call came from, for the refusal log; the peer is read only if a refusal is logged. */
function contextOf(method: string, call: CredentialSource): FailureContext {
  return {
    method,
    get peer() {
      return call.getPeer();
    },
  };
}

/** The SessionState methods that change state (read-only principals may not call them). */
const WRITES: ReadonlySet<string> = new Set(["lock", "set", "release", "expire", "remove"]);

/** The method's name for messages and logs (`Set`), from its handler key (`set`). */
function methodName(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}

/** What a Pipeline stream checks each operation against. */
export interface PipelineAccess {
  /** The operation's refusal, or undefined when it may run. */
  check(app: string, operation: "get" | "lock" | "set" | "release" | "expire" | "remove"): Failure | undefined;
  /**
   * Calls `onRevoked` when a reload of the auth file leaves the stream's credential without a
   * principal (the stream then ends, withdrawing what waits); returns the unsubscribe function.
   */
  onRevoked(onRevoked: (failure: Failure) => void): () => void;
}

/** Guards the services of one server with `access`. */
export class AccessGuard {
  /**
   * @param access - the policy in force (replaced on reloads).
   * @param mutualTls - the port requires client certificates, so their common names can name principals.
   */
  constructor(
    private readonly access: AccessControl,
    private readonly mutualTls: boolean,
  ) {}

  private credential(call: CredentialSource): Credential {
    return credentialOf(call, this.mutualTls && this.access.policy.namesCertificates);
  }

  /** A unary handler that runs only for principals with access to the request's app. */
  unary<Req extends { readonly app: string }, Res>(key: string, handler: handleUnaryCall<Req, Res>): handleUnaryCall<Req, Res> {
    const write = WRITES.has(key);
    const method = methodName(key);
    return (call, callback) => {
      const denial = this.access.check(this.credential(call), call.request.app, write, contextOf(method, call));
      if (denial === undefined) handler(call, callback);
      else callback(toStatus(denialFailure(denial)));
    };
  }

  /**
   * Authenticates a Pipeline stream as it opens: its checker, or undefined after refusing the
   * stream with UNAUTHENTICATED.
   */
  openPipeline(call: ServerDuplexStream<unknown, unknown>): PipelineAccess | undefined {
    const identity = this.access.openStream(this.credential(call), contextOf("Pipeline", call));
    if (isDenial(identity)) {
      call.emit("error", toStatus(denialFailure(identity)));
      return undefined;
    }
    // One context per method for the stream's life, not one per operation (this is the hot path).
    const contexts = new Map<string, FailureContext>();
    return {
      check: (app, operation) => {
        let context = contexts.get(operation);
        if (context === undefined) {
          context = contextOf(methodName(operation), call);
          contexts.set(operation, context);
        }
        const principal = this.access.streamPrincipal(identity, context);
        if (isDenial(principal)) return denialFailure(principal);
        const denial = this.access.authorizeAs(principal, app, WRITES.has(operation), context);
        return denial === undefined ? undefined : denialFailure(denial);
      },
      onRevoked: (onRevoked) =>
        this.access.onReplace(() => {
          const principal = this.access.streamPrincipal(identity, contextOf("Pipeline", call));
          if (isDenial(principal)) onRevoked(denialFailure(principal));
        }),
    };
  }

  /**
   * A Watch handler: checked as it starts, and ended through `end` (the hub's, which stops its
   * events first) when a reload takes the access away.
   */
  watch<Req extends { readonly app: string }, Res>(
    handler: handleServerStreamingCall<Req, Res>,
    end: (call: ServerWritableStream<Req, Res>, failure: Failure) => void,
  ): handleServerStreamingCall<Req, Res> {
    return (call: ServerWritableStream<Req, Res>) => {
      const context = contextOf("Watch", call);
      const app = call.request.app;
      const identity = this.access.openStream(this.credential(call), context);
      const denial = isDenial(identity) ? identity : this.access.authorizeAs(identity.principal, app, false, context);
      if (denial !== undefined) {
        call.emit("error", toStatus(denialFailure(denial)));
        return;
      }
      const stop = this.access.onReplace(() => this.recheckWatch(call, identity as StreamIdentity, app, stop, end));
      call.once("cancelled", stop);
      call.once("close", stop);
      call.once("finish", stop);
      handler(call);
    };
  }

  private recheckWatch<Req, Res>(
    call: ServerWritableStream<Req, Res>,
    identity: StreamIdentity,
    app: string,
    stop: () => void,
    end: (call: ServerWritableStream<Req, Res>, failure: Failure) => void,
  ): void {
    const context = contextOf("Watch", call);
    const principal = this.access.streamPrincipal(identity, context);
    const denial = isDenial(principal) ? principal : this.access.authorizeAs(principal, app, false, context);
    if (denial === undefined) return;
    stop();
    end(call, denialFailure(denial));
  }

  /** Every handler of a service (reflection) behind authentication only: any valid principal. */
  authenticatedOnly(implementation: UntypedServiceImplementation, service: string): UntypedServiceImplementation {
    const guarded: UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(implementation)) {
      guarded[name] = ((call: ServerDuplexStream<unknown, unknown>) => {
        const identity = this.access.openStream(this.credential(call), contextOf(`${service}/${name}`, call));
        if (isDenial(identity)) {
          call.emit("error", toStatus(denialFailure(identity)));
          return;
        }
        (handler as handleBidiStreamingCall<unknown, unknown>)(call);
      }) as handleBidiStreamingCall<unknown, unknown>;
    }
    return guarded;
  }
}
