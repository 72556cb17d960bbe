/**
 * The server's metric instruments. Created only when metrics are exported somewhere (a Prometheus
 * endpoint, OTLP push, or a test's reader): without a MeterProvider nothing here exists and the
 * call path does no metric work at all.
 *
 * Store gauges and counters are observed at collection time from `SessionStore.stats()` (the store
 * already counts them); the per-call metrics are aggregated by {@link CallMetrics}, GC pauses by
 * {@link GcMetrics}. So the hot path records into no OpenTelemetry instrument at all. The process
 * and Node.js runtime metrics are in process-metrics.ts and runtime-metrics.ts.
 *
 * Counters with known label sets (rejections by reason, Watch events by kind) start at 0, so they
 * exist before their first event.
 */
import type { Attributes, Counter, Histogram, Meter, MeterProvider } from "@opentelemetry/api";
import { AUTH_FAILURE_REASONS, type AuthFailureReason } from "../security/access-policy";
import type { BackendStats } from "../store/session-backend";
import type { CallMetrics } from "./call-metrics";
import type { GcMetrics } from "./gc-metrics";
import { observeProcessMetrics } from "./process-metrics";
import { NodeRuntimeMetrics } from "./runtime-metrics";
import {
  ATTR_EVENT_KIND,
  ATTR_REASON,
  METRIC_AUTH_FAILURES,
  METRIC_EXPIRED,
  METRIC_EXPIRY_SLICE,
  METRIC_FSYNC,
  METRIC_LAST_SNAPSHOT,
  METRIC_LOG_BYTES,
  METRIC_LOG_WRITABLE,
  METRIC_REPLAY,
  METRIC_SNAPSHOT,
  METRIC_LEASE_EXPIRIES,
  METRIC_LOCK_GRANTS,
  METRIC_LOCKS_HELD,
  METRIC_MEMORY_LIMIT,
  METRIC_MEMORY_USED,
  METRIC_MEMORY_UTILIZATION,
  METRIC_REJECTIONS,
  METRIC_SESSIONS,
  METRIC_SLAB_BYTES,
  METRIC_WAITERS,
  METRIC_WATCH_DROPPED,
  METRIC_WATCH_EVENTS,
  METRIC_WATCHERS,
  REJECTION_REASONS,
  WATCH_EVENT_KINDS,
} from "./telemetry-names";

/** Name of the instrumentation scope (the meter and the tracer). */
export const INSTRUMENTATION_SCOPE = "@stateward/server";

/** Expiry slices are budgeted in milliseconds (--expiry-slice-budget-ms). */
const SLICE_BUCKETS_SECONDS = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

/** fdatasync takes from tens of microseconds (tmpfs) to seconds (a saturated disk). */
const FSYNC_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Snapshots take from milliseconds to minutes (1 GiB of sessions). */
const SNAPSHOT_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Where the observed instruments read their values. */
export interface MetricSources {
  /** The store's counters and gauges. */
  readonly storeStats: () => BackendStats;
  /** Connected Watch streams. */
  readonly watchers: () => number;
}

/** The instruments the call path and the watchers record into. */
export class ServerMetrics {
  /** `rpc.server.call.duration`, `stateward.lock.wait.duration`. */
  readonly calls: CallMetrics;
  /** `stateward.rejections`. */
  readonly rejections: Counter;
  /** `stateward.expiry.slice.duration` (s). */
  readonly expirySlice: Histogram;
  /** `stateward.persistence.fsync.duration` (s). */
  readonly fsync: Histogram;
  /** `stateward.persistence.snapshot.duration` (s). */
  readonly snapshot: Histogram;
  /** `stateward.watch.events`. */
  readonly watchEvents: Counter;
  /** `stateward.watch.dropped`. */
  readonly watchDropped: Counter;
  /** `stateward.auth.failures`. */
  readonly authFailures: Counter;
  private readonly gc: GcMetrics;
  private readonly runtime: NodeRuntimeMetrics;
  private readonly rejectionAttributes = new Map<string, Attributes>();
  private readonly eventAttributes = new Map<string, Attributes>();

