#!/usr/bin/env node
/**
 * The `stateward` command. The only module that reads `process.env`, installs signal handlers or
 * exits the process; everything it runs is importable and testable without it.
 *
 * Exit codes: 0 after a clean (signal-triggered) shutdown, `--help` or `--version`; 1 if the server fails to
 * start or a second signal forces the shutdown; 2 for usage and configuration errors.
 *
 * Load order: nothing imported statically here loads @grpc/grpc-js. `serve` first sets up
 * OpenTelemetry (only when OTEL_* variables ask for it), then loads the server modules, so that the
 * SDK and any instrumentation it registers are in place before grpc-js is loaded.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import { format, parseArgs } from "node:util";
import { configFileExposure } from "./config-file-exposure";
import { ConfigError, OPTION_DOCS, OPTION_SECTIONS, resolveConfig, secretValues, type OptionSection, type ServerConfig } from "./config";
import { ExternalMemoryRule } from "./gc-tuning";
import { createLogger, type Logger } from "./logger";
import type { ProcessTelemetry } from "./telemetry/telemetry-sdk";
import { telemetryPlan } from "./telemetry/telemetry-plan";
import { mintToken, TOKEN_USAGE, TokenUsageError } from "./security/token-command";
import { repairDataDir } from "./store/durable/repair";
import { statewardVersion } from "./version";

/**
 * Loads a module on demand, synchronously and through the CommonJS loader, so that load order is
 * ours to choose (a dynamic `import()` would go through the ES module loader instead).
 */
const load = createRequire(__filename);

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function usage(): string {
  const lines = [
    "Usage:",
    "  stateward serve [options]   serve the stateward.v1.SessionState gRPC API",
    "  stateward token create --name NAME [--app APP]... [--access read-only|read-write]",
    "                              mint a bearer token and print its auth file entry",
    "  stateward repair --data-dir DIR",
    "                              keep the valid records of a damaged data directory (stop the server first)",
    "  stateward --help            show this help (also: stateward serve --help)",
    "  stateward --version         print the version (also: -V, stateward serve --version)",
    "",
    "Options of serve. Each can also be set by its environment variable or in the --config file;",
    "a flag wins over the variable, which wins over the file, which wins over the default.",
    "Byte sizes accept suffixes KiB, MiB, GiB (e.g. 512MiB).",
    "",
  ];
  let section: OptionSection | undefined;
  for (const doc of OPTION_DOCS) {
    if (doc.section !== section) {
      section = doc.section;
      lines.push(`${OPTION_SECTIONS[section]}:`);
    }
    lines.push(doc.flag === "" ? `  ${doc.env} (environment variable only)` : `  ${doc.flag}${doc.placeholder === "" ? "" : ` ${doc.placeholder}`}`);
    lines.push(`      ${doc.description}`);
    lines.push(doc.flag === "" ? `      default ${doc.default}` : `      env ${doc.env}, default ${doc.default}`);
  }
  lines.push(
    "",
    "Telemetry: tracing and metric push follow the standard OTEL_* variables and are off unless set,",
    "e.g. OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 (traces, parent-based 10 % sampling",
    "unless OTEL_TRACES_SAMPLER says otherwise, and metrics); --metrics-port serves Prometheus.",
    "",
    "SIGTERM or SIGINT stops the server gracefully (a second signal forces it). SIGHUP re-reads the",
    "TLS files and the auth file (they are also re-read when they change).",
    "",
  );
  return lines.join("\n");
}

function isHelp(arg: string | undefined): boolean {
  return arg === "--help" || arg === "-h" || arg === "help";
}

function isVersion(arg: string | undefined): boolean {
  return arg === "--version" || arg === "-V";
}

/** Sends grpc-js's own diagnostics (plain console lines by default) into the JSON log. */
function routeGrpcLogs(logger: Logger): void {
  const { setLogger } = load("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
  const grpcLogger = logger.child({ component: "grpc-js" });
  setLogger({
    error: (message?: unknown, ...params: unknown[]) => grpcLogger.error(format(message, ...params)),
    info: (message?: unknown, ...params: unknown[]) => grpcLogger.info(format(message, ...params)),
    debug: (message?: unknown, ...params: unknown[]) => grpcLogger.debug(format(message, ...params)),
  });
}

/** Starts OpenTelemetry if the environment asks for it; loads no SDK module otherwise. */
function startTelemetry(logger: Logger, secrets: readonly string[]): ProcessTelemetry | undefined {
  const plan = telemetryPlan(process.env);
  if (!plan.traces && !plan.metricsPush) return undefined;
  const { startProcessTelemetry } = load("./telemetry/telemetry-sdk") as typeof import("./telemetry/telemetry-sdk");
  const telemetry = startProcessTelemetry(process.env, secrets);
  logger.info({ traces: plan.traces, metricsPush: plan.metricsPush, rootSampleRatio: plan.rootSampleRatio }, "OpenTelemetry started");
  return telemetry;
}

async function serve(config: ServerConfig): Promise<void> {
  const logger = createLogger(config.logLevel);
  const exposure = configFileExposure(config.configFile);
  if (exposure !== undefined) logger.warn({ configFile: config.configFile }, exposure);
  // Before anything loads @grpc/grpc-js (see the module comment).
  const telemetry = startTelemetry(logger, secretValues(config));
  // Process-wide setting, hence here and not in startServer (which may run several times in tests).
  routeGrpcLogs(logger);
  const { startServer } = load("./stateward-server") as typeof import("./stateward-server");
  // Installed before the start, whose files are read then anyway: SIGHUP's default action would
  // otherwise end a process that a deploy tool signals while it starts.
  let started: { reload(): unknown } | undefined = undefined;
  process.on("SIGHUP", () => {
    logger.info({ signal: "SIGHUP" }, "signal received: re-reading the TLS files and the auth file");
    started?.reload();
  });
  // V8's rule for buffer memory follows what the store holds (gc-tuning.ts).
  const externalMemoryRule = new ExternalMemoryRule(undefined, (weighed, slabBytes) =>
    logger.debug({ weighed, slabMiB: Math.round(slabBytes / 2 ** 20) }, weighed ? "V8 weighs buffer memory against its heap limit" : "V8's 64 MB step for buffer memory again"),
  );
  const server = await startServer(config, { logger, externalMemoryRule, ...(telemetry === undefined ? {} : { telemetry: telemetry.server }) });
  const stopTelemetry = (): Promise<void> => telemetry?.shutdown().catch(() => undefined) ?? Promise.resolve();
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, "second signal: forcing shutdown");
      server.forceShutdown();
      process.exit(EXIT_FAILURE);
    }
    signalled = true;
    logger.info({ signal }, "signal received");
    server.shutdown().then(
      () => stopTelemetry().then(() => process.exit(EXIT_OK)),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // Reloads log their own outcome; without TLS or an auth file there is nothing to re-read.
  started = server;
}

