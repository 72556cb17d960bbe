/**
 * The soak's sampler: every period, the server's RSS (VmRSS, and RssAnon) and CPU from /proc, the
 * server's gauges from its Prometheus endpoint (event-loop delay over the last scrape interval,
 * sessions, locks, waiters, expirations, lease expiries), the longest GC pause (from its
 * --trace-gc), the generator's own event-loop delay, and the operations and errors of the interval.
 */
import http from "node:http";
import os from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import type { GcTracker } from "./gc-trace";
import { sampleProcessDetailed, type DetailedProcessSample } from "./process-stats";
import { metricValue, parsePrometheusText, type PrometheusSample } from "./prometheus-text";
import type { LiveFigures } from "./soak-workload";

/** Event-loop delay over one interval, ms (beyond the sampler's own resolution). */
export interface LoopDelay {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** One sample; `tMs` from the start of the load. Server gauges are null when the scrape failed. */
export interface SoakSample {
  readonly tMs: number;
  readonly rssBytes: number | null;
  readonly rssAnonBytes: number | null;
  /** Server CPU over the interval, cores (1 = one core busy). */
  readonly serverCpuCores: number | null;
  readonly serverLoopDelay: LoopDelay | null;
  readonly generatorLoopDelay: LoopDelay;
  readonly opsPerSecond: number;
  readonly errorsPerSecond: number;
  /** Failures of the interval by status name. */
  readonly errors: Readonly<Record<string, number>>;
  readonly sessions: number | null;
  readonly locksHeld: number | null;
  readonly waiters: number | null;
  readonly expiredPerSecond: number | null;
  /** The server's lease expiries so far (forced releases), cumulative. */
  readonly leaseExpiries: number | null;
  /** Bytes charged against the server's memory budget. */
  readonly memoryUsedBytes: number | null;
  /** Longest GC pause of the interval, ms. */
  readonly gcMaxPauseMs: number | null;
  /** The machine's 1-minute load average: above its CPU count, other work competed for the cores. */
  readonly loadAverage: number;
}

/** The Prometheus names the soak reads (see README, Observability). */
export const METRICS = {
  loopDelayP50: "nodejs_eventloop_lag_p50_seconds",
  loopDelayP99: "nodejs_eventloop_lag_p99_seconds",
  loopDelayMax: "nodejs_eventloop_lag_max_seconds",
  sessions: "stateward_sessions",
  locksHeld: "stateward_locks_held",
  waiters: "stateward_waiters",
  expired: "stateward_sessions_expired_total",
  leaseExpiries: "stateward_lock_lease_expiries_total",
  memoryUsed: "stateward_memory_used_bytes",
} as const;

/** The server's event-loop delay from a scrape (its gauges are in seconds); null without them. */
export function serverLoopDelay(samples: readonly PrometheusSample[]): LoopDelay | null {
  const p50 = metricValue(samples, METRICS.loopDelayP50);
  const p99 = metricValue(samples, METRICS.loopDelayP99);
  const max = metricValue(samples, METRICS.loopDelayMax);
  if (p50 === undefined || p99 === undefined || max === undefined) return null;
  return { p50Ms: p50 * 1000, p99Ms: p99 * 1000, maxMs: max * 1000 };
}

/** GET http://127.0.0.1:<port>/metrics, bounded by `timeoutMs`. */
export function scrapeMetrics(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path: "/metrics", timeout: timeoutMs }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`metrics endpoint answered HTTP ${response.statusCode ?? "?"}`));
        return;
      }
      response.setEncoding("utf8");
      let body = "";
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve(body));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`no metrics within ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}

/** The generator's resolution of its own event-loop delay histogram, ms (as the server's). */
const RESOLUTION_MS = 10;

/** What the sampler watches. */
export interface SamplerSources {
  readonly pid: number;
  readonly metricsPort: number;
  readonly live: LiveFigures;
  readonly gc?: GcTracker;
}

/** Takes samples on demand; each covers the time since the previous one. */
export class SoakSampler {
  readonly samples: SoakSample[] = [];
  /** Scrapes that failed (the gauges of those samples are null). */
  scrapeFailures = 0;
  /** The last scrape error, for the report. */
  lastScrapeError: string | undefined;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private previous: { at: number; process: DetailedProcessSample | undefined; completed: number; errors: Record<string, number>; expired: number | undefined } | undefined;

  constructor(
    private readonly sources: SamplerSources,
    /** performance.now() at the start of the load. */
    private readonly originMs: number,
  ) {
    this.loopDelay.enable();
  }

  /** Starts a fresh interval (call once when the load starts). */
  async start(): Promise<void> {
    const scrape = await this.scrape();
    this.loopDelay.reset();
    this.sources.gc?.reset();
    this.previous = {
      at: performance.now(),
      process: sampleProcessDetailed(this.sources.pid),
      completed: this.sources.live.completed,
      errors: { ...this.sources.live.errorsByCode },
      expired: scrape === undefined ? undefined : metricValue(scrape, METRICS.expired),
    };
  }

  private async scrape(): Promise<PrometheusSample[] | undefined> {
    try {
      return parsePrometheusText(await scrapeMetrics(this.sources.metricsPort, 2_000));
    } catch (error) {
      this.scrapeFailures++;
      this.lastScrapeError = error instanceof Error ? error.message : String(error);
      return undefined;
    }
  }

  /** Takes one sample (the interval since the previous one) and keeps it. */
  async sample(): Promise<SoakSample> {
    const scrape = await this.scrape();
    const now = performance.now();
    const process = sampleProcessDetailed(this.sources.pid);
    const previous = this.previous ?? { at: this.originMs, process: undefined, completed: 0, errors: {}, expired: undefined };
    const seconds = Math.max(1e-3, (now - previous.at) / 1000);
    const live = this.sources.live;
    const errors: Record<string, number> = {};
    let errorCount = 0;
    for (const [code, count] of Object.entries(live.errorsByCode)) {
      const delta = count - (previous.errors[code] ?? 0);
      if (delta > 0) {
        errors[code] = delta;
        errorCount += delta;
      }
    }
    const delay = this.loopDelay;
    const beyond = (nanoseconds: number): number => Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS);
    const generatorLoopDelay: LoopDelay =
      delay.count === 0 ? { p50Ms: 0, p99Ms: 0, maxMs: 0 } : { p50Ms: beyond(delay.percentile(50)), p99Ms: beyond(delay.percentile(99)), maxMs: beyond(delay.max) };
    delay.reset();
    const gc = this.sources.gc?.summary();
    this.sources.gc?.reset();
    const gauge = (name: string): number | null => (scrape === undefined ? null : (metricValue(scrape, name) ?? null));
    const expired = scrape === undefined ? undefined : metricValue(scrape, METRICS.expired);
    const sample: SoakSample = {
      tMs: Math.round(now - this.originMs),
      rssBytes: process?.vmRssBytes ?? null,
      rssAnonBytes: process === undefined || process.rssAnonBytes === 0 ? null : process.rssAnonBytes,
      serverCpuCores: process === undefined || previous.process === undefined ? null : (process.cpuUs - previous.process.cpuUs) / 1e6 / seconds,
      serverLoopDelay: scrape === undefined ? null : serverLoopDelay(scrape),
      generatorLoopDelay,
      opsPerSecond: (live.completed - previous.completed) / seconds,
      errorsPerSecond: errorCount / seconds,
      errors,
      sessions: gauge(METRICS.sessions),
      locksHeld: gauge(METRICS.locksHeld),
      waiters: gauge(METRICS.waiters),
      expiredPerSecond: expired === undefined || previous.expired === undefined ? null : (expired - previous.expired) / seconds,
      leaseExpiries: gauge(METRICS.leaseExpiries),
      memoryUsedBytes: gauge(METRICS.memoryUsed),
      gcMaxPauseMs: gc === undefined ? null : gc.maxPauseMs,
      loadAverage: os.loadavg()[0] ?? 0,
    };
    this.previous = { at: now, process: process ?? previous.process, completed: live.completed, errors: { ...live.errorsByCode }, expired: expired ?? previous.expired };
    this.samples.push(sample);
    return sample;
  }

  /** A scrape outside the sampling (at the end of the run), or undefined when it fails. */
  async scrapeNow(): Promise<PrometheusSample[] | undefined> {
    return this.scrape();
  }

  /** Stops the generator's event-loop delay monitor. */
  close(): void {
    this.loopDelay.disable();
  }
}
