/**
 * The Watch rpc: session-end events (expired, removed) streamed to connected watchers.
 *
 * Best-effort by design: an event goes to the watchers connected when it happens and is never
 * stored or replayed. The store only pays for an array push per watcher of the session's app (and
 * a map lookup when nobody watches that app): events are written to the streams on the next turn of
 * the event loop, as fast as each watcher takes them. A watcher more than `maxBacklog` events behind
 * that has taken nothing for {@link WATCH_STALL_MS} (it stopped reading), or more than
 * {@link WATCH_HARD_BACKLOG_FACTOR} × `maxBacklog` behind whatever its progress, is dropped with
 * RESOURCE_EXHAUSTED "watcher too slow", so a stuck consumer can neither slow the store nor make the
 * server buffer without bound, while a burst (20,000 sessions expiring at once) reaches a watcher
 * that keeps reading.
 *
 * Privileged: events carry session ids, which are bearer credentials. They go to the watcher and
 * nowhere else (never into logs, spans or metric labels).
 */
import { performance } from "node:perf_hooks";
import { Metadata, status, type ServerWritableStream } from "@grpc/grpc-js";
import { SessionEventKind, type SessionEvent, type WatchRequest } from "@stateward/protocol";
import { validateApp } from "../store/input-validation";
import type { SessionEndReason } from "../store/session-backend";
import type { Logger } from "../logger";
import { describeFailure, refusal, toStatus, type Failure } from "./status-mapping";

/** Receives counts of what the hub does (metrics); every member optional. */
export interface WatchObserver {
  /** One event was queued for one watcher. */
  readonly onEventSent?: (kind: SessionEndReason) => void;
  /** A watcher was dropped for falling behind. */
  readonly onWatcherDropped?: () => void;
}

/** Message of the status a dropped watcher gets. */
export const WATCHER_TOO_SLOW_MESSAGE = "watcher too slow: it fell more than --watch-max-backlog events behind and stopped taking them, and was dropped";

const WATCHER_TOO_SLOW: Failure = refusal(status.RESOURCE_EXHAUSTED, "WATCHER_TOO_SLOW", WATCHER_TOO_SLOW_MESSAGE);

const SHUTTING_DOWN: Failure = refusal(status.UNAVAILABLE, "SHUTTING_DOWN", "the server is shutting down");

const KINDS: Readonly<Record<SessionEndReason, SessionEventKind>> = {
  expired: SessionEventKind.SESSION_EVENT_KIND_EXPIRED,
  removed: SessionEventKind.SESSION_EVENT_KIND_REMOVED,
};


/** Events handed to the transport at once per watcher; more are written as it takes them. */
const TRANSPORT_WINDOW = 256;

/** A watcher over its backlog is dropped once it has taken no event for this long (ms). */
export const WATCH_STALL_MS = 1000;

/** Whatever the progress, a watcher is dropped beyond this many times its backlog (bounds memory). */
export const WATCH_HARD_BACKLOG_FACTOR = 64;

/** One connected Watch stream. */
class Watcher {
  /** Events not handed to the transport yet. */
  private pending: SessionEvent[] = [];
  private pendingAt = 0;
  /** Events handed to the transport whose write has not completed (the client has not taken them). */
  private inTransport = 0;
  /** When the watcher last took an event, or last went from nothing undelivered to something. */
  private lastProgressAt = 0;
  closed = false;

  constructor(
    readonly app: string,
    private readonly call: ServerWritableStream<WatchRequest, SessionEvent>,
  ) {}

  /** Events not yet taken by the client. */
  get backlog(): number {
    return this.pending.length - this.pendingAt + this.inTransport;
  }

  /**
   * Whether the watcher should be dropped before it is given another event: it is over its backlog
   * and has stopped reading, or it is so far behind that holding more would cost unbounded memory.
   * A burst larger than the backlog is fine as long as the watcher keeps taking events.
   */
  isTooSlow(maxBacklog: number, now: number): boolean {
    const backlog = this.backlog;
    if (backlog < maxBacklog) return false;
    return now - this.lastProgressAt > WATCH_STALL_MS || backlog >= maxBacklog * WATCH_HARD_BACKLOG_FACTOR;
  }

