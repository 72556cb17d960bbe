/**
 * `@stateward/client/express`: an express-session store on Stateward, and a lock-aware session
 * middleware that stops concurrent requests of one user from losing each other's writes.
 * Needs `express-session` (an optional peer dependency of `@stateward/client`).
 */
export {
  StatewardStore,
  type StatewardStoreOptions,
  type StatewardStoreSettings,
  type StatewardStoreWithClient,
  type StatewardStoreWithClientOptions,
  type SessionSerializer,
} from "./session-store";
export { statewardSession, DEFAULT_RETRY_AFTER_SECONDS, type StatewardSessionOptions, type ReadOnlyRule, type BusyResponseOptions } from "./session-middleware";
