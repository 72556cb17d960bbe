/**
 * Session-end events as an async iterator over the `Watch` rpc.
 *
 * Best-effort, as the server documents: events reach the watchers connected when they happen and
 * are never replayed, so a consumer that must not miss a cleanup also needs a periodic sweep of its
 * own. A consumer that falls behind is dropped by the server with RESOURCE_EXHAUSTED ("watcher too
 * slow"); the iteration then throws that error and the consumer may watch again.
 *
 * Events carry session ids (bearer credentials): Watch is for privileged consumers only.
 */
import { Metadata, status, type CallOptions, type ServiceError } from "@grpc/grpc-js";
import { WatchRequest, type SessionEvent, type SessionStateClient } from "@stateward/protocol";

/** Options of {@link watchSessionEvents}. */
export interface WatchOptions {
  /** Aborting ends the iteration normally (the call is cancelled). */
  readonly signal?: AbortSignal;
  /** Request metadata (e.g. authentication added by a proxy in front of the server). */
  readonly metadata?: Metadata;
  /** grpc-js call options (a deadline ends the watch with DEADLINE_EXCEEDED). */
  readonly callOptions?: Partial<CallOptions>;
}

/**
 * Watches the session-end events (expired, removed) of one app.
 *
 * @param client - a `SessionStateClient`.
 * @param app - the application whose sessions to watch.
 * @param options - abort signal, metadata, call options.
 * @returns an async iterator of events; breaking out of the loop cancels the call.
 * @throws (from the iteration) the call's `ServiceError`: RESOURCE_EXHAUSTED when dropped as too
 * slow, UNAVAILABLE when the server shuts down or the connection breaks.
 *
 * @example
 * for await (const event of watchSessionEvents(client, "shop")) {
 *   await releaseResourcesOf(event.sessionId);
 * }
 */
export async function* watchSessionEvents(
  client: SessionStateClient,
  app: string,
  options: WatchOptions = {},
): AsyncGenerator<SessionEvent, void, undefined> {
  const signal = options.signal;
  // A function, not a narrowed expression: the signal can be aborted while the iteration runs.
  const aborted = (): boolean => signal?.aborted === true;
  if (aborted()) return;
  const call = client.watch(WatchRequest.fromPartial({ app }), options.metadata ?? new Metadata(), options.callOptions ?? {});
  const onAbort = (): void => call.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const event of call) yield event as SessionEvent;
  } catch (error) {
    if (aborted() && (error as Partial<ServiceError>).code === status.CANCELLED) return;
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // The CANCELLED status that follows must not become an unhandled 'error' event once the
    // iteration no longer listens.
    call.on("error", () => undefined);
    // No-op after the server ended the call; stops it when the consumer broke out of the loop.
    call.cancel();
  }
}
