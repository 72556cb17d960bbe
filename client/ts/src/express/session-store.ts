/**
 * An express-session `Store` over Stateward. Used alone it is a plain store (last write wins, as
 * with every express-session store); used through {@link statewardSession} it becomes lock-aware:
 * a writer request reads its session with Lock and writes it as the lock's holder, so concurrent
 * requests of one user queue instead of overwriting each other.
 */
import { status } from "@grpc/grpc-js";
import session from "express-session";
import type { SessionData } from "express-session";
import { ClientReason, StatewardError, toStatewardError } from "../errors";
import { SessionClient, type SessionClientOptions, type SessionOperations } from "../session-client";
import { DEFAULT_LOCK_WAIT_MS, retryWaiterLimit, type WaiterLimitRetryOptions } from "../with-lock";

/** How sessions are turned into bytes and back. Default: JSON. */
export interface SessionSerializer {
  /** Serialises a session (including its `cookie`). */
  stringify(value: SessionData): string;
  /** Parses what {@link stringify} produced. */
  parse(text: string): SessionData;
}

/** The session policy of a {@link StatewardStore}, whichever way it gets its client. */
export interface StatewardStoreSettings {
  /** The Stateward application name the sessions live under. Default `"express"`. */
  readonly app?: string;
  /** TTL in seconds for sessions whose cookie has no expiry (browser-session cookies). Default 86,400. */
  readonly ttlSeconds?: number;
  /**
   * How long a request waits for another request's lock on its session, in ms: the whole budget,
   * retries after `TOO_MANY_WAITERS` included. Default {@link DEFAULT_LOCK_WAIT_MS} (10,000); when
   * it runs out the request fails with ABORTED `LOCK_WAIT_TIMEOUT`.
   */
  readonly waitMs?: number;
  /**
   * The lock's lease in ms: the longest a writer request may hold its session. Default: the
   * server's (110,000, ASP.NET's executionTimeout).
   */
  readonly leaseMs?: number;
  /** Deadline of each call in ms (a waiting call adds `waitMs`). Default: the client's. */
  readonly timeoutMs?: number;
  /** Serializer. Default JSON. */
  readonly serializer?: SessionSerializer;
  /**
   * Retry a request's Lock (or waiting Get) refused with `TOO_MANY_WAITERS` — more requests of one
   * session waiting than the server's `--max-waiters` (default 50) — within `waitMs`; `false`
   * fails the request at once. Default: `DEFAULT_WAITER_LIMIT_RETRY` (first retry within 20 ms,
   * backoffs doubling up to 1 s; see {@link WaiterLimitRetryOptions}).
   */
  readonly waiterLimitRetry?: WaiterLimitRetryOptions | false;
}

/** A store on a client you made (and close yourself). */
export interface StatewardStoreWithClient extends StatewardStoreSettings {
  /** The client (a {@link SessionClient}). The store does not close it. */
  readonly client: SessionOperations;
  /** Not with `client`. */
  readonly clientOptions?: undefined;
}

/** A store that makes its own client, and closes it in {@link StatewardStore.close}. */
export interface StatewardStoreWithClientOptions extends StatewardStoreSettings {
  /**
   * Options of the {@link SessionClient} the store makes: address or endpoints, `tls`, `token`,
   * transport, deadlines, ... Checked when the store is made (a token without TLS throws here).
   */
  readonly clientOptions: SessionClientOptions;
  /** Not with `clientOptions`. */
  readonly client?: undefined;
}

/** Options of a {@link StatewardStore}: a `client`, or the `clientOptions` to make one; and the policy. */
export type StatewardStoreOptions = StatewardStoreWithClient | StatewardStoreWithClientOptions;

