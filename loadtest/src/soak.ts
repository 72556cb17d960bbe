/**
 * `stateward-loadtest soak` (`make soak`): a long run of mixed load against a Stateward server the
 * tool starts (its CLI, 127.0.0.1, free ports, Prometheus metrics on), sampled every second, with a
 * verdict: RSS must not keep growing, no session may be left locked, the server must survive and
 * stop cleanly. Writes soak-report.json and soak-report.html; exit 0 passed, 1 failed, 2 usage.
 */
import { performance } from "node:perf_hooks";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SessionClient } from "@stateward/client";
import { UsageError } from "./args";
import { findFreePort } from "./free-port";
import { machineInfo } from "./machine-info";
import { replaceSection } from "./markdown-sections";
import { sampleProcessDetailed } from "./process-stats";
import { metricValue } from "./prometheus-text";
import { formatCount, formatErrors, formatMiB } from "./report-format";
import { DEFAULT_SERVER_CLI, startStateward, type StartedTarget } from "./server-processes";
import { parseSoakArgs, soakUsageText, type SoakOptions } from "./soak-args";
import { percentile, renderSoakHtml, type SoakOperationSummary, type SoakReport } from "./soak-report";
import { METRICS, SoakSampler, type SoakSample } from "./soak-sampler";
import { rssGrowthVerdict, soakFailures, DEFAULT_GROWTH_RULE, type ExpiryCheck } from "./soak-verdict";
import { SoakWorkload } from "./soak-workload";
import { plural } from "./plural";

/** How long the loops may take to finish their last iteration after the end, ms (every call has a deadline well below it). */
export const DRAIN_DEADLINE_MS = 30_000;

/** How long after the last short-lived session's ttl ran out active expiry may take to sweep them all, ms. */
export const EXPIRY_SWEEP_MS = 10_000;

/** Server flags the soak sets itself (the address must stay loopback, the ports its own). */
const RESERVED_SERVER_FLAGS = /^--(host|port|allow-remote|metrics-port)(=|$)/;

/** Where the messages go. */
export interface SoakIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Progress line every 10 s. */
  readonly progress: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Resolves true when `work` settles within `ms`, false otherwise (the timer is cleared either way). */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(
      () => true,
      () => true,
    ), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describeExit(target: StartedTarget, when: string): string | undefined {
  const exit = target.process.exitStatus();
  if (exit === undefined) return undefined;
  const how = exit.signal === null ? `exit code ${exit.code ?? "?"}` : `signal ${exit.signal}`;
  return `the server died ${when} (${how}); its last output:\n    ${target.process.tail().slice(-8).join("\n    ")}`;
}

function largest(values: readonly (number | null)[]): number | null {
  let found: number | null = null;
  for (const value of values) if (value !== null && (found === null || value > found)) found = value;
  return found;
}

function mean(values: readonly (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null && Number.isFinite(value));
  return present.length === 0 ? null : present.reduce((sum, value) => sum + value, 0) / present.length;
}

function progressLine(sample: SoakSample, options: SoakOptions): string {
  const rss = sample.rssBytes === null ? "–" : formatMiB(sample.rssBytes);
  const eld = sample.serverLoopDelay === null ? "–" : `${sample.serverLoopDelay.p99Ms.toFixed(1)} ms`;
  return `soak  ${(sample.tMs / 1000).toFixed(0)}/${(options.durationMs / 1000).toFixed(0)} s  ${formatCount(sample.opsPerSecond)} ops/s  RSS ${rss}  server loop delay p99 ${eld}  sessions ${sample.sessions ?? "–"}  errors/s ${formatCount(sample.errorsPerSecond)}\n`;
}

