/**
 * The server's current access policy (replaced when the auth file is reloaded) and the accounting
 * of refusals (a counter by reason, a rate-limited log). Transport-free: the gRPC and HTTP layers
 * extract credentials and map denials to their status.
 */
import { authorize, isDenial, type AccessPolicy, type Credential, type Denial, type Principal } from "./access-policy";
import type { FailureContext } from "./auth-failure-log";

/** Receives each refusal (the metric and the log). */
export type DenialSink = (denial: Denial, context: FailureContext) => void;

/** The principal a stream authenticated as, re-checked after a reload of the auth file. */
export interface StreamIdentity {
  readonly credential: Credential;
  principal: Principal;
  generation: number;
}

/** Holds the policy in force; see the module comment. */
export class AccessControl {
  private current: AccessPolicy;
  private generation = 0;
  private readonly listeners = new Set<() => void>();

  /**
   * @param policy - the auth file's principals at start.
   * @param onDenial - told about every refusal.
   */
  constructor(
    policy: AccessPolicy,
    private readonly onDenial: DenialSink,
  ) {
    this.current = policy;
  }

  /** The policy in force. */
  get policy(): AccessPolicy {
    return this.current;
  }

  /** Puts a new policy in force (a reload); open streams re-check their principal. */
  replace(policy: AccessPolicy): void {
    this.current = policy;
    this.generation++;
    for (const listener of [...this.listeners]) listener();
  }

  /** Calls `listener` after each {@link replace}; returns the unsubscribe function. */
  onReplace(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The principal of `credential`, or the (reported) denial. */
  authenticate(credential: Credential, context: FailureContext): Principal | Denial {
    const result = this.current.authenticate(credential);
    if (isDenial(result)) this.onDenial(result, context);
    return result;
  }

  /**
   * Authenticates and authorises one call on `app`; undefined when it may proceed.
   * @param write - the operation changes state (Lock, Set, Release, Expire, Remove).
   */
  check(credential: Credential, app: string, write: boolean, context: FailureContext): Denial | undefined {
    const principal = this.authenticate(credential, context);
    if (isDenial(principal)) return principal;
    return this.authorizeAs(principal, app, write, context);
  }

  /** Authorises a call of an authenticated principal; undefined when it may proceed. */
  authorizeAs(principal: Principal, app: string, write: boolean, context: FailureContext): Denial | undefined {
    const denial = authorize(principal, app, write, context.method);
    // The app as the denial shows it (an invalid name is not repeated).
    if (denial !== undefined) this.onDenial(denial, { ...context, app: denial.metadata["app"] ?? "" });
    return denial;
  }

  /** Starts a stream's identity: its principal now, or the (reported) denial. */
  openStream(credential: Credential, context: FailureContext): StreamIdentity | Denial {
    const principal = this.authenticate(credential, context);
    return isDenial(principal) ? principal : { credential, principal, generation: this.generation };
  }

  /**
   * The stream's principal under the policy in force: the same object until a reload, then its
   * credential looked up again (a revoked token fails from its next operation on).
   */
  streamPrincipal(identity: StreamIdentity, context: FailureContext): Principal | Denial {
    if (identity.generation === this.generation) return identity.principal;
    const principal = this.authenticate(identity.credential, context);
    if (isDenial(principal)) return principal;
    identity.principal = principal;
    identity.generation = this.generation;
    return principal;
  }
}