/** @internal What the store knows about one request (bound by the middleware). */
export interface RequestLockState {
  /** True when the request takes no lock. */
  readonly readOnly: boolean;
  /** The session id whose lock the request holds. */
  sessionId: string | undefined;
  /** The lock id the request holds, until it is released. */
  lockId: bigint | undefined;
  /** Readers: the session as read, without its cookie, to detect a write. */
  snapshot: string | undefined;
  /** Writers: the session as stored while the request holds the lock (for `reload`). */
  stored?: string | undefined;
  /** Aborted when the request's client goes away: a pending Lock wait is cancelled. */
  readonly gone?: AbortController;
}

/** Callback shapes of express-session. */
type Callback = (error?: unknown) => void;
type GetCallback = (error: unknown, session?: SessionData | null) => void;

const MAX_TTL_SECONDS = 31_536_000;

const JSON_SERIALIZER: SessionSerializer = {
  stringify: (value) => JSON.stringify(value),
  parse: (text) => JSON.parse(text) as SessionData,
};

/**
 * An express-session store on Stateward (an EventEmitter, as express-session requires).
 *
 * - `get`: a missing session calls back `(null, null)`, as express-session expects.
 * - `set`: the ttl comes from the cookie's expiry (or `ttlSeconds` for browser-session cookies).
 * - `touch`: Expire with the cookie's ttl; never writes data.
 * - `destroy`: Remove (with the request's lock id when it holds the lock).
 * - `length`, `clear` and `all` are not provided: Stateward has no listing or counting call.
 *
 * Emits `"release-error"` with a {@link StatewardError} when releasing a request's lock failed
 * (the lease frees it; the event is for metrics). It never emits `"error"`.
 */
export class StatewardStore extends session.Store {
  /** The Stateward application name. */
  readonly app: string;
  private readonly client: SessionOperations;
  /** The client the store made from `clientOptions` (closed by {@link close}); undefined for a given one. */
  private readonly ownClient: SessionClient | undefined;
  private readonly ttlSeconds: number;
  private readonly waitMs: number;
  private readonly leaseMs: number | undefined;
  private readonly timeoutMs: number | undefined;
  private readonly serializer: SessionSerializer;
  private readonly waiterLimitRetry: WaiterLimitRetryOptions | false | undefined;
  /** The state of each request the middleware saw (found again from `session.req`). */
  private readonly requests = new WeakMap<object, RequestLockState>();
  /** Locks held by this process's requests, by session id (for `destroy`, which gets no request). */
  private readonly held = new Map<string, RequestLockState>();
  /** The request whose `store.get` express-session is about to make (it calls it synchronously). */
  private pending: RequestLockState | undefined;

  /**
   * @param options - the client (or the options to make one) and the session policy.
   * @throws {@link StatewardError} INVALID_ARGUMENT when both or neither of `client` and
   *   `clientOptions` are given, and whatever {@link SessionClient}'s constructor throws for
   *   `clientOptions`.
   */
  constructor(options: StatewardStoreOptions) {
    super();
    if ((options.client === undefined) === (options.clientOptions === undefined)) {
      throw new StatewardError(status.INVALID_ARGUMENT, undefined, "StatewardStore: give either client or clientOptions", "store");
    }
    if (options.client !== undefined) {
      this.client = options.client;
      this.ownClient = undefined;
    } else {
      this.ownClient = new SessionClient(options.clientOptions);
      this.client = this.ownClient;
    }
    this.app = options.app ?? "express";
    this.ttlSeconds = Math.max(1, Math.min(MAX_TTL_SECONDS, Math.floor(options.ttlSeconds ?? 86_400)));
    this.waitMs = Math.max(0, options.waitMs ?? DEFAULT_LOCK_WAIT_MS);
    this.leaseMs = options.leaseMs;
    this.timeoutMs = options.timeoutMs;
    this.serializer = options.serializer ?? JSON_SERIALIZER;
    this.waiterLimitRetry = options.waiterLimitRetry;
  }

  /**
   * Closes the client the store made from `clientOptions` (its pending calls fail with CANCELLED);
   * a `client` you gave is yours to close. Idempotent.
   */
  close(): void {
    this.ownClient?.close();
  }

