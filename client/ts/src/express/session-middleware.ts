/**
 * express-session with ASP.NET's request discipline: a writer request holds its session's lock
 * from the moment the session is read until the response is ended (so concurrent requests of one
 * user queue on the server instead of overwriting each other's changes), a read-only request takes
 * no lock at all.
 */
import session from "express-session";
import type { SessionOptions } from "express-session";
import type { Request, RequestHandler, Response } from "express";
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

/**
 * The session middleware: express-session over a {@link StatewardStore}, lock-aware.
 *
 * A writer request's `store.get` becomes Lock (waiting server-side, FIFO, up to the store's
 * `waitMs`); its saves write as the lock's holder; the lock is released just before the response
 * ends (or when the connection closes), so the next request of the same user sees every change.
 * If the lock is still held by another request when the wait runs out, the request fails with a
 * {@link StatewardError} whose reason is `LOCK_TIMEOUT` (answer it with 503 in your error handler).
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
  const { readOnly, ...sessionOptions } = options;
  const store = options.store;
  const inner = session(sessionOptions);
  const isReadOnly = readOnlyPredicate(readOnly);
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
    store.bindRequest(request, state);
    try {
      inner(request, response, next);
    } finally {
      store.unbindPending();
    }
  };
}
