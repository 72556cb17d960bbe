import { randomBytes } from "node:crypto";

import { systemClock, type Clock } from "../clock";
import {
  NOT_RELEASED,
  NOT_REMOVED,
  RELEASED,
  REMOVED,
  type ExpireResult,
  type GetResult,
  type LockResult,
  type ReleaseResult,
  type RemoveResult,
  type SetResult,
} from "../operations";
import type {
  BackendCounts,
  BackendEvents,
  BackendExpireInput,
  BackendGetInput,
  BackendLockInput,
  BackendReleaseInput,
  BackendRemoveInput,
  BackendSetInput,
  BackendStats,
  Cancellation,
  Completion,
  SessionBackend,
} from "../session-backend";
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from "../session-limits";
import { StoreError } from "../store-error";
import { REPLY, SCRIPTS, type LuaScript } from "./lua-scripts";
import { RedisConnection, type ScriptReply } from "./redis-connection";
import { DEFAULT_REDIS_OPTIONS, type RedisOptions } from "./redis-options";
import { RedisWaiters, type RedisWaiter, type WaiterMode } from "./redis-waiters";
import { conflictOf, getResultOf, lockResultOf, num } from "./script-replies";
import { redactRedisUrl } from "./redis-url";
import { sessionKey, sessionOfKey } from "./session-keys";

function shuttingDown(): StoreError {
  return new StoreError("unavailable", "SHUTTING_DOWN", "the server is shutting down");
}

/** Expire's answer for a missing session. */
const EXPIRE_NOT_FOUND: ExpireResult = Object.freeze({ found: false, ttlSeconds: 0 });

/**
 * The Redis backend: every session in Redis (or Valkey, or a Redis Cluster), so that any number
 * of Stateward nodes in front of it serve any session and wait for each other's locks. Each
 * operation is one script (lua-scripts.ts), atomic in Redis; waiting calls queue in Redis (FIFO,
 * readers before the first writer, --max-waiters across nodes) and are woken over pub/sub by the
 * script that releases the lock, on whatever node it runs; the node re-checks its waiters now and
 * then, so a lost wake-up costs a bounded delay (redis-waiters.ts).
 *
 * Time is Redis's own (one clock for all nodes), unless the backend is given a clock (tests):
 * then that clock's time is sent with every script.
 */
export class RedisBackend implements SessionBackend {
  readonly name = "redis";
  /** The resolved options. */
  readonly options: RedisOptions;
  private readonly connection: RedisConnection;
  private readonly waiters: RedisWaiters;
  private readonly clock: Clock;
  /** Set when a clock was given: scripts then take its time, in strictly increasing µs. */
  private readonly ownTime: boolean;
  private lastMicros = 0;
  /** This process's id in queue entries and its wake-up channel. */
  private readonly node = randomBytes(8).toString("hex");
  private readonly wakeChannel: string;
  private readonly eventsChannel: string;
  private readonly expiredChannel: string;
  private readonly maxWaiters: number;
  private closed = false;
  private lockGrants = 0;

  /**
   * @param options - where Redis is; omitted fields take {@link DEFAULT_REDIS_OPTIONS}.
   * @param limits - the contract limits it enforces itself (waiters per session).
   * @param clock - a clock to take time from instead of Redis's (tests); undefined: Redis's TIME.
   * @param events - where it reports session ends, availability and throwing completions.
   */
  constructor(
    options: Partial<RedisOptions> = {},
    limits: Partial<Pick<SessionLimits, "maxWaiters">> = {},
    clock: Clock | undefined = undefined,
    private readonly events: BackendEvents = {},
  ) {
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = Object.freeze({ ...DEFAULT_REDIS_OPTIONS, ...given });
    this.clock = clock ?? systemClock;
    this.ownTime = clock !== undefined;
    this.maxWaiters = limits.maxWaiters ?? DEFAULT_SESSION_LIMITS.maxWaiters;
    const prefix = this.options.prefix;
    this.wakeChannel = `${prefix}wake:${this.node}`;
    this.eventsChannel = `${prefix}events`;
    this.waiters = new RedisWaiters(this.clock, this.options.recheckMs, this.maxWaiters, events);
    this.waiters.attach({ check: (waiter, mode) => this.checkWaiter(waiter, mode) });
    this.connection = new RedisConnection(this.options, {
      onAvailability: (available) => {
        events.onAvailability?.(available);
        if (available) this.waiters.recheckAll();
      },
      onMessage: (channel, message) => this.message(channel, message),
      onResubscribed: () => this.waiters.recheckAll(),
      onError: (error, what) => events.onBackendError?.(error, what),
    });
    this.expiredChannel = `__keyevent@${this.connection.database}__:expired`;
  }