  /** @internal Binds a request's state; the next `get` belongs to it (see {@link statewardSession}). */
  bindRequest(request: object, state: RequestLockState): void {
    this.requests.set(request, state);
    this.pending = state;
  }

  /** @internal Ends the synchronous window in which express-session calls `get`. */
  unbindPending(): void {
    this.pending = undefined;
  }

  /**
   * @internal Releases the request's lock if it still holds one (end of response, aborted request).
   * Never throws: the lease frees the lock anyway.
   */
  async releaseRequest(state: RequestLockState): Promise<void> {
    const { sessionId, lockId } = state;
    if (sessionId === undefined || lockId === undefined) return;
    state.lockId = undefined;
    if (this.held.get(sessionId) === state) this.held.delete(sessionId);
    try {
      await this.client.release(this.app, sessionId, lockId, { timeoutMs: this.timeoutMs });
    } catch (error) {
      this.emit("release-error", toStatewardError(error, "store"));
    }
  }

  /** Reads a session: with the lock for a writer request, without for readers and plain use. */
  override get(sid: string, callback: GetCallback): void {
    const state = this.pending;
    this.pending = undefined;
    this.readSession(sid, state).then(
      (value) => callback(null, value),
      (error: unknown) => callback(error),
    );
  }

  /** Writes a session; a writer request writes as its lock's holder and keeps the lock until it ends. */
  override set(sid: string, data: SessionData, callback?: Callback): void {
    this.writeSession(sid, data).then(
      () => callback?.(),
      (error: unknown) => callback?.(error),
    );
  }

  /** Restarts the session's expiry window with the cookie's ttl (Expire): never writes data. */
  override touch(sid: string, data: SessionData, callback?: Callback): void {
    this.client.expire(this.app, sid, { ttlSeconds: this.ttlOf(data) ?? this.ttlSeconds, timeoutMs: this.timeoutMs }).then(
      () => callback?.(),
      (error: unknown) => callback?.(toStatewardError(error, "store")),
    );
  }

  /** Removes a session (with this process's lock id when one of its requests holds the lock). */
  override destroy(sid: string, callback?: Callback): void {
    const holder = this.held.get(sid);
    const lockId = holder?.lockId;
    this.client.remove(this.app, sid, { lockId, timeoutMs: this.timeoutMs }).then(
      () => {
        if (holder !== undefined) {
          holder.lockId = undefined;
          this.held.delete(sid);
        }
        callback?.();
      },
      (error: unknown) => callback?.(toStatewardError(error, "store")),
    );
  }

  private async readSession(sid: string, state: RequestLockState | undefined): Promise<SessionData | null> {
    // A waiting call's deadline must cover the wait, or the server cuts the wait short. A full
    // queue (TOO_MANY_WAITERS) is retried within the same budget.
    const budget = { waitMs: this.waitMs, timeoutMs: this.timeoutMs === undefined ? undefined : this.timeoutMs + this.waitMs };
    if (state !== undefined && !state.readOnly) {
      const signal = state.gone?.signal;
      const lock = await retryWaiterLimit(this.waiterLimitRetry, { ...budget, signal }, "store", (waitMs, timeoutMs) =>
        this.client.lock(this.app, sid, { waitMs, timeoutMs, leaseMs: this.leaseMs, signal }),
      );
      if (lock.outcome === "not-found") return null;
      if (lock.outcome === "locked") throw lockTimeout(this.waitMs);
      state.sessionId = sid;
      state.lockId = lock.lockId;
      if (state.gone?.signal.aborted === true) {
        // The client left while the lock was being granted: give it back at once, not at lease end.
        await this.releaseRequest(state);
        throw new StatewardError(status.CANCELLED, "REQUEST_GONE", "the request's client went away before its session was read", "store");
      }
      state.stored = lock.data.toString("utf8");
      this.held.set(sid, state);
      try {
        return this.serializer.parse(state.stored);
      } catch (error) {
        await this.releaseRequest(state);
        throw error;
      }
    }
    const holder = state === undefined ? this.held.get(sid) : undefined;
    if (holder?.lockId !== undefined && holder.stored !== undefined) {
      // `req.session.reload()` in a writer request: a Get would wait for our own lock. While we
      // hold it nobody else can write, so what we read or wrote last is what is stored.
      return this.serializer.parse(holder.stored);
    }
    const read = await retryWaiterLimit(this.waiterLimitRetry, budget, "store", (waitMs, timeoutMs) => this.client.get(this.app, sid, { waitMs, timeoutMs }));
    if (read.outcome === "not-found") return null;
    if (read.outcome === "locked") throw lockTimeout(this.waitMs);
    const value = this.serializer.parse(read.data.toString("utf8"));
    if (state !== undefined) {
      state.sessionId = sid;
      state.snapshot = this.withoutCookie(value);
    }
    return value;
  }