  /**
   * @param meterProvider - where the instruments live (its readers decide where they go).
   * @param sources - read at each collection by the observed instruments.
   * @param calls - the per-call aggregation, which the readers must also have as a MetricProducer.
   * @param gc - the GC pauses, also a MetricProducer of the readers; started here, stopped by {@link close}.
   * @param version - the instrumentation scope's version.
   */
  constructor(meterProvider: MeterProvider, sources: MetricSources, calls: CallMetrics, gc: GcMetrics, version?: string) {
    const meter: Meter = meterProvider.getMeter(INSTRUMENTATION_SCOPE, version);
    this.calls = calls;
    this.gc = gc;
    this.rejections = meter.createCounter(METRIC_REJECTIONS, {
      description:
        "Operations refused by a limit, by reason: TOO_MANY_WAITERS (--max-waiters), MEMORY_BUDGET (--max-memory), TOO_MANY_APPS (--max-apps), TOO_MANY_IN_FLIGHT (--max-pipeline-in-flight), ITEM_TOO_LARGE (--max-item-bytes).",
      unit: "{operation}",
    });
    this.expirySlice = meter.createHistogram(METRIC_EXPIRY_SLICE, {
      description: "Real time taken by each active-expiry slice (bounded by --expiry-slice-budget-ms).",
      unit: "s",
      advice: { explicitBucketBoundaries: SLICE_BUCKETS_SECONDS },
    });
    this.fsync = meter.createHistogram(METRIC_FSYNC, {
      description: "Time taken by each fdatasync of the append-only log (--data-dir; --fsync always and everysec).",
      unit: "s",
      advice: { explicitBucketBoundaries: FSYNC_BUCKETS_SECONDS },
    });
    this.snapshot = meter.createHistogram(METRIC_SNAPSHOT, {
      description: "Time taken by each background snapshot of the memory backend (--data-dir), start to the old log's deletion.",
      unit: "s",
      advice: { explicitBucketBoundaries: SNAPSHOT_BUCKETS_SECONDS },
    });
    this.watchEvents = meter.createCounter(METRIC_WATCH_EVENTS, {
      description: "Session-end events sent to Watch streams, by kind.",
      unit: "{event}",
    });
    this.watchDropped = meter.createCounter(METRIC_WATCH_DROPPED, {
      description: "Watch streams dropped because they fell more than --watch-max-backlog events behind.",
      unit: "{watcher}",
    });
    this.authFailures = meter.createCounter(METRIC_AUTH_FAILURES, {
      description:
        "Calls (and /metrics scrapes) refused by the auth file, by reason: missing_credential, malformed_credential, unknown_token, unknown_certificate (UNAUTHENTICATED); app_not_allowed, read_only (PERMISSION_DENIED).",
      unit: "{call}",
    });

    const sessions = meter.createObservableGauge(METRIC_SESSIONS, {
      description: "Resident sessions (including expired ones not yet swept).",
      unit: "{session}",
    });
    const locksHeld = meter.createObservableGauge(METRIC_LOCKS_HELD, { description: "Sessions whose lock is held.", unit: "{lock}" });
    const waiters = meter.createObservableGauge(METRIC_WAITERS, { description: "Calls waiting in session queues.", unit: "{call}" });
    const memoryUsed = meter.createObservableGauge(METRIC_MEMORY_USED, {
      description: "Bytes charged against the memory budget: session data plus per-session overhead.",
      unit: "By",
    });
    const memoryLimit = meter.createObservableGauge(METRIC_MEMORY_LIMIT, { description: "The memory budget (--max-memory).", unit: "By" });
    const memoryUtilization = meter.createObservableGauge(METRIC_MEMORY_UTILIZATION, {
      description: "Share of the memory budget in use, 0 to 1.",
      unit: "1",
    });
    const slabBytes = meter.createObservableGauge(METRIC_SLAB_BYTES, { description: "Bytes of payload slab pages allocated.", unit: "By" });
    const lockGrants = meter.createObservableCounter(METRIC_LOCK_GRANTS, { description: "Locks granted.", unit: "{lock}" });
    const leaseExpiries = meter.createObservableCounter(METRIC_LEASE_EXPIRIES, {
      description: "Locks the server released itself because their lease ran out (forced releases).",
      unit: "{lock}",
    });
    const expired = meter.createObservableCounter(METRIC_EXPIRED, {
      description: "Sessions that expired; its rate is expirations per second.",
      unit: "{session}",
    });
    const watchers = meter.createObservableGauge(METRIC_WATCHERS, { description: "Connected Watch streams.", unit: "{watcher}" });
    const logBytes = meter.createObservableGauge(METRIC_LOG_BYTES, { description: "Bytes of the append-only log since the last snapshot (--data-dir).", unit: "By" });
    const lastSnapshot = meter.createObservableGauge(METRIC_LAST_SNAPSHOT, {
      description: "Unix time the last snapshot finished (--data-dir); 0: none since start.",
      unit: "s",
    });
    const replay = meter.createObservableGauge(METRIC_REPLAY, { description: "How long the replay of the data directory took at start (--data-dir).", unit: "s" });
    const writable = meter.createObservableGauge(METRIC_LOG_WRITABLE, {
      description: "1 while changes can be written to the append-only log (--data-dir), 0 while writes fail with PERSISTENCE_FAILED.",
      // Not "1": the Prometheus exporter would name a dimensionless gauge ..._ratio, and this is a state.
      unit: "{state}",
    });
    meter.addBatchObservableCallback(
      (observer) => {
        const journal = sources.storeStats().journal;
        if (journal === undefined) return;
        observer.observe(logBytes, journal.logBytes);
        observer.observe(lastSnapshot, journal.lastSnapshotAt);
        observer.observe(replay, journal.replaySeconds);
        observer.observe(writable, journal.writable ? 1 : 0);
      },
      [logBytes, lastSnapshot, replay, writable],
    );
    meter.addBatchObservableCallback(
      (observer) => {
        const stats = sources.storeStats();
        observer.observe(sessions, stats.sessions);
        observer.observe(locksHeld, stats.lockedSessions);
        observer.observe(waiters, stats.waiters);
        observer.observe(memoryUsed, stats.bytesUsed);
        observer.observe(memoryLimit, stats.maxMemoryBytes);
        observer.observe(memoryUtilization, stats.maxMemoryBytes > 0 ? stats.bytesUsed / stats.maxMemoryBytes : 0);
        observer.observe(slabBytes, stats.slabBytes);
        observer.observe(lockGrants, stats.lockGrants);
        observer.observe(leaseExpiries, stats.leaseExpiries);
        observer.observe(expired, stats.expired);
        observer.observe(watchers, sources.watchers());
      },
      [sessions, locksHeld, waiters, memoryUsed, memoryLimit, memoryUtilization, slabBytes, lockGrants, leaseExpiries, expired, watchers],
    );

    // Known label sets start at 0 (see the module comment).
    for (const reason of REJECTION_REASONS) this.rejections.add(0, this.rejectionAttributesOf(reason));
    for (const kind of WATCH_EVENT_KINDS) this.watchEvents.add(0, this.eventAttributesOf(kind));
    this.watchDropped.add(0);
    for (const reason of AUTH_FAILURE_REASONS) this.authFailures.add(0, this.rejectionAttributesOf(reason));

    observeProcessMetrics(meter);
    this.runtime = new NodeRuntimeMetrics(meter);
    gc.start();
  }