  /** Connects to Redis and subscribes; rejects (naming no password) if Redis cannot be reached. */
  async open(): Promise<void> {
    try {
      await this.connection.connect([this.wakeChannel, this.eventsChannel], [this.expiredChannel]);
      await this.connection.loadScripts(Object.values(SCRIPTS));
      await this.connection.enableExpiryEvents();
    } catch (error) {
      await this.connection.close();
      const where = this.options.cluster.length > 0 ? `the Redis Cluster ${this.options.cluster.join(",")}` : `Redis at ${redactRedisUrl(this.options.url)}`;
      const cause = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot use ${where}: ${cause}`, { cause: error });
    }
  }

  get(input: BackendGetInput, completion: Completion<GetResult>): Cancellation | undefined {
    if (this.closed) return refuse(completion);
    const key = this.key(input.app, input.sessionId);
    if (input.waitMs === 0) {
      this.run(SCRIPTS.get, key, ["0", "", "0"], completion, getResultOf);
      return undefined;
    }
    const waiter = this.waiters.create(key, "r", completion, input.waitMs, 0);
    this.start(waiter, SCRIPTS.get, [String(input.waitMs), waiter.id, String(this.maxWaiters)]);
    return waiter;
  }

  lock(input: BackendLockInput, completion: Completion<LockResult>): Cancellation | undefined {
    if (this.closed) return refuse(completion);
    const key = this.key(input.app, input.sessionId);
    const rest = [String(input.leaseMs), input.create ? "1" : "0", String(input.ttlSeconds)];
    if (input.waitMs === 0) {
      this.run(SCRIPTS.lock, key, ["0", "", "0", ...rest], completion, (reply) => this.granted(lockResultOf(reply)), true);
      return undefined;
    }
    const waiter = this.waiters.create(key, "w", completion, input.waitMs, input.leaseMs);
    this.start(waiter, SCRIPTS.lock, [String(input.waitMs), waiter.id, String(this.maxWaiters), ...rest]);
    return waiter;
  }

  set(input: BackendSetInput, completion: Completion<SetResult>): undefined {
    if (this.closed) return refuse(completion);
    const data = Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength);
    const args = [
      data,
      String(input.ttlSeconds),
      String(input.createTtlSeconds),
      idArg(input.lockId),
      input.keepLock ? "1" : "0",
      idArg(input.expectedVersion),
      input.onlyIfAbsent ? "1" : "0",
    ];
    this.run(
      SCRIPTS.set,
      this.key(input.app, input.sessionId),
      args,
      completion,
      (reply) => {
        if (num(reply, 0) === REPLY.CONFLICT) throw conflictOf(reply, input.lockId, input.expectedVersion);
        return { version: num(reply, 1), written: num(reply, 2) === 1 };
      },
      true,
    );
    return undefined;
  }

  release(input: BackendReleaseInput, completion: Completion<ReleaseResult>): undefined {
    if (this.closed) return refuse(completion);
    this.run(SCRIPTS.release, this.key(input.app, input.sessionId), [idArg(input.lockId)], completion, (reply) => (num(reply, 0) === REPLY.OK ? RELEASED : NOT_RELEASED), true);
    return undefined;
  }

  expire(input: BackendExpireInput, completion: Completion<ExpireResult>): undefined {
    if (this.closed) return refuse(completion);
    this.run(
      SCRIPTS.expire,
      this.key(input.app, input.sessionId),
      [String(input.ttlSeconds)],
      completion,
      (reply) => (num(reply, 0) === REPLY.OK ? { found: true, ttlSeconds: num(reply, 1) } : EXPIRE_NOT_FOUND),
      true,
    );
    return undefined;
  }

  remove(input: BackendRemoveInput, completion: Completion<RemoveResult>): undefined {
    if (this.closed) return refuse(completion);
    this.run(
      SCRIPTS.remove,
      this.key(input.app, input.sessionId),
      [idArg(input.lockId)],
      completion,
      (reply) => {
        const code = num(reply, 0);
        if (code === REPLY.CONFLICT) throw conflictOf(reply, input.lockId, 0);
        return code === REPLY.OK ? REMOVED : NOT_REMOVED;
      },
      true,
    );
    return undefined;
  }

  /**
   * Sessions, locked sessions and queued calls under the prefix, all nodes' (a SCAN: for tests and
   * tools), as the scripts would see them now: a lease that has ended or a session past its expiry
   * that nobody has touched since counts as ended.
   */
  async counts(): Promise<BackendCounts> {
    let sessions = 0;
    let lockedSessions = 0;
    let waiters = 0;
    const now = this.ownTime ? this.clock.now() : await this.connection.time();
    await this.connection.scan(`${escapeGlob(this.options.prefix)}{*}`, async (keys) => {
      const rows = await Promise.all(keys.map((key) => this.connection.fields(key, ["lid", "le", "exp", "qn"])));
      for (const [lid, le, exp, qn] of rows) {
        const locked = Number(lid ?? 0) !== 0 && Number(le ?? 0) > now;
        if (!locked && Number(exp ?? 0) <= now) continue;
        sessions++;
        if (locked) lockedSessions++;
        waiters += Number(qn ?? 0);
      }
    });
    return { sessions, lockedSessions, waiters };
  }

  /** What this node knows synchronously: its own waiters and grants; the rest lives in Redis (0). */
  stats(): BackendStats {
    return {
      sessions: 0,
      lockedSessions: 0,
      waiters: this.waiters.count,
      bytesUsed: 0,
      maxMemoryBytes: 0,
      slabBytes: 0,
      slabBytesReleased: 0,
      expired: 0,
      leaseExpiries: 0,
      lockGrants: this.lockGrants,
      expirySlices: 0,
      longestExpirySliceMs: 0,
    };
  }

  /** Whether Redis answered the last time it was used. */
  get available(): boolean {
    return this.connection.isAvailable;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Withdrawals before the connection goes (each bounded by the command timeout).
    await this.waiters.close(shuttingDown());
    await this.connection.close();
  }

  // ---- running scripts ---------------------------------------------------------------------

  /** The script's first arguments: time, prefix, node. */
  private head(): string[] {
    if (!this.ownTime) return ["", this.options.prefix, this.node];
    const micros = Math.max(this.lastMicros + 1, Math.floor(this.clock.now() * 1000));
    this.lastMicros = micros;
    return [String(micros), this.options.prefix, this.node];
  }

  /** Runs a script that answers at once; `read` turns its reply into the answer (or throws a refusal). */
  private run<R>(script: LuaScript, key: string, args: readonly (string | Buffer)[], completion: Completion<R>, read: (reply: ScriptReply) => R, writes = false): void {
    this.connection.run(script, key, this.head(), args).then(
      async (reply) => {
        let result: R;
        try {
          result = read(reply);
        } catch (error) {
          completion.reject(error);
          return;
        }
        if (writes && this.options.waitReplicas > 0) {
          try {
            await this.connection.waitForReplicas(key, this.options.waitReplicas, this.options.waitTimeoutMs);
          } catch (error) {
            // A lock the caller is not told about would be held by nobody: give it back.
            const granted = result as Partial<LockResult>;
            if (script === SCRIPTS.lock && granted.outcome === "ok" && granted.lockId !== undefined) void this.giveBack(key, granted.lockId);
            completion.reject(error);
            return;
          }
        }
        completion.resolve(result);
      },
      (error: unknown) => completion.reject(error),
    ).catch((error: unknown) => this.events.onCallbackError?.(error));
  }

  /** The first script of a call that may wait: its answer, or its place in the queue. */
  private start(waiter: RedisWaiter, script: LuaScript, args: readonly string[]): void {
    waiter.sentAt = this.clock.now();
    this.connection.run(script, waiter.key, this.head(), args).then(
      async (reply) => {
        if (waiter.kind === "w" && num(reply, 0) === REPLY.OK) this.lockGrants++;
        if (this.options.waitReplicas > 0 && waiter.kind === "w") await this.connection.waitForReplicas(waiter.key, this.options.waitReplicas, this.options.waitTimeoutMs);
        this.waiters.settle(waiter, reply);
      },
    ).catch((error: unknown) => this.waiters.fail(waiter, error));
  }

  /** Releases `lockId` (best effort: if Redis is away too, the lock ends with its lease). */
  private async giveBack(key: string, lockId: number): Promise<void> {
    try {
      await this.connection.run(SCRIPTS.release, key, this.head(), [idArg(lockId)]);
    } catch {
      // The lease ends it.
    }
  }

  private checkWaiter(waiter: RedisWaiter, mode: WaiterMode): Promise<ScriptReply> {
    waiter.sentAt = this.clock.now();
    const left = Math.max(0, Math.floor(waiter.deadline - waiter.sentAt));
    return this.connection.run(SCRIPTS.waiter, waiter.key, this.head(), [
      String(waiter.queueNumber),
      waiter.id,
      waiter.kind,
      mode,
      String(waiter.leaseMs),
      String(left),
      String(this.maxWaiters),
    ]);
  }

  private granted(result: LockResult): LockResult {
    if (result.outcome === "ok") this.lockGrants++;
    return result;
  }

  private key(app: string, sessionId: string): string {
    return sessionKey(this.options.prefix, app, sessionId);
  }

  /** A message on one of the backend's channels: a wake-up for a waiter here, or a session's end. */
  private message(channel: string, message: Buffer): void {
    if (channel === this.wakeChannel) {
      this.waiters.wake(message);
      return;
    }
    const onSessionEnd = this.events.onSessionEnd;
    if (onSessionEnd === undefined) return;
    let reason: "expired" | "removed";
    let key: string;
    if (channel === this.eventsChannel) {
      const text = message.toString("latin1");
      const space = text.indexOf(" ");
      const kind = text.slice(0, space);
      if (kind !== "expired" && kind !== "removed") return;
      reason = kind;
      key = text.slice(space + 1);
    } else if (channel === this.expiredChannel) {
      reason = "expired";
      key = message.toString("latin1");
    } else {
      return;
    }
    const session = sessionOfKey(this.options.prefix, key);
    if (session === undefined) return;
    try {
      onSessionEnd(session.app, session.sessionId, reason, this.clock.now());
    } catch (error) {
      this.events.onCallbackError?.(error);
    }
  }
}

/** A lock id or version as a script argument (above 2^53, `Infinity`: larger than any, matching none). */
function idArg(value: number): string {
  return Number.isFinite(value) ? String(value) : "1e300";
}

/** `text` with the glob characters of SCAN MATCH escaped. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Answers a call made after close. */
function refuse(completion: Completion<unknown>): undefined {
  completion.reject(shuttingDown());
  return undefined;
}
