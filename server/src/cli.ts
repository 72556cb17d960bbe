#!/usr/bin/env node
/**
 * The `stateward` command. The only module that reads `process.env`, installs signal handlers or
 * exits the process; everything it runs is importable and testable without it.
 *
 * Exit codes: 0 after a clean (signal-triggered) shutdown or `--help`; 1 if the server fails to
 * start or a second signal forces the shutdown; 2 for usage and configuration errors.
 */
import { format } from "node:util";
import { setLogger } from "@grpc/grpc-js";
import { ConfigError, OPTION_DOCS, resolveConfig, type ServerConfig } from "./config";
import { createLogger, type Logger } from "./logger";
import { startServer } from "./stateward-server";

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function usage(): string {
  const lines = [
    "Usage:",
    "  stateward serve [options]   serve the stateward.v1.SessionState gRPC API",
    "  stateward --help            show this help (also: stateward serve --help)",
    "",
    "Options of serve. Each can also be set by its environment variable; a flag wins over the",
    "variable, which wins over the default. Byte sizes accept suffixes KiB, MiB, GiB (e.g. 512MiB).",
    "",
  ];
  for (const doc of OPTION_DOCS) {
    lines.push(`  ${doc.flag}${doc.placeholder === "" ? "" : ` ${doc.placeholder}`}`);
    lines.push(`      ${doc.description}`);
    lines.push(`      env ${doc.env}, default ${doc.default}`);
  }
  lines.push("", "SIGTERM or SIGINT stops the server gracefully (a second signal forces it).", "");
  return lines.join("\n");
}

function isHelp(arg: string | undefined): boolean {
  return arg === "--help" || arg === "-h" || arg === "help";
}

/** Sends grpc-js's own diagnostics (plain console lines by default) into the JSON log. */
function routeGrpcLogs(logger: Logger): void {
  const grpcLogger = logger.child({ component: "grpc-js" });
  setLogger({
    error: (message?: unknown, ...params: unknown[]) => grpcLogger.error(format(message, ...params)),
    info: (message?: unknown, ...params: unknown[]) => grpcLogger.info(format(message, ...params)),
    debug: (message?: unknown, ...params: unknown[]) => grpcLogger.debug(format(message, ...params)),
  });
}

async function serve(config: ServerConfig): Promise<void> {
  const logger = createLogger(config.logLevel);
  // Process-wide setting, hence here and not in startServer (which may run several times in tests).
  routeGrpcLogs(logger);
  const server = await startServer(config, { logger });
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
      () => process.exit(EXIT_OK),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

async function main(args: readonly string[]): Promise<void> {
  const [command, ...rest] = args;
  if (isHelp(command)) {
    process.stdout.write(usage());
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
