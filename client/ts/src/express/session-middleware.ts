/**
 * express-session with ASP.NET's request discipline: a writer request holds its session's lock
 * from the moment the session is read until the response is ended (so concurrent requests of one
 * user queue on the server instead of overwriting each other's changes), a read-only request takes
 * no lock at all.
 */
import session from "express-session";
import type { SessionOptions } from "express-session";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { ClientReason, StatewardError } from "../errors";
import { isWaiterLimitError } from "../with-lock";
import type { RequestLockState, StatewardStore } from "./session-store";

/**
 * Which requests are read-only (no lock; they must not change the session): a predicate, or
 * methods and path prefixes / patterns (a request matching either is read-only).
 */
export type ReadOnlyRule =
  | ((request: Request) => boolean)
  | {
      /** HTTP methods that are read-only, e.g. `["GET", "HEAD"]`. */
      readonly methods?: readonly string[];
      /** Paths that are read-only: a string is a prefix of `req.path`, a RegExp is tested on it. */
      readonly paths?: readonly (string | RegExp)[];
    };

/** How {@link statewardSession} answers a request that could not get its session in time. */
export interface BusyResponseOptions {
  /**
   * The `Retry-After` header, in whole seconds: when the client may try again. Default 1 (a lock
   * held by another request of the same user is usually gone by then).
   */
  readonly retryAfterSeconds?: number;
}

/** Default `Retry-After` of the middleware's 503 answers, in seconds. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/** Options of {@link statewardSession}: express-session's, with a Stateward store. */
export interface StatewardSessionOptions extends SessionOptions {
  /** The store; its lock settings (`waitMs`, `leaseMs`) apply. */
  readonly store: StatewardStore;
  /**
   * Which requests take no lock. Default: none — every request is a writer, as every ASP.NET page
   * is unless it declares read-only session state. A read-only request that changes its session
   * fails with `READ_ONLY_REQUEST` rather than losing the change silently.
   */
  readonly readOnly?: ReadOnlyRule;
  /**
   * A request that could not get its session within the store's `waitMs` — another request still
   * held the lock (`LOCK_WAIT_TIMEOUT`), or the session's queue on the server stayed full
   * (`TOO_MANY_WAITERS`, after the store's retries) — is answered by the middleware itself with
   * `503 Service Unavailable` and a `Retry-After` header, and the route does not run: the request
   * did nothing, and trying again later is the right move. The body is a short text naming the
   * reason (never the session id). `false`: pass the {@link StatewardError} to `next()` instead,
   * for your own error handler. Default `{ retryAfterSeconds: 1 }`.
   */
  readonly busyResponse?: BusyResponseOptions | false;
}

function readOnlyPredicate(rule: ReadOnlyRule | undefined): (request: Request) => boolean {
  if (rule === undefined) return () => false;
  if (typeof rule === "function") return rule;
  const methods = new Set((rule.methods ?? []).map((method) => method.toUpperCase()));
  const paths = rule.paths ?? [];
  return (request) =>
    methods.has(request.method.toUpperCase()) ||
    paths.some((path) => (typeof path === "string" ? request.path.startsWith(path) : path.test(request.path)));
}

type EndFunction = (...args: unknown[]) => Response;

/** The reason of an error that means "the session is busy, come back later", else undefined. */
function busyReason(error: unknown): typeof ClientReason.LOCK_WAIT_TIMEOUT | "TOO_MANY_WAITERS" | undefined {
  if (StatewardError.is(error) && error.reason === ClientReason.LOCK_WAIT_TIMEOUT) return ClientReason.LOCK_WAIT_TIMEOUT;
  return error !== undefined && isWaiterLimitError(error) ? "TOO_MANY_WAITERS" : undefined;
}

/**
 * The session middleware: express-session over a {@link StatewardStore}, lock-aware.
 *
 * A writer request's `store.get` becomes Lock (waiting server-side, FIFO, up to the store's
 * `waitMs`); its saves write as the lock's holder; the lock is released just before the response
 * ends (or when the connection closes), so the next request of the same user sees every change.
 * If the lock is still held by another request when the wait runs out (`LOCK_WAIT_TIMEOUT`), or the
 * session's queue on the server stays full (`TOO_MANY_WAITERS`, retried within the wait), the
 * middleware answers `503` with `Retry-After` (see `busyResponse`).
 * A read-only request that changed its session fails with `READ_ONLY_REQUEST`; like every
 * express-session save error, it reaches the error handler as the response ends (after the status
 * was sent), and nothing is written.
 *
 * @example
 * ```ts
 * app.use(statewardSession({ store, secret, resave: false, saveUninitialized: false,
 *   readOnly: { methods: ["GET", "HEAD"] } }));
 * ```
 */
export function statewardSession(options: StatewardSessionOptions): RequestHandler {
  const { readOnly, busyResponse, ...sessionOptions } = options;
  const store = options.store;
  const inner = session(sessionOptions);
  const isReadOnly = readOnlyPredicate(readOnly);
  const retryAfterSeconds =
    busyResponse === false ? undefined : String(Math.max(0, Math.ceil(busyResponse?.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS)));
  return (request, response, next) => {
    const readOnlyRequest = isReadOnly(request);
    const state: RequestLockState = {
      readOnly: readOnlyRequest,
      sessionId: undefined,
      lockId: undefined,
      snapshot: undefined,
      gone: readOnlyRequest ? undefined : new AbortController(),
    };
    if (!state.readOnly) {
      // Installed before express-session's own wrapper, so it runs after express-session has
      // saved: release, then let the response end.
      const end = response.end as unknown as EndFunction;
      const patched = function (this: Response, ...args: unknown[]): Response {
        if (state.lockId === undefined) return end.apply(this, args);
        void store.releaseRequest(state).then(() => {
          try {
            end.apply(this, args);
          } catch (error) {
            // Past the handler: nobody else can see this error; close the response with it.
            this.destroy(error instanceof Error ? error : new Error(String(error)));
          }
        });
        return this;
      };
      response.end = patched as unknown as Response["end"];
      // A client that goes away before the end must not leave the lock to the lease, whether the
      // lock is held already or still being waited for.
      response.once("close", () => {
        state.gone?.abort();
        void store.releaseRequest(state);
      });
    }
    // express-session calls store.get synchronously inside this call: that is how the store knows
    // which request it reads for.
    // express-session hands a failed session read to `next`: a busy session is answered here.
    const afterSession: NextFunction = (error?: unknown) => {
      const reason = retryAfterSeconds === undefined ? undefined : busyReason(error);
      if (reason === undefined || response.headersSent) {
        next(error);
        return;
      }
      response
        .status(503)
        .set("Retry-After", retryAfterSeconds)
        .type("text/plain")
        .send(`Service Unavailable: the session is busy (${reason}); retry after ${retryAfterSeconds} s`);
    };
    store.bindRequest(request, state);
    try {
      inner(request, response, afterSession);
    } finally {
      store.unbindPending();
    }
  };
}
