#!/usr/bin/env node
/**
 * `stateward-loadtest <scenario> [options]`: runs a scenario (or the standard suite), prints a
 * summary, and writes report.json and report.html (and, for the suite, BENCHMARKS.md).
 *
 * `stateward-loadtest soak [options]` is the soak (`make soak`, src/soak.ts), with its own options.
 *
 * Exit codes: 0 done (soak: passed); 1 a run failed (soak: its verdict failed); 2 usage error.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { parseCliArgs, usageText, UsageError, type CliOptions } from "./args";
import { renderBenchmarksMarkdown } from "./benchmarks-markdown";
import { runSuite } from "./bench-suite";
import { runContentionScenario } from "./contention-scenario";
import { runEchoScenario } from "./echo-scenario";
import { machineInfo } from "./machine-info";
import { formatCount, formatErrors, formatLatencyMs } from "./report-format";
import { writeReportFiles } from "./report-files";
import type { Report, RunResult } from "./report-model";
import { runResidentScenario } from "./resident-scenario";
import { RunContext } from "./run-context";
import { runSessionScenario } from "./session-scenario";
import { extractSection } from "./markdown-sections";
import { SOAK_SECTION_HEADING, soakMain } from "./soak";

function summaryLine(run: RunResult): string {
  const server = run.server === undefined ? "" : `  server ${run.server.cpuUsPerOp.toFixed(1)} µs/op`;
  return `${run.title}: ${formatCount(run.throughput)} ${run.unit}/s  p50 ${formatLatencyMs(run.latency.p50)}  p99 ${formatLatencyMs(run.latency.p99)}  p99.9 ${formatLatencyMs(run.latency.p999)}  max ${formatLatencyMs(run.latency.max)} ms  errors ${formatErrors(run.errors)}${server}`;
}

async function runScenario(context: RunContext, onRun: (run: RunResult) => void): Promise<RunResult[]> {
  const options = context.options;
  switch (options.scenario) {
    case "suite":
      return runSuite(context, onRun);
    case "echo": {
      const run = await runEchoScenario(context, await context.echo());
      onRun(run);
      return [run];
    }
    case "contention": {
      const runs = await runContentionScenario(context, await context.stateward());
      runs.forEach(onRun);
      return runs;
    }
    case "resident": {
      const loaded = await context.stateward();
      // A server given by address is the only one; otherwise a second one holds the empty store.
      const empty = loaded.owned ? await context.stateward() : undefined;
      const runs = await runResidentScenario(context, loaded, empty);
      runs.forEach(onRun);
      return runs;
    }
    case "get":
    case "set":
    case "lock-set":
    case "mixed": {
      const target = options.target === "redis" ? await context.redis() : await context.stateward();
      const run = await runSessionScenario(context, options.scenario, options.target, target);
      onRun(run);
      return [run];
    }
  }
}

async function main(argv: readonly string[]): Promise<number> {
  // The soak has its own options, report and verdict (src/soak.ts).
  if (argv[0] === "soak") return soakMain(argv.slice(1), { stdout: process.stdout, stderr: process.stderr });
  let options: CliOptions;
  try {
    options = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`stateward-loadtest: ${error.message}\n\n${usageText()}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(usageText());
    return 0;
  }
  const context = new RunContext(options, { enabled: options.progress ?? process.stderr.isTTY === true, stream: process.stderr });
  const stopOnSignal = (): void => {
    process.stderr.write("\nstateward-loadtest: interrupted, stopping the servers it started\n");
    void context.stopAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  const startedAt = new Date().toISOString();
  let runs: RunResult[];
  try {
    runs = await runScenario(context, (run) => process.stdout.write(`${summaryLine(run)}\n`));
  } finally {
    await context.stopAll();
  }
  const report: Report = {
    tool: "stateward-loadtest",
    reportVersion: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    command: ["stateward-loadtest", ...argv].join(" "),
    machine: machineInfo(),
    runs,
  };
  const paths = writeReportFiles(report, options.outDir);
  process.stdout.write(`reports: ${paths.json}\n         ${paths.html}\n`);
  if (options.markdown !== undefined) {
    const findings = options.findings === undefined ? undefined : readFileSync(options.findings, "utf8");
    const markdown = renderBenchmarksMarkdown(report, {
      suiteCommand: report.command,
      reportDir: path.relative(process.cwd(), path.resolve(options.outDir)) || ".",
      ...(findings === undefined ? {} : { findings }),
      ...(options.referenceCli === undefined ? {} : { reference: options.referenceCli }),
    });
    // The soak's section (written by `make soak`) survives a new benchmark run.
    const soak = existsSync(options.markdown) ? extractSection(readFileSync(options.markdown, "utf8"), SOAK_SECTION_HEADING) : undefined;
    writeFileSync(options.markdown, soak === undefined ? markdown : `${markdown.trimEnd()}\n\n${soak}`);
    process.stdout.write(`summary: ${options.markdown}\n`);
  }
  return 0;
}

// The load generator's process (every side's clients run in it, so all alike) weighs buffer memory
// against V8's heap limit, as `stateward serve` does (server/src/gc-tuning.ts): by V8's default,
// every 64 MB of received payload buffers forced a full collection of the generator too.
setFlagsFromString("--external-memory-accounted-in-global-limit");
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`stateward-loadtest: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
