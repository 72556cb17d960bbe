/** {@link SessionOps} over Stateward's unary gRPC calls, through the generated client. */
import { Metadata } from "@grpc/grpc-js";
import { Outcome, SessionStateClient } from "@stateward/protocol";
import { callDeadline, channelOptions } from "./grpc-channel-options";
import { statewardCredentials } from "./grpc-credentials";
import type { StatewardSecurity } from "./target-spec";
import type { LockOptions, LockResult, LockToken, SessionOps, SessionOutcome } from "./session-ops";

/** The contract's outcome as the load tester names it (shared by the unary and pipelined transports). */
export function outcomeName(outcome: Outcome): SessionOutcome {
  if (outcome === Outcome.OUTCOME_OK) return "OK";
  if (outcome === Outcome.OUTCOME_LOCKED) return "LOCKED";
  if (outcome === Outcome.OUTCOME_NOT_FOUND) return "NOT_FOUND";
  throw new Error(`unexpected outcome ${String(outcome)}`);
}

/** One gRPC channel to a Stateward server, as a Node consumer would use it. */
export class GrpcUnarySessionOps implements SessionOps {
  private readonly client: SessionStateClient;

  /**
   * @param address - `host:port` of the server.
   * @param app - the `app` of every key.
   * @param security - TLS and token of a `tls-token` server; undefined: plaintext.
   * @param ttlSeconds - ttl of written sessions (0: server default).
   */
  constructor(
    address: string,
    private readonly app: string,
    security?: StatewardSecurity,
    private readonly ttlSeconds = 0,
  ) {
    this.client = new SessionStateClient(address, statewardCredentials(security), channelOptions(security !== undefined));
  }

  get(sessionId: string): Promise<SessionOutcome> {
    return new Promise((resolve, reject) => {
      this.client.get(
        { app: this.app, sessionId, waitMs: 0 },
        new Metadata(),
        { deadline: callDeadline() },
        (error, response) => (error === null ? resolve(outcomeName(response.outcome)) : reject(error)),
      );
    });
  }

  lock(sessionId: string, options: LockOptions): Promise<LockResult> {
    return new Promise((resolve, reject) => {
      this.client.lock(
        {
          app: this.app,
          sessionId,
          waitMs: options.waitMs,
          leaseMs: options.leaseMs,
          create: options.create,
          ttlSeconds: this.ttlSeconds,
        },
        new Metadata(),
        { deadline: callDeadline() },
        (error, response) =>
          error === null ? resolve({ outcome: outcomeName(response.outcome), token: response.lockId }) : reject(error),
      );
    });
  }

  set(sessionId: string, data: Buffer, token?: LockToken): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.set(
        {
          app: this.app,
          sessionId,
          data,
          ttlSeconds: this.ttlSeconds,
          lockId: typeof token === "bigint" ? token : 0n,
          keepLock: false,
          expectedVersion: 0n,
          onlyIfAbsent: false,
        },
        new Metadata(),
        { deadline: callDeadline() },
        (error) => (error === null ? resolve() : reject(error)),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