/** Runs the soak and returns its report (the verdict inside). */
export async function runSoak(options: SoakOptions, command: string, io: SoakIo): Promise<SoakReport> {
  const startedAt = new Date().toISOString();
  const metricsPort = await findFreePort();
  const serverCli = options.serverCli ?? DEFAULT_SERVER_CLI;
  const target = await startStateward({ cli: serverCli, serverArgs: ["--metrics-port", String(metricsPort), ...options.serverArgs] });
  const pid = target.process.pid;
  const notes: string[] = [];
  let serverExit: string | undefined;
  let client: SessionClient | undefined;
  let workload: SoakWorkload | undefined;
  const stopOnSignal = (): void => {
    io.stderr.write("\nstateward-loadtest soak: interrupted, stopping the server it started\n");
    workload?.stop();
    client?.close();
    void target.process.stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  try {
    client = new SessionClient({ address: target.address, transport: "pipeline", defaultTimeoutMs: 5_000, pipeline: { streams: 2 } });
    await client.ready(10_000);
    const rssIdleBytes = sampleProcessDetailed(pid)?.vmRssBytes ?? null;
    workload = new SoakWorkload(client, options);
    const fillFailures = await workload.fillPool();
    if (fillFailures > 0) notes.push(`${plural(fillFailures, "session")} of the pool could not be written before the load (they are created by the load instead)`);

    const loadAverageStart = os.loadavg()[0] ?? 0;
    const origin = performance.now();
    const endAt = origin + options.durationMs;
    const sampler = new SoakSampler({ pid, metricsPort, live: workload.live, gc: target.gc }, origin);
    await sampler.start();
    const load = workload.run(endAt);
    let loadEnded = false;
    void load.finally(() => {
      loadEnded = true;
    });
    let lastProgress = origin;
    for (let tick = 1; !loadEnded; tick++) {
      const due = Math.min(origin + tick * options.sampleMs, endAt);
      await sleep(due - performance.now());
      serverExit = describeExit(target, "during the load");
      if (serverExit !== undefined) {
        workload.stop();
        break;
      }
      const sample = await sampler.sample();
      if (io.progress && performance.now() - lastProgress >= 10_000) {
        lastProgress = performance.now();
        io.stderr.write(progressLine(sample, options));
      }
      if (performance.now() >= endAt) break;
    }
    const loadMs = performance.now() - origin;
    const drained = await settlesWithin(load, DRAIN_DEADLINE_MS);
    if (!drained) workload.stop();
    serverExit ??= describeExit(target, "during the load");

    let locked: Awaited<ReturnType<SoakWorkload["checkNoLocks"]>> = { locked: [], unchecked: 0, checked: 0, existing: 0 };
    let leaseExpiries: number | null = null;
    let locksHeldAfterCheck: number | null = null;
    let rssPeakBytes: number | null = null;
    let expiry: ExpiryCheck | undefined;
    if (serverExit === undefined) {
      locked = await workload.checkNoLocks();
      const scrape = await sampler.scrapeNow();
      leaseExpiries = scrape === undefined ? null : (metricValue(scrape, METRICS.leaseExpiries) ?? null);
      locksHeldAfterCheck = scrape === undefined ? null : (metricValue(scrape, METRICS.locksHeld) ?? null);
      const found = await workload.checkShortLivedExpired(
        async () => {
          const now = await sampler.scrapeNow();
          return now === undefined ? undefined : metricValue(now, METRICS.sessions);
        },
        locked.existing,
        EXPIRY_SWEEP_MS,
      );
      expiry = { ...found, residentLimit: locked.existing };
      rssPeakBytes = sampleProcessDetailed(pid)?.vmHwmBytes ?? null;
      serverExit = describeExit(target, "during the end-of-run check");
    }
    sampler.close();
    client.close();
    if (serverExit === undefined) {
      await target.process.stop();
      const exit = target.process.exitStatus();
      if (exit !== undefined && exit.code !== 0) {
        serverExit = `did not exit cleanly on SIGTERM (${exit.signal === null ? `exit code ${exit.code ?? "?"}` : `signal ${exit.signal}`}); its last output:\n    ${target.process.tail().slice(-8).join("\n    ")}`;
      }
    }

    const samples = sampler.samples;
    const growth = rssGrowthVerdict(
      samples.filter((sample) => sample.rssBytes !== null).map((sample) => ({ tMs: sample.tMs, rssBytes: sample.rssBytes as number })),
      {
        warmupMs: options.warmupMs,
        tolerancePercent: options.rssTolerancePercent,
        toleranceBytes: options.rssToleranceMiB * 1024 * 1024,
        minSamplesPerThird: DEFAULT_GROWTH_RULE.minSamplesPerThird,
      },
      serverExit === undefined ? Math.round(loadMs) : undefined,
    );
    const operations: Record<string, SoakOperationSummary> = {};
    const errors: Record<string, number> = {};
    for (const [kind, figures] of [...workload.operations.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      operations[kind] = { count: figures.count, outcomes: { ...figures.outcomes }, errors: { ...figures.errors }, latency: figures.latency.summary() };
    }
    for (const [code, count] of Object.entries(workload.live.errorsByCode)) errors[code] = count;
    const serverBugErrors: Record<string, number> = {};
    for (const [key, count] of Object.entries(workload.unexpected)) {
      const code = key.split("/")[0] ?? key;
      if (code === "INTERNAL" || code === "UNKNOWN") serverBugErrors[code] = (serverBugErrors[code] ?? 0) + count;
    }
    const abortLeaks = [...workload.abortLeaks.values()];
    const failures = soakFailures({
      growth,
      ...(serverExit === undefined ? {} : { serverExit }),
      lockedAtEnd: locked.locked,
      uncheckedSessions: locked.unchecked,
      abortLeaks: abortLeaks.length,
      ...(leaseExpiries === null ? {} : { leaseExpiries }),
      serverBugErrors,
      drained,
      operations: workload.live.completed,
      ...(expiry === undefined ? {} : { expiry }),
      waiterGrants: workload.waiterGrants,
    });
    if (sampler.scrapeFailures > 0) notes.push(`${plural(sampler.scrapeFailures, "scrape")} of /metrics failed (last: ${sampler.lastScrapeError ?? "?"}); those samples have no server gauges`);
    notes.push("The server runs with --trace-gc (GC pauses in the samples) and --metrics-port; every scrape resets its event-loop delay histogram, so each sample covers one interval.");
    const rss = samples.map((sample) => sample.rssBytes);
    const serverP99s = samples.map((sample) => sample.serverLoopDelay?.p99Ms ?? null).filter((value): value is number => value !== null);
    const generatorP99s = samples.map((sample) => sample.generatorLoopDelay.p99Ms);
    return {
      tool: "stateward-loadtest",
      kind: "soak",
      reportVersion: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      command,
      machine: machineInfo(),
      options,
      server: {
        address: target.address,
        metricsPort,
        pid,
        command: `node --trace-gc ${path.relative(process.cwd(), serverCli) || serverCli} serve --host 127.0.0.1 --port 0 --log-level info --metrics-port ${metricsPort}${options.serverArgs.length > 0 ? ` ${options.serverArgs.join(" ")}` : ""}`,
      },
      verdict: {
        passed: failures.length === 0,
        failures,
        growth,
        lockedAtEnd: locked.locked,
        sessionsChecked: locked.checked,
        uncheckedSessions: locked.unchecked,
        abortLeaks,
        waiterGrants: workload.waiterGrants,
        leaseExpiries,
        locksHeldAfterCheck,
        drained,
        ...(expiry === undefined ? {} : { expiry }),
        shortLivedCreated: workload.shortLivedCreated,
        ...(serverExit === undefined ? {} : { serverExit }),
      },
      summary: {
        operations: workload.live.completed,
        opsPerSecond: workload.live.completed / Math.max(0.001, loadMs / 1000),
        loadMs: Math.round(loadMs),
        rssIdleBytes,
        rssStartBytes: samples[0]?.rssBytes ?? null,
        rssEndBytes: samples[samples.length - 1]?.rssBytes ?? null,
        rssMaxSampledBytes: largest(rss),
        rssPeakBytes,
        serverLoopDelayMedianP99Ms: percentile(serverP99s, 50),
        serverLoopDelayP99Ms: percentile(serverP99s, 99),
        serverLoopDelayMaxMs: largest(samples.map((sample) => sample.serverLoopDelay?.maxMs ?? null)),
        generatorLoopDelayMedianP99Ms: percentile(generatorP99s, 50) ?? 0,
        generatorLoopDelayP99Ms: percentile(generatorP99s, 99) ?? 0,
        generatorLoopDelayMaxMs: largest(samples.map((sample) => sample.generatorLoopDelay.maxMs)) ?? 0,
        serverCpuCores: mean(samples.map((sample) => sample.serverCpuCores)),
        gcMaxPauseMs: largest(samples.map((sample) => sample.gcMaxPauseMs)),
        expiredPerSecond: mean(samples.map((sample) => sample.expiredPerSecond)),
        scrapeFailures: sampler.scrapeFailures,
        loadAverageStart,
        loadAverageEnd: samples[samples.length - 1]?.loadAverage ?? os.loadavg()[0] ?? 0,
      },
      operations,
      errors,
      unexpectedErrors: { ...workload.unexpected },
      latency: { summary: workload.latency.summary(), distribution: workload.latency.distribution() },
      samples,
      notes,
    };
  } finally {
    process.off("SIGINT", stopOnSignal);
    process.off("SIGTERM", stopOnSignal);
    client?.close();
    await target.process.stop();
  }
}

/** Writes soak-report.json and soak-report.html into `dir`; returns their paths. */
export function writeSoakReport(report: SoakReport, dir: string): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, "soak-report.json");
  const html = path.join(dir, "soak-report.html");
  writeFileSync(json, `${JSON.stringify(report, (_, value: unknown) => (typeof value === "bigint" ? value.toString() : value), 2)}\n`);
  writeFileSync(html, renderSoakHtml(report));
  return { json, html };
}