  push(event: SessionEvent, now: number): void {
    if (this.backlog === 0) this.lastProgressAt = now;
    this.pending.push(event);
  }

  /** Hands pending events to the transport, at most {@link TRANSPORT_WINDOW} not yet taken. */
  readonly flush = (): void => {
    while (!this.closed && this.pendingAt < this.pending.length && this.inTransport < TRANSPORT_WINDOW) {
      const event = this.pending[this.pendingAt++] as SessionEvent;
      this.inTransport++;
      this.call.write(event, this.onWritten);
    }
    if (this.pendingAt >= this.pending.length) {
      this.pending = [];
      this.pendingAt = 0;
    } else if (this.pendingAt > 4096) {
      this.pending = this.pending.slice(this.pendingAt);
      this.pendingAt = 0;
    }
  };

  private readonly onWritten = (): void => {
    this.inTransport--;
    this.lastProgressAt = performance.now();
    if (this.inTransport < TRANSPORT_WINDOW / 2) this.flush();
  };

  /** Ends the stream with `failure` (after the events already written, as gRPC orders them). */
  end(failure: Failure): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.pendingAt = 0;
    this.call.emit("error", toStatus(failure));
  }
}

/** Keeps the connected watchers and fans session-end events out to them. */
export class WatchHub {
  private readonly byApp = new Map<string, Set<Watcher>>();
  private watcherCount = 0;
  private readonly dirty = new Set<Watcher>();
  private readonly byCall = new WeakMap<ServerWritableStream<WatchRequest, SessionEvent>, Watcher>();
  private flushScheduled = false;
  private stopped = false;

  /**
   * @param maxBacklog - events a watcher may have undelivered before it is dropped.
   * @param logger - receives the causes of INTERNAL answers.
   * @param observer - counts for metrics.
   */
  constructor(
    private readonly maxBacklog: number,
    private readonly logger: Logger,
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
    const now = performance.now();
    for (const watcher of watchers) {
      if (watcher.isTooSlow(this.maxBacklog, now)) {
        this.drop(watcher);
        continue;
      }
      watcher.push(event, now);
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
      call.emit("error", toStatus(SHUTTING_DOWN));
      return;
    }
    const app = call.request.app;
    try {
      validateApp(app);
    } catch (error) {
      call.emit("error", toStatus(describeFailure(error, this.logger)));
      return;
    }
    const watcher = new Watcher(app, call);
    let watchers = this.byApp.get(app);
    if (watchers === undefined) {
      watchers = new Set();
      this.byApp.set(app, watchers);
    }
    watchers.add(watcher);
    this.byCall.set(call, watcher);
    this.watcherCount++;
    // Headers now, so the client knows it is subscribed before the first event.
    call.sendMetadata(new Metadata());
    const leave = (): void => this.remove(watcher);
    call.once("cancelled", leave);
    call.once("close", leave);
    call.once("error", leave);
  };

  /**
   * Ends the stream of `call` with `failure` (its caller lost its access): events not yet handed to
   * the transport are dropped, and it gets no further ones.
   */
  readonly endWatch = (call: ServerWritableStream<WatchRequest, SessionEvent>, failure: Failure): void => {
    const watcher = this.byCall.get(call);
    if (watcher === undefined) return;
    this.remove(watcher);
    watcher.end(failure);
  };

  /** Ends every watch stream with UNAVAILABLE (shutdown); later Watch calls are refused. */
  endAll(): void {
    this.stopped = true;
    for (const watchers of [...this.byApp.values()]) {
      for (const watcher of [...watchers]) {
        this.remove(watcher);
        watcher.end(SHUTTING_DOWN);
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
    watcher.end(WATCHER_TOO_SLOW);
  }

  private remove(watcher: Watcher): void {
    const watchers = this.byApp.get(watcher.app);
    if (watchers === undefined || !watchers.delete(watcher)) return;
    this.watcherCount--;
    this.dirty.delete(watcher);
    if (watchers.size === 0) this.byApp.delete(watcher.app);
  }
}