/** `stateward token ...`: only `create` so far. */
function token(args: readonly string[]): void {
  const [sub, ...rest] = args;
  if (sub === undefined || isHelp(sub) || rest.some(isHelp)) {
    process.stdout.write(TOKEN_USAGE);
    if (sub === undefined) process.exitCode = EXIT_USAGE;
    return;
  }
  if (sub !== "create") {
    process.stderr.write(`stateward token: unknown command ${JSON.stringify(sub)}\n\n${TOKEN_USAGE}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  try {
    const minted = mintToken(rest);
    process.stdout.write(`${minted.token}\n${JSON.stringify(minted.principal)}\n`);
    if (minted.broad) {
      process.stderr.write(
        `note: the entry allows apps ${JSON.stringify(minted.principal.apps)} with access ${minted.principal.access}; narrow it with --app and --access if the client needs less.\n`,
      );
    }
  } catch (error) {
    if (!(error instanceof TokenUsageError)) throw error;
    process.stderr.write(`stateward token create: ${error.message}\n\n${TOKEN_USAGE}`);
    process.exitCode = EXIT_USAGE;
  }
}

const REPAIR_USAGE = [
  "Usage: stateward repair --data-dir DIR",
  "",
  "Repairs a data directory the server refuses to start on (it names the damaged file and offset),",
  "as redis-check-aof --fix does: the first damaged file is cut at its first bad record, and every",
  "log after a damaged log is deleted (the log after a damaged snapshot is kept); what was before",
  "the damage is kept. Stop the server first: the directory is locked while one runs on it.",
  "",
].join("\n");

/** `stateward repair --data-dir DIR`. */
async function repair(args: readonly string[]): Promise<void> {
  if (args.some(isHelp)) {
    process.stdout.write(REPAIR_USAGE);
    return;
  }
  let dir: string | undefined;
  try {
    const parsed = parseArgs({ args: [...args], options: { "data-dir": { type: "string" } }, strict: true, allowPositionals: false });
    dir = parsed.values["data-dir"];
  } catch (error) {
    process.stderr.write(`stateward repair: ${error instanceof Error ? error.message : String(error)}\n\n${REPAIR_USAGE}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  if (dir === undefined || dir === "") {
    process.stderr.write(`stateward repair: --data-dir is required\n\n${REPAIR_USAGE}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  if (!fs.existsSync(dir)) {
    process.stderr.write(`stateward repair: the data directory ${dir} does not exist\n`);
    process.exitCode = EXIT_FAILURE;
    return;
  }
  if (!fs.statSync(dir).isDirectory()) {
    process.stderr.write(`stateward repair: ${dir} is not a directory\n`);
    process.exitCode = EXIT_FAILURE;
    return;
  }
  try {
    const report = await repairDataDir(dir);
    if (report.actions.length === 0) {
      process.stdout.write(`stateward repair: ${report.dir} has no damage; nothing changed\n`);
      return;
    }
    for (const action of report.actions) process.stdout.write(`${action.file}: ${action.what}\n`);
    process.stdout.write(`stateward repair: ${report.dir} repaired; the server will start on it\n`);
  } catch (error) {
    process.stderr.write(`stateward repair: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT_FAILURE;
  }
}

async function main(args: readonly string[]): Promise<void> {
  const [command, ...rest] = args;
  if (isHelp(command)) {
    process.stdout.write(usage());
    return;
  }
  if (isVersion(command)) {
    process.stdout.write(`stateward ${statewardVersion()}\n`);
    return;
  }
  if (command === "token") {
    token(rest);
    return;
  }
  if (command === "repair") {
    await repair(rest);
    return;
  }
  if (command !== "serve") {
    process.stderr.write(`stateward: ${command === undefined ? "missing command" : `unknown command "${command}"`}\n\n${usage()}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  if (rest.some((arg) => arg === "--help" || arg === "-h")) {
    process.stdout.write(usage());
    return;
  }
  if (rest.some(isVersion)) {
    process.stdout.write(`stateward ${statewardVersion()}\n`);
    return;
  }
  let config: ServerConfig;
  try {
    config = resolveConfig(rest, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`stateward: ${error.message}\nRun "stateward serve --help" for the options.\n`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  await serve(config);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`stateward: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(EXIT_FAILURE);
});