/** The summary printed at the end. */
export function soakSummaryText(report: SoakReport): string {
  const s = report.summary;
  const v = report.verdict;
  const [, middle, last] = v.growth.thirds;
  const mib = (bytes: number | null): string => (bytes === null ? "–" : formatMiB(bytes));
  const ms = (value: number | null): string => (value === null ? "–" : `${value.toFixed(1)} ms`);
  const lines = [
    `soak: ${v.passed ? "PASSED" : "FAILED"} after ${(s.loadMs / 1000).toFixed(0)} s`,
    `  operations ${formatCount(s.operations)} (${formatCount(s.opsPerSecond)}/s); errors by code: ${formatErrors(report.errors)}; unexpected: ${formatErrors(report.unexpectedErrors)}`,
    `  server RSS idle ${mib(s.rssIdleBytes)}, load start ${mib(s.rssStartBytes)}, end ${mib(s.rssEndBytes)}, largest ${mib(s.rssMaxSampledBytes)}; medians middle third ${formatMiB(middle.medianBytes)}, last third ${formatMiB(last.medianBytes)}, limit ${formatMiB(middle.medianBytes + v.growth.allowedBytes)}; slope ${(v.growth.slopeBytesPerMinute / (1024 * 1024)).toFixed(2)} MiB/min`,
    `  server event-loop delay, per-second p99: median ${ms(s.serverLoopDelayMedianP99Ms)}, p99 ${ms(s.serverLoopDelayP99Ms)}, largest max ${ms(s.serverLoopDelayMaxMs)}; generator: median ${ms(s.generatorLoopDelayMedianP99Ms)}, p99 ${ms(s.generatorLoopDelayP99Ms)}, max ${ms(s.generatorLoopDelayMaxMs)}; longest GC pause ${ms(s.gcMaxPauseMs)}`,
    `  server CPU ${s.serverCpuCores === null ? "–" : s.serverCpuCores.toFixed(2)} cores; ${s.expiredPerSecond === null ? "–" : s.expiredPerSecond.toFixed(1)} sessions expired/s; machine load average ${s.loadAverageStart.toFixed(2)} → ${s.loadAverageEnd.toFixed(2)} (${plural(report.machine.cpus, "CPU")})`,
    `  locks: ${plural(v.sessionsChecked, "session")} checked at the end, ${v.lockedAtEnd.length} locked; aborted waiters that left a lock ${v.abortLeaks.length}; lease expiries ${v.leaseExpiries ?? "–"}`,
    `  expiry: ${plural(v.shortLivedCreated, "short-lived session")} created; ${v.expiry === undefined ? "not checked" : `${v.expiry.swept ? "all swept" : "NOT swept"} ${(v.expiry.waitedMs / 1000).toFixed(1)} s after the last ttl ran out (${v.expiry.residentAfter ?? "?"} resident, ${v.expiry.residentLimit} pool and abort sessions), ${v.expiry.servedAfterExpiry} of ${v.expiry.sampled} sampled still served`}`,
  ];
  if (v.passed) lines.push(`  ${v.growth.message}`);
  else for (const failure of v.failures) lines.push(`FAILED: ${failure}`);
  return `${lines.join("\n")}\n`;
}

