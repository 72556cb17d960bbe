/**
 * {@link SessionOps} over Stateward's batched Pipeline stream, through the client library's
 * `PipelineClient`: operations issued in the same event-loop turn by the concurrent callers travel
 * in one message. One instance is one channel with one long-lived stream.
 */
import { PipelineClient } from "@stateward/client";
import { CALL_DEADLINE_MS, channelOptions } from "./grpc-channel-options";
import { statewardCredentials } from "./grpc-credentials";
import { outcomeName } from "./grpc-unary-session-ops";
import type { LockOptions, LockResult, LockToken, SessionOps, SessionOutcome } from "./session-ops";
import type { StatewardSecurity } from "./target-spec";

/** The operation's deadline, as the unary transport's call deadline: bounds every request. */
const OPERATION = { timeoutMs: CALL_DEADLINE_MS } as const;

/** One pipelined channel to a Stateward server. */
export class PipelineSessionOps implements SessionOps {
  private readonly client: PipelineClient;

  /**
   * @param address - `host:port` of the server.
   * @param app - the `app` of every key.
   * @param security - TLS and token of a `tls-token` server; undefined: plaintext.
   * @param ttlSeconds - ttl of written sessions (0: server default).
   * @param pollMicros - the client's event-loop polling window (undefined: the SDK's default).
   */
  constructor(
    address: string,
    private readonly app: string,
    security?: StatewardSecurity,
    private readonly ttlSeconds = 0,
    pollMicros?: number,
  ) {
    this.client = new PipelineClient(address, statewardCredentials(security), {
      channelOptions: channelOptions(security !== undefined),
      ...(pollMicros === undefined ? {} : { pollMicros }),
    });
  }

  async get(sessionId: string): Promise<SessionOutcome> {
    const response = await this.client.get({ app: this.app, sessionId, waitMs: 0 }, OPERATION);
    return outcomeName(response.outcome);
  }

  async lock(sessionId: string, options: LockOptions): Promise<LockResult> {
    const response = await this.client.lock(
      { app: this.app, sessionId, waitMs: options.waitMs, leaseMs: options.leaseMs, create: options.create, ttlSeconds: this.ttlSeconds },
      OPERATION,
    );
    return { outcome: outcomeName(response.outcome), token: response.lockId };
  }

  async set(sessionId: string, data: Buffer, token?: LockToken): Promise<void> {
    await this.client.set(
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
      OPERATION,
    );
  }

  close(): void {
    this.client.close();
  }
}