  private async writeSession(sid: string, data: SessionData): Promise<void> {
    const request = (data as { req?: unknown }).req;
    const state = typeof request === "object" && request !== null ? this.requests.get(request) : undefined;
    const ttl = this.ttlOf(data);
    if (ttl !== undefined && ttl <= 0) {
      // The cookie has already expired: the browser will not send it again.
      await this.client.remove(this.app, sid, { lockId: state?.sessionId === sid ? state.lockId : undefined, timeoutMs: this.timeoutMs });
      if (state !== undefined && state.sessionId === sid) await this.releaseRequest(state);
      return;
    }
    const ttlSeconds = ttl ?? this.ttlSeconds;
    if (state?.readOnly === true && state.sessionId === sid && state.snapshot !== undefined) {
      // A read-only request may only slide the window: a change would be lost (ASP.NET drops it
      // silently; we refuse loudly so that the route gets classified as a writer).
      if (this.withoutCookie(data) !== state.snapshot) {
        throw new StatewardError(status.FAILED_PRECONDITION, "READ_ONLY_REQUEST", "a read-only request changed its session; mark the route as a writer", "store");
      }
      await this.client.expire(this.app, sid, { ttlSeconds, timeoutMs: this.timeoutMs });
      return;
    }
    if (state?.readOnly === false && state.sessionId === sid && state.lockId === undefined) {
      // The writer's lock is gone (its client went away, or it was released): another request may
      // have written since, so an unlocked write now would silently overwrite that change.
      throw new StatewardError(status.ABORTED, "LOCK_RELEASED", "the request's session lock was released before its session was saved; nothing was written", "store");
    }
    const text = this.serializer.stringify(data);
    const bytes = Buffer.from(text, "utf8");
    const lockId = state !== undefined && state.sessionId === sid ? state.lockId : undefined;
    try {
      // keepLock: express-session may save again later in the request; the middleware releases at
      // the end of the response.
      await this.client.set(this.app, sid, bytes, lockId === undefined ? { ttlSeconds, timeoutMs: this.timeoutMs } : { ttlSeconds, lockId, keepLock: true, timeoutMs: this.timeoutMs });
    } catch (error) {
      throw toStatewardError(error, "store");
    }
    if (lockId !== undefined && state !== undefined) state.stored = text;
  }

  /** Seconds until the cookie expires (undefined for a browser-session cookie), capped at a year. */
  private ttlOf(data: SessionData): number | undefined {
    const expires = (data.cookie as { expires?: Date | string | null } | undefined)?.expires;
    if (expires === undefined || expires === null) return undefined;
    const at = typeof expires === "string" ? Date.parse(expires) : expires.getTime();
    if (!Number.isFinite(at)) return undefined;
    return Math.min(MAX_TTL_SECONDS, Math.ceil((at - Date.now()) / 1000));
  }

  private withoutCookie(data: SessionData): string {
    const rest: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data)) if (key !== "cookie") rest[key] = value;
    return JSON.stringify(rest);
  }
}

function lockTimeout(waitMs: number): StatewardError {
  return new StatewardError(status.ABORTED, ClientReason.LOCK_WAIT_TIMEOUT, `the session was still locked by another request after ${waitMs} ms`, "store");
}