/** The heading of the soak's section in BENCHMARKS.md. */
export const SOAK_SECTION_HEADING = "## Soak";

/** The soak's section for BENCHMARKS.md: command, machine, date, and the summary. */
export function soakMarkdownSection(report: SoakReport, reportDir: string): string {
  const m = report.machine;
  return [
    SOAK_SECTION_HEADING,
    "",
    `Written by \`make soak\` (30 minutes of mixed load with aborted and timed-out lock waits and short-lived sessions; see README, "Testing"). ${report.startedAt} → ${report.finishedAt}; ${plural(m.cpus, "CPU")}, shared with other work; the generator and the server on the same machine, over loopback.`,
    "",
    "```",
    report.command,
    "```",
    "",
    "```",
    soakSummaryText(report).trimEnd(),
    "```",
    "",
    `Plots of RSS and event-loop delay over time: \`${reportDir}/soak-report.html\`.`,
    "",
  ].join("\n");
}

/** `stateward-loadtest soak …`: returns the exit code. */
export async function soakMain(argv: readonly string[], io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): Promise<number> {
  let options: SoakOptions;
  try {
    options = parseSoakArgs(argv);
    const reserved = options.serverArgs.find((arg) => RESERVED_SERVER_FLAGS.test(arg));
    if (reserved !== undefined) throw new UsageError(`--server-arg ${reserved}: the soak sets --host 127.0.0.1 and its ports itself`);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`stateward-loadtest soak: ${error.message}\n\n${soakUsageText()}`);
    return 2;
  }
  if (options.help) {
    io.stdout.write(soakUsageText());
    return 0;
  }
  const progress = options.progress ?? io.stderr.isTTY === true;
  io.stderr.write(
    `soak: ${(options.durationMs / 60_000).toFixed(1)} min of mixed load (warm-up ${(options.warmupMs / 1000).toFixed(0)} s), ${plural(options.concurrency, "loop")}, at most ${options.rate === 0 ? "unlimited" : options.rate} iterations/s, pool ${options.pool}\n`,
  );
  const report = await runSoak(options, ["stateward-loadtest", "soak", ...argv].join(" "), { ...io, progress });
  const paths = writeSoakReport(report, options.outDir);
  io.stdout.write(soakSummaryText(report));
  io.stdout.write(`reports: ${paths.json}\n         ${paths.html}\n`);
  if (options.markdown !== undefined) {
    const before = existsSync(options.markdown) ? readFileSync(options.markdown, "utf8") : "";
    const dir = path.relative(process.cwd(), path.resolve(options.outDir)) || ".";
    writeFileSync(options.markdown, replaceSection(before, SOAK_SECTION_HEADING, soakMarkdownSection(report, dir)));
    io.stdout.write(`summary: ${options.markdown} (section "${SOAK_SECTION_HEADING}")\n`);
  }
  return report.verdict.passed ? 0 : 1;
}
