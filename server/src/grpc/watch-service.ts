/**
 * The Watch rpc: session-end events (expired, removed) streamed to connected watchers.
 *
 * Best-effort by design: an event goes to the watchers connected when it happens and is never
 * stored or replayed. The store only pays for an array push per watcher of the session's app (and
 * a map lookup when nobody watches that app): events are written to the streams on the next turn of
 * the event loop. A watcher that falls more than `maxBacklog` events behind (it does not read, or
 * reads slower than sessions end) is dropped with RESOURCE_EXHAUSTED "watcher too slow", so a slow
 * consumer can neither slow the store nor make the server buffer without bound.
 *
 * Privileged: events carry session ids, which are bearer credentials. They go to the watcher and
 * nowhere else (never into logs, spans or metric labels).
 */
import { Metadata, status, type ServerWritableStream } from "@grpc/grpc-js";
import { SessionEventKind, type SessionEvent, type WatchRequest } from "@stateward/client";
import type { SessionEndReason } from "../store/session-store";
import { KEY_LIMITS } from "../store/store-options";

/** Receives counts of what the hub does (metrics); every member optional. */
export interface WatchObserver {
  /** One event was queued for one watcher. */
  readonly onEventSent?: (kind: SessionEndReason) => void;
  /** A watcher was dropped for falling behind. */
  readonly onWatcherDropped?: () => void;
}

/** Message of the status a dropped watcher gets. */
export const WATCHER_TOO_SLOW_MESSAGE = "watcher too slow: it fell behind by more than --watch-max-backlog events and was dropped";

const KINDS: Readonly<Record<SessionEndReason, SessionEventKind>> = {
  expired: SessionEventKind.SESSION_EVENT_KIND_EXPIRED,
  removed: SessionEventKind.SESSION_EVENT_KIND_REMOVED,
};

function invalidApp(app: string): string | undefined {
  for (let i = 0; i < app.length; i++) {
    const code = app.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return "app must be visible ASCII (0x21-0x7E), 0 to 128 bytes";
  }
  if (app.length > KEY_LIMITS.maxAppBytes) return `app must be at most ${KEY_LIMITS.maxAppBytes} bytes; got ${app.length}`;
  return undefined;
}

/** One connected Watch stream. */
class Watcher {
  /** Events queued for the next flush. */
  pending: SessionEvent[] = [];
  closed = false;

  constructor(
    readonly app: string,
    private readonly call: ServerWritableStream<WatchRequest, SessionEvent>,
  ) {}

  /** Events not yet handed to the transport plus those the transport has not delivered yet. */
  get backlog(): number {
    return this.pending.length + this.call.writableLength;
  }

  flush(): void {
    const events = this.pending;
    this.pending = [];
    for (const event of events) this.call.write(event);
  }

  /** Ends the stream with `code` (after the events already written, as gRPC orders them). */
  end(code: status, details: string): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.call.emit("error", { code, details });
  }
}

/** Keeps the connected watchers and fans session-end events out to them. */
export class WatchHub {
  private readonly byApp = new Map<string, Set<Watcher>>();
  private watcherCount = 0;
  private readonly dirty = new Set<Watcher>();
  private flushScheduled = false;
  private stopped = false;

  /**
   * @param maxBacklog - events a watcher may have undelivered before it is dropped.
   * @param observer - counts for metrics.
   */
  constructor(
    private readonly maxBacklog: number,
    private readonly observer: WatchObserver = {},
  ) {}

  /** Connected watchers. */
  get size(): number {
    return this.watcherCount;
  }

  /**
   * The store's `onSessionEnd` hook. Runs inside store operations: it only queues the event.
   */
  readonly publish = (app: string, sessionId: string, reason: SessionEndReason, at: number): void => {
    if (this.watcherCount === 0) return;
    const watchers = this.byApp.get(app);
    if (watchers === undefined) return;
    const event: SessionEvent = { kind: KINDS[reason], app, sessionId, time: new Date(at) };
    for (const watcher of watchers) {
      if (watcher.backlog >= this.maxBacklog) {
        this.drop(watcher);
        continue;
      }
      watcher.pending.push(event);
      this.dirty.add(watcher);
      this.observer.onEventSent?.(reason);
    }
    if (!this.flushScheduled && this.dirty.size > 0) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  };

  /** The grpc-js handler of `SessionState/Watch`. */
  readonly handle = (call: ServerWritableStream<WatchRequest, SessionEvent>): void => {
    if (this.stopped) {
      call.emit("error", { code: status.UNAVAILABLE, details: "the server is shutting down" });
      return;
    }
    const app = call.request.app;
    const problem = invalidApp(app);
    if (problem !== undefined) {
      call.emit("error", { code: status.INVALID_ARGUMENT, details: problem });
      return;
    }
    const watcher = new Watcher(app, call);
    let watchers = this.byApp.get(app);
    if (watchers === undefined) {
      watchers = new Set();
      this.byApp.set(app, watchers);
    }
    watchers.add(watcher);
    this.watcherCount++;
    // Headers now, so the client knows it is subscribed before the first event.
    call.sendMetadata(new Metadata());
    const leave = (): void => this.remove(watcher);
    call.once("cancelled", leave);
    call.once("close", leave);
    call.once("error", leave);
  };

  /** Ends every watch stream with UNAVAILABLE (shutdown); later Watch calls are refused. */
  endAll(): void {
    this.stopped = true;
    for (const watchers of [...this.byApp.values()]) {
      for (const watcher of [...watchers]) {
        this.remove(watcher);
        watcher.end(status.UNAVAILABLE, "the server is shutting down");
      }
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const watcher of dirty) if (!watcher.closed) watcher.flush();
  };

  private drop(watcher: Watcher): void {
    this.remove(watcher);
    this.observer.onWatcherDropped?.();
    watcher.end(status.RESOURCE_EXHAUSTED, WATCHER_TOO_SLOW_MESSAGE);
  }

  private remove(watcher: Watcher): void {
    const watchers = this.byApp.get(watcher.app);
    if (watchers === undefined || !watchers.delete(watcher)) return;
    this.watcherCount--;
    this.dirty.delete(watcher);
    if (watchers.size === 0) this.byApp.delete(watcher.app);
  }
}
