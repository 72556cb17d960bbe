/**
 * Programmatic API of the load tester (the CLI is `stateward-loadtest`): the driver, the histogram,
 * the open-loop schedule, the transport seam and the report writers.
 */
export { runLoad, type LoadOptions, type LoadResult, type RequestFn, type RequestOutcome, type LiveCounters } from "./load-driver";
export { LatencyHistogram, PLOT_PERCENTILES, type LatencySummary, type PercentilePoint } from "./latency-histogram";
export { OpenLoopSchedule } from "./open-loop-schedule";
export { systemClock, type Clock } from "./clock";
export type { SessionOps, LockOptions, LockResult, LockToken, SessionOutcome } from "./session-ops";
export { openSessionChannel } from "./transport-factory";
export { parseCliArgs, usageText, UsageError, SCENARIOS, type CliOptions, type ScenarioName } from "./args";
export { renderHtmlReport } from "./report-html";
export { writeReportFiles } from "./report-files";
export { renderBenchmarksMarkdown } from "./benchmarks-markdown";
export { evaluateTargets, type TargetStanding } from "./target-evaluation";
export type { Report, RunResult, RunSettings, RunTimeline, ServerFigures, MachineInfo } from "./report-model";
export type { IntervalLatency } from "./interval-timeline";
export type { GcPause, ServerGcTimeline } from "./gc-timeline";