  /** Counts a refusal by a limit (only the limit reasons are counted; conflicts are outcomes). */
  recordRejection(reason: string): void {
    if (!REJECTION_REASONS.includes(reason)) return;
    this.rejections.add(1, this.rejectionAttributesOf(reason));
  }

  /** Counts a call refused by the auth file. */
  recordAuthFailure(reason: AuthFailureReason): void {
    this.authFailures.add(1, this.rejectionAttributesOf(reason));
  }

  /** Counts one event sent to one watcher. */
  recordWatchEvent(kind: string): void {
    this.watchEvents.add(1, this.eventAttributesOf(kind));
  }

  /** Stops the samplers (event-loop delay, GC observer). */
  close(): void {
    this.runtime.close();
    this.gc.stop();
  }

  private rejectionAttributesOf(reason: string): Attributes {
    let attributes = this.rejectionAttributes.get(reason);
    if (attributes === undefined) {
      attributes = { [ATTR_REASON]: reason };
      this.rejectionAttributes.set(reason, attributes);
    }
    return attributes;
  }

  private eventAttributesOf(kind: string): Attributes {
    let attributes = this.eventAttributes.get(kind);
    if (attributes === undefined) {
      attributes = { [ATTR_EVENT_KIND]: kind };
      this.eventAttributes.set(kind, attributes);
    }
    return attributes;
  }
}
