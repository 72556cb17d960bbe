/**
 * Server configuration: command-line flags, then `STATEWARD_*` environment variables, then the
 * configuration file (`--config`, see config-file.ts), then defaults.
 *
 * This is the only module that interprets configuration; `cli.ts` is the only caller that passes
 * `process.env` in, so everything else stays testable with plain objects.
 */
import net from "node:net";
import { parseArgs } from "node:util";
import { MAX_POLL_WINDOW_US } from "@stateward/protocol/contract";
import { ConfigError } from "./config-error";
import { readConfigFile, tomlTypeOf, type ConfigFile, type ReadTextFile } from "./config-file";
import { FSYNC_POLICIES, type FsyncPolicy } from "./store/durable/log-writer";
import { DEFAULT_PERSISTENCE_OPTIONS, type PersistenceOptions } from "./store/durable/persistence-options";
import { DEFAULT_MEMORY_OPTIONS, type MemoryOptions } from "./store/memory/memory-options";
import { DEFAULT_REDIS_OPTIONS, type RedisOptions } from "./store/redis/redis-options";
import { redactRedisUrl, redisUrlPasswords, redisUrlProblem } from "./store/redis/redis-url";
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from "./store/session-limits";

/** Log levels accepted by `--log-level` (pino's levels plus `silent`). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

export { ConfigError };

/** The resolved, validated and deeply frozen configuration of a Stateward server. */
export interface ServerConfig {
  /**
   * The configuration file the other options were read from (`--config`, `STATEWARD_CONFIG`), as
   * given; empty when none. Flags and variables win over it.
   */
  readonly configFile: string;
  /** Address to bind (`--host`, `STATEWARD_HOST`). Default `127.0.0.1`. */
  readonly host: string;
  /** TCP port to bind; 0 picks any free port (`--port`, `STATEWARD_PORT`). Default 42424. */
  readonly port: number;
  /**
   * Allow binding a non-loopback address (`--allow-remote`, `STATEWARD_ALLOW_REMOTE`). Default
   * false: loopback only unless told otherwise (the ASP.NET State Service's AllowRemoteConnection).
   * A non-loopback address also needs TLS and an auth file, or {@link insecureRemote}.
   */
  readonly allowRemote: boolean;
  /**
   * Let a non-loopback address go without TLS or without an auth file (`--insecure-remote`,
   * `STATEWARD_INSECURE_REMOTE`): the escape hatch for a trusted network, warned about at every
   * start. Default false.
   */
  readonly insecureRemote: boolean;
  /**
   * PEM certificate chain of the server (`--tls-cert`, `STATEWARD_TLS_CERT`); with {@link tlsKey} the
   * gRPC port (and the HTTP ports) speak TLS only. Re-read when the file changes and on SIGHUP.
   * Default empty: plaintext.
   */
  readonly tlsCert: string;
  /** PEM private key of {@link tlsCert} (`--tls-key`, `STATEWARD_TLS_KEY`). Default empty. */
  readonly tlsKey: string;
  /**
   * PEM CA certificates for mutual TLS (`--tls-client-ca`, `STATEWARD_TLS_CLIENT_CA`): every gRPC
   * client must present a certificate that chains to one of them. Needs {@link tlsCert}. Default
   * empty: no client certificates.
   */
  readonly tlsClientCa: string;
  /**
   * JSON file of the principals allowed to call (`--auth-file`, `STATEWARD_AUTH_FILE`), see
   * security/auth-file.ts; re-read when it changes and on SIGHUP. Default empty: no authentication.
   */
  readonly authFile: string;
  /** Minimum level of the JSON log on stderr (`--log-level`, `STATEWARD_LOG_LEVEL`). Default `info`. */
  readonly logLevel: LogLevel;
  /**
   * How long a graceful shutdown waits for in-flight calls before cancelling them, in ms
   * (`--shutdown-grace-ms`, `STATEWARD_SHUTDOWN_GRACE_MS`). Default 10,000.
   */
  readonly shutdownGraceMs: number;
  /**
   * How long a shutdown keeps serving as usual after health and `/readyz` turned NOT_SERVING / 503,
   * before it stops accepting and drains, in ms (`--shutdown-delay-ms`,
   * `STATEWARD_SHUTDOWN_DELAY_MS`): time for a load balancer to see the 503 and move traffic away.
   * Default 0.
   */
  readonly shutdownDelayMs: number;
  /**
   * Most operations in one Pipeline message (`--max-pipeline-batch`, `STATEWARD_MAX_PIPELINE_BATCH`);
   * the excess fails per operation with RESOURCE_EXHAUSTED. Default 1024.
   */
  readonly maxPipelineBatch: number;
  /**
   * Most operations in flight at once on one Pipeline stream (`--max-pipeline-in-flight`,
   * `STATEWARD_MAX_PIPELINE_IN_FLIGHT`); the next one that may wait fails with RESOURCE_EXHAUSTED.
   * Default 4096.
   */
  readonly maxPipelineInFlight: number;
  /**
   * After a Pipeline message comes in or goes out, how long the event loop keeps polling instead
   * of sleeping, in microseconds (`--pipeline-poll-us`, `STATEWARD_PIPELINE_POLL_US`): the next
   * message then finds the server awake, which saves a wake-up of the process per message (see
   * `@stateward/protocol`'s event-loop-poller.ts). Costs CPU within the windows only. Default 500;
   * 0 = never poll.
   */
  readonly pipelinePollUs: number;
  /**
   * Port of the Prometheus metrics endpoint (`--metrics-port`, `STATEWARD_METRICS_PORT`), served on
   * `host` like the gRPC port (so loopback unless `allowRemote`). Default 0: no endpoint.
   */
  readonly metricsPort: number;
  /**
   * Port of an HTTP server with only the health checks `/healthz` and `/readyz` (`--health-port`,
   * `STATEWARD_HEALTH_PORT`), on `host`. Default 0: none (the metrics port serves them too).
   */
  readonly healthPort: number;
  /**
   * Key of the keyed hash (HMAC-SHA256) that lets spans carry a pseudonym of the session for
   * correlation (`--session-hash-key`, `STATEWARD_SESSION_HASH_KEY`). Default empty: off, spans carry
   * nothing that identifies a session. A secret: pass it through the variable, not the flag.
   */
  readonly sessionHashKey: string;
  /**
   * Events a Watch stream may hold undelivered before the watcher is dropped with
   * RESOURCE_EXHAUSTED (`--watch-max-backlog`, `STATEWARD_WATCH_MAX_BACKLOG`). Default 1024.
   */
  readonly watchMaxBacklog: number;
  /**
   * Where sessions live (`--backend`, `STATEWARD_BACKEND`). Default `memory`, the embedded store;
   * `redis` keeps them in Redis (see {@link redis}).
   */
  readonly backend: BackendName;
  /** The contract's limits and defaults, the same for every backend (one flag and variable per field). */
  readonly limits: SessionLimits;
  /** Options of the memory backend (one flag and variable per field). */
  readonly memory: MemoryOptions;
  /** The memory backend's append-only log and snapshots (`--data-dir`; one flag and variable per field). */
  readonly persistence: PersistenceOptions;
  /**
   * Options of the Redis backend (one flag and variable per field, except the password: variable
   * only). Resolved and checked whatever the backend, used only with `--backend redis`.
   */
  readonly redis: RedisOptions;
}

/** The backends `--backend` accepts. */
export const BACKENDS = ["memory", "redis"] as const;

/** One of {@link BACKENDS}. */
export type BackendName = (typeof BACKENDS)[number];

/** The groups of options, in `--help` and README order. */
export const OPTION_SECTIONS = {
  server: "Server",
  security: "Security (TLS and credentials)",
  limits: "Session limits (every backend)",
  memory: "Memory backend (--backend memory)",
  persistence: "Durability of the memory backend (--data-dir)",
  redis: "Redis backend (--backend redis)",
} as const;

/** A key of {@link OPTION_SECTIONS}. */
export type OptionSection = keyof typeof OPTION_SECTIONS;

/** Documentation of one option, as printed by `stateward serve --help` and listed in the README. */
export interface OptionDoc {
  /** The group the option belongs to. */
  readonly section: OptionSection;
  /** The command-line flag, e.g. `--port`; empty for an option only its environment variable sets. */
  readonly flag: string;
  /** Placeholder of the flag's value in usage text (e.g. `<port>`); empty for boolean flags (and without a flag). */
  readonly placeholder: string;
  /** The environment variable, e.g. `STATEWARD_PORT`. */
  readonly env: string;
  /** The default value as text, e.g. `42424`. */
  readonly default: string;
  /** What the option does, including its valid range. */
  readonly description: string;
}

/** Thrown by value parsers; carries only the rule, the caller adds flag, variable and value. */
class RuleViolation extends Error {}

/** How one option is read, parsed, checked and documented. */
interface OptionSpec<T> {
  /**
   * Flag name without the leading dashes; the variable is STATEWARD_ + its upper snake case. With
   * {@link envOnly} only the variable's name comes from it.
   */
  readonly flag: string;
  /** Placeholder in usage text; absent for boolean flags. */
  readonly placeholder?: string;
  /** The value when neither flag nor variable is set. */
  readonly default: T;
  /** The default as documented, when `String(default)` would be less readable. */
  readonly defaultText?: string;
  /** One-line description with the valid range. */
  readonly description: string;
  /**
   * The value is a secret (a key, a token, a password): error messages do not repeat it, and it is
   * kept out of logs, spans, metrics and resource attributes (see {@link SECRET_OPTIONS}).
   */
  readonly secret?: boolean;
  /**
   * In the configuration file a number option takes an integer; with this, also a string (byte
   * sizes with a suffix, `"1MiB"`).
   */
  readonly fileAcceptsString?: boolean;
  /** The option cannot be set in the configuration file (the file's own path). */
  readonly notInFile?: boolean;
  /**
   * Only the environment variable sets it: no flag and no file key (a password, which a flag would
   * show in the process list and a file would spread). Documented without a flag.
   */
  readonly envOnly?: boolean;
  /** How messages show a raw value that is not a secret but may hold one (a URL's password); default as given. */
  readonly shown?: (raw: string) => string;
  /** Turns the raw text into a value or throws a {@link RuleViolation} stating the rule. */
  readonly parse: (raw: string) => T;
}

// Node timers overflow above 2^31 - 1 ms, so every duration that may end up in a timer stays below.
const MAX_TIMER_MS = 2_147_483_647;
const ONE_YEAR_SECONDS = 31_536_000;
// The gRPC receive cap, 8 x max-item-bytes + 64 KiB clamped to an int32 (grpc/receive-limit.ts),
// stays above max-item-bytes up to this limit.
const MAX_ITEM_BYTES_LIMIT = 1024 * 1024 * 1024;

function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const text = raw.trim();
    const value = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RuleViolation(`must be an integer from ${min} to ${max}`);
    }
    return value;
  };
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** Byte sizes: a plain integer or an integer with a binary suffix (B, KiB, MiB, GiB, TiB). */
function byteSize(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const match = /^([0-9]+)\s*([a-z]*)$/i.exec(raw.trim());
    const unit = match === null ? undefined : SIZE_UNITS[(match[2] ?? "").toLowerCase()];
    const value = match === null || unit === undefined ? Number.NaN : Number(match[1]) * unit;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RuleViolation(
        `must be a byte count from ${min} to ${max}, as a plain integer or with a suffix B, KiB, MiB, GiB or TiB (e.g. 512MiB)`,
      );
    }
    return value;
  };
}

function boolean(raw: string): boolean {
  const text = raw.trim().toLowerCase();
  if (text === "true" || text === "1" || text === "yes") return true;
  if (text === "false" || text === "0" || text === "no") return false;
  throw new RuleViolation("must be true or false (also accepted: 1/0, yes/no)");
}

function logLevel(raw: string): LogLevel {
  const text = raw.trim().toLowerCase();
  const level = LOG_LEVELS.find((candidate) => candidate === text);
  if (level === undefined) throw new RuleViolation(`must be one of ${LOG_LEVELS.join(", ")}`);
  return level;
}

function fsyncPolicy(raw: string): FsyncPolicy {
  const text = raw.trim().toLowerCase();
  const policy = FSYNC_POLICIES.find((candidate) => candidate === text);
  if (policy === undefined) throw new RuleViolation(`must be one of ${FSYNC_POLICIES.join(", ")}`);
  return policy;
}

function ratio(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const text = raw.trim();
    const value = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : Number.NaN;
    if (!(value >= min && value <= max)) throw new RuleViolation(`must be a number from ${min} to ${max} (e.g. 1.5)`);
    return value;
  };
}

function backendName(raw: string): BackendName {
  const text = raw.trim().toLowerCase();
  const name = BACKENDS.find((candidate) => candidate === text);
  if (name === undefined) throw new RuleViolation(`must be one of ${BACKENDS.join(", ")}`);
  return name;
}

function hashKey(raw: string): string {
  // Short keys make the pseudonyms guessable by brute force over likely session ids.
  if (raw.length > 0 && raw.length < 16) throw new RuleViolation("must be empty (off) or at least 16 characters");
  return raw;
}

function redisUrl(raw: string): string {
  const problem = redisUrlProblem(raw);
  if (problem !== undefined) throw new RuleViolation(problem);
  return raw.trim();
}

/** `host:port` seeds, comma-separated; empty (or only commas and blanks) for none. */
function redisClusterSeeds(raw: string): readonly string[] {
  const seeds = raw
    .split(",")
    .map((seed) => seed.trim())
    .filter((seed) => seed !== "");
  for (const seed of seeds) {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):([0-9]{1,5})$/.exec(seed);
    const port = match === null ? Number.NaN : Number(match[2]);
    const hostPart = match?.[1] ?? "";
    const hostOk = hostPart.startsWith("[") ? net.isIPv6(hostPart.slice(1, -1)) : net.isIPv4(hostPart) || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(hostPart);
    if (!hostOk || !(port >= 1 && port <= 65535)) {
      throw new RuleViolation(
        `must be a comma-separated list of host:port (each port 1 to 65535, an IPv6 address in brackets, e.g. 10.0.0.1:7000,10.0.0.2:7000), or empty for none; ${JSON.stringify(seed)} is not`,
      );
    }
  }
  return Object.freeze(seeds);
}

function redisPrefix(raw: string): string {
  // Braces would change which part of a key Redis Cluster hashes (its hash tag).
  if (!/^[\x21-\x7e]{1,64}$/.test(raw) || /[{}]/.test(raw)) {
    throw new RuleViolation("must be 1 to 64 visible ASCII characters, without spaces, { or }");
  }
  return raw;
}

/** Any text, empty for none (a password). */
function anyText(raw: string): string {
  return raw;
}

function filePath(raw: string): string {
  if (raw === "") throw new RuleViolation("must be the path of a file");
  return raw;
}

/** A file path, or "" for none (so that a configuration file can show the default). */
function optionalFilePath(raw: string): string {
  return raw;
}

function host(raw: string): string {
  let text = raw.trim();
  // Accept the bracketed IPv6 form people copy from URLs.
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (net.isIP(text) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(text)) {
    throw new RuleViolation("must be an IPv4 or IPv6 address or a host name (without a port)");
  }
  return text;
}

/**
 * True for addresses that only the local machine can reach: 127.0.0.0/8, ::1 (also as an
 * IPv4-mapped 127.x address) and `localhost`.
 */
export function isLoopbackHost(hostName: string): boolean {
  const text = hostName.toLowerCase();
  if (text === "localhost" || text === "localhost.") return true;
  if (net.isIPv4(text)) return text.startsWith("127.");
  if (net.isIPv6(text)) {
    let normalized: string;
    try {
      // The URL parser canonicalises IPv6 (0:0:0:0:0:0:0:1 → [::1]); zone ids make it throw.
      normalized = new URL(`http://[${text}]/`).hostname;
    } catch {
      return false;
    }
    return normalized === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(normalized);
  }
  return false;
}

type Specs<T> = { readonly [K in keyof T]: OptionSpec<T[K]> };

/** The transport-security and credential options (their own section). */
type SecurityOnly = Pick<ServerConfig, "tlsCert" | "tlsKey" | "tlsClientCa" | "authFile" | "insecureRemote">;

type ServerOnly = Omit<ServerConfig, "limits" | "memory" | "persistence" | "redis" | keyof SecurityOnly>;

/** The server's own options (everything but the store's). */
const SERVER_SPECS: Specs<ServerOnly> = {
  configFile: {
    flag: "config",
    placeholder: "<file>",
    default: "",
    defaultText: "(none)",
    description:
      'A TOML file of options (example: deploy/stateward.toml): one top-level key per option, named like its flag without the dashes (max-item-bytes = "1MiB", allow-remote = true); flags and variables win over it. Unknown keys and bad values stop the server.',
    notInFile: true,
    parse: filePath,
  },
  backend: {
    flag: "backend",
    placeholder: "<name>",
    default: "memory",
    description: `Where sessions live: ${BACKENDS.join(", ")} (memory: the embedded in-memory store; redis: a Redis or Valkey server or Redis Cluster shared by any number of Stateward nodes; each backend's options are listed under its own heading).`,
    parse: backendName,
  },
  host: {
    flag: "host",
    placeholder: "<address>",
    default: "127.0.0.1",
    description:
      "Address to listen on. Anything but loopback (127.0.0.0/8, ::1, localhost) also needs --allow-remote.",
    parse: host,
  },
  port: {
    flag: "port",
    placeholder: "<port>",
    default: 42424,
    description: "TCP port to listen on, 0 to 65535; 0 picks any free port.",
    parse: integer(0, 65535),
  },
  allowRemote: {
    flag: "allow-remote",
    default: false,
    description:
      "Allow listening on a non-loopback address; that also needs --tls-cert/--tls-key and --auth-file (or --insecure-remote). The variable takes true or false.",
    parse: boolean,
  },
  logLevel: {
    flag: "log-level",
    placeholder: "<level>",
    default: "info",
    description: `Minimum level of the JSON log on stderr: ${LOG_LEVELS.join(", ")}.`,
    parse: logLevel,
  },
  shutdownGraceMs: {
    flag: "shutdown-grace-ms",
    placeholder: "<ms>",
    default: 10_000,
    description: `On SIGTERM/SIGINT, how long to let in-flight calls finish before cancelling them, in ms (0 to ${MAX_TIMER_MS}).`,
    parse: integer(0, MAX_TIMER_MS),
  },
  shutdownDelayMs: {
    flag: "shutdown-delay-ms",
    placeholder: "<ms>",
    default: 0,
    description: `On SIGTERM/SIGINT, how long to go on serving with health NOT_SERVING and /readyz 503 before the drain begins, so that load balancers move traffic away first, in ms (0 to ${MAX_TIMER_MS}; 0 = drain at once).`,
    parse: integer(0, MAX_TIMER_MS),
  },
  maxPipelineBatch: {
    flag: "max-pipeline-batch",
    placeholder: "<n>",
    default: 1024,
    description: "Most operations in one Pipeline message, 1 to 65536; the excess fails per operation with RESOURCE_EXHAUSTED.",
    parse: integer(1, 65_536),
  },
  maxPipelineInFlight: {
    flag: "max-pipeline-in-flight",
    placeholder: "<n>",
    default: 4096,
    description:
      "Most operations in flight at once on one Pipeline stream (waiting for a lock, or for the backend's answer), 1 to 1000000; the next one that may wait fails with RESOURCE_EXHAUSTED, and the stream stops reading while this many wait for the backend (bounds what a stream can make the server hold).",
    parse: integer(1, 1_000_000),
  },
  pipelinePollUs: {
    flag: "pipeline-poll-us",
    placeholder: "<us>",
    default: 500,
    description: `After a Pipeline message comes in or goes out, how long the event loop keeps polling instead of sleeping, in microseconds (0 to ${MAX_POLL_WINDOW_US}; 0 = never): the next message finds the server awake instead of paying for a wake-up. Costs CPU only within these windows.`,
    parse: integer(0, MAX_POLL_WINDOW_US),
  },
  metricsPort: {
    flag: "metrics-port",
    placeholder: "<port>",
    default: 0,
    defaultText: "0 (off)",
    description:
      "Port of the Prometheus metrics endpoint (GET /metrics, and the health checks GET /healthz and /readyz), 0 to 65535, served on --host like the gRPC port (so loopback unless --allow-remote); 0 = no endpoint.",
    parse: integer(0, 65535),
  },
  healthPort: {
    flag: "health-port",
    placeholder: "<port>",
    default: 0,
    defaultText: "0 (off)",
    description:
      "Port of an HTTP server with only the health checks (GET /healthz: the process answers; GET /readyz: 200 while serving, 503 while starting or shutting down), 0 to 65535, on --host like the gRPC port; 0 = none. --metrics-port serves them too: this is for health checks without metrics, or on a port of their own.",
    parse: integer(0, 65535),
  },
  sessionHashKey: {
    flag: "session-hash-key",
    placeholder: "<key>",
    default: "",
    defaultText: "(empty: off)",
    description:
      "Key of an HMAC-SHA256 that adds a pseudonym of the session (stateward.session.hash) to trace spans for correlation; empty = off, spans then carry nothing that identifies a session. At least 16 characters. A secret: prefer the variable, as flags show in the process list.",
    secret: true,
    parse: hashKey,
  },
  watchMaxBacklog: {
    flag: "watch-max-backlog",
    placeholder: "<n>",
    default: 1024,
    description:
      "Session events a Watch stream may hold undelivered, 1 to 1000000; a watcher further behind that has taken no event for 1 s (it stopped reading), or 64 times further behind whatever its pace, is dropped with RESOURCE_EXHAUSTED (\"watcher too slow\") instead of slowing the store. Bursts larger than this reach a watcher that keeps reading.",
    parse: integer(1, 1_000_000),
  },
};

/** TLS, mutual TLS, credentials and the remote-access rule's escape hatch. */
const SECURITY_SPECS: Specs<SecurityOnly> = {
  tlsCert: {
    flag: "tls-cert",
    placeholder: "<file>",
    default: "",
    defaultText: "(none: plaintext)",
    description:
      "PEM certificate (chain) of the server; with --tls-key, the gRPC port speaks TLS only, and the metrics and health ports serve HTTPS. Re-read when the file changes and on SIGHUP, without dropping connections; a broken new file is logged and the old one kept.",
    parse: optionalFilePath,
  },
  tlsKey: {
    flag: "tls-key",
    placeholder: "<file>",
    default: "",
    defaultText: "(none)",
    description: "PEM private key of --tls-cert (both or neither). Re-read with it.",
    parse: optionalFilePath,
  },
  tlsClientCa: {
    flag: "tls-client-ca",
    placeholder: "<file>",
    default: "",
    defaultText: "(none)",
    description:
      "PEM CA certificate(s) for mutual TLS: every gRPC client must present a certificate that chains to one of them, or the handshake fails; the auth file can name such a client by its certificate's common name (client_cert_cn). Needs --tls-cert. Re-read when the file changes and on SIGHUP.",
    parse: optionalFilePath,
  },
  authFile: {
    flag: "auth-file",
    placeholder: "<file>",
    default: "",
    defaultText: "(none: no authentication)",
    description:
      'JSON file of the principals that may call ({"principals": [{"name", "token_sha256" or "client_cert_cn", "apps", "access"}]}; see "Security" in the README): every SessionState call, and reflection and /metrics, then need a principal. Re-read when the file changes and on SIGHUP; an invalid file stops the start, and on reload is logged and the old one kept.',
    parse: optionalFilePath,
  },
  insecureRemote: {
    flag: "insecure-remote",
    default: false,
    description:
      "Let a non-loopback address (with --allow-remote) go without TLS or without an auth file: anyone who reaches the port can then read or change every session (or read it on the wire). Only for a trusted network; warned about at every start. The variable takes true or false.",
    parse: boolean,
  },
};

/** The contract's limits, one per {@link SessionLimits} field. */
const LIMIT_SPECS: Specs<SessionLimits> = {
  defaultTtlSeconds: {
    flag: "default-ttl-seconds",
    placeholder: "<s>",
    default: DEFAULT_SESSION_LIMITS.defaultTtlSeconds,
    description: "Sliding expiry window of a session when a request gives ttl_seconds 0, in seconds; at most --max-ttl-seconds.",
    parse: integer(1, ONE_YEAR_SECONDS),
  },
  maxTtlSeconds: {
    flag: "max-ttl-seconds",
    placeholder: "<s>",
    default: DEFAULT_SESSION_LIMITS.maxTtlSeconds,
    description: `Largest ttl_seconds a request may ask for, 1 to ${ONE_YEAR_SECONDS} (one year); above it INVALID_ARGUMENT.`,
    parse: integer(1, ONE_YEAR_SECONDS),
  },
  defaultLockLeaseMs: {
    flag: "default-lock-lease-ms",
    placeholder: "<ms>",
    default: DEFAULT_SESSION_LIMITS.defaultLockLeaseMs,
    description: "Lock lease when a Lock request gives lease_ms 0, in ms; at most --max-lock-lease-ms.",
    parse: integer(1, MAX_TIMER_MS),
  },
  maxLockLeaseMs: {
    flag: "max-lock-lease-ms",
    placeholder: "<ms>",
    default: DEFAULT_SESSION_LIMITS.maxLockLeaseMs,
    description: `Largest lease_ms a Lock request may ask for, 1 to ${MAX_TIMER_MS}; above it INVALID_ARGUMENT.`,
    parse: integer(1, MAX_TIMER_MS),
  },
  maxWaitMs: {
    flag: "max-wait-ms",
    placeholder: "<ms>",
    default: DEFAULT_SESSION_LIMITS.maxWaitMs,
    description: `Cap on the wait_ms of Get and Lock, 0 to ${MAX_TIMER_MS}; longer waits are shortened, not refused.`,
    parse: integer(0, MAX_TIMER_MS),
  },
  maxWaiters: {
    flag: "max-waiters",
    placeholder: "<n>",
    default: DEFAULT_SESSION_LIMITS.maxWaiters,
    description: "Waiting calls allowed per session, 1 to 100000; the next one gets RESOURCE_EXHAUSTED.",
    parse: integer(1, 100_000),
  },
  maxItemBytes: {
    flag: "max-item-bytes",
    placeholder: "<bytes>",
    default: DEFAULT_SESSION_LIMITS.maxItemBytes,
    defaultText: "1MiB",
    fileAcceptsString: true,
    description: `Largest session payload (1 to ${MAX_ITEM_BYTES_LIMIT} bytes, suffixes KiB/MiB/GiB allowed); above it INVALID_ARGUMENT.`,
    parse: byteSize(1, MAX_ITEM_BYTES_LIMIT),
  },
};

/** The memory backend's options, one per {@link MemoryOptions} field. */
const MEMORY_SPECS: Specs<MemoryOptions> = {
  shards: {
    flag: "shards",
    placeholder: "<n>",
    default: DEFAULT_MEMORY_OPTIONS.shards,
    description: "Number of independent partitions of the store (session table, expiry index, lease and waiter heaps each), 1 to 4096: they bound the work of one expiry slice and the cost of growing a table.",
    parse: integer(1, 4096),
  },
  maxApps: {
    flag: "max-apps",
    placeholder: "<n>",
    default: DEFAULT_MEMORY_OPTIONS.maxApps,
    description: "Apps that may have sessions at once, 1 to 1000000; a write that would add another gets RESOURCE_EXHAUSTED (TOO_MANY_APPS). An app whose sessions are all gone is forgotten and costs nothing.",
    parse: integer(1, 1_000_000),
  },
  maxMemoryBytes: {
    flag: "max-memory",
    placeholder: "<bytes>",
    default: DEFAULT_MEMORY_OPTIONS.maxMemoryBytes,
    defaultText: "1GiB",
    fileAcceptsString: true,
    description:
      "Memory budget for session data plus per-session overhead (bytes, suffixes KiB/MiB/GiB/TiB allowed; at least --max-item-bytes); a write that would pass it gets RESOURCE_EXHAUSTED.",
    parse: byteSize(1, Number.MAX_SAFE_INTEGER),
  },
  expiryIntervalMs: {
    flag: "expiry-interval-ms",
    placeholder: "<ms>",
    default: DEFAULT_MEMORY_OPTIONS.expiryIntervalMs,
    description: "How often the active expiry cycle runs, in ms (1 to 60000).",
    parse: integer(1, 60_000),
  },
  expirySliceBudgetMs: {
    flag: "expiry-slice-budget-ms",
    placeholder: "<ms>",
    default: DEFAULT_MEMORY_OPTIONS.expirySliceBudgetMs,
    description: "Time budget of one expiry cycle across all shards, in ms (1 to 60000, at most --expiry-interval-ms).",
    parse: integer(1, 60_000),
  },
};

/** The append-only log's options, one per {@link PersistenceOptions} field. */
const PERSISTENCE_SPECS: Specs<PersistenceOptions> = {
  dataDir: {
    flag: "data-dir",
    placeholder: "<dir>",
    default: DEFAULT_PERSISTENCE_OPTIONS.dataDir,
    defaultText: "(none: memory only)",
    description:
      "Keep the memory backend's sessions across restarts and crashes: an append-only log of every change plus snapshots in this directory (created if missing, locked: one server per directory). Empty: memory only. Not with --backend redis.",
    // Empty is a value here (memory only, as documented), so that a configuration file can show the default.
    parse: optionalFilePath,
  },
  fsync: {
    flag: "fsync",
    placeholder: "<policy>",
    default: DEFAULT_PERSISTENCE_OPTIONS.fsync,
    description: `When the log is fdatasynced, as Redis's appendfsync: ${FSYNC_POLICIES.join(", ")}. always: a change is answered once it is on disk (the changes that arrive during a sync share the next one); everysec: answered once the OS has it (survives a kill -9), synced every second; no: the OS decides.`,
    parse: fsyncPolicy,
  },
  snapshotLogRatio: {
    flag: "snapshot-log-ratio",
    placeholder: "<ratio>",
    default: DEFAULT_PERSISTENCE_OPTIONS.snapshotLogRatio,
    fileAcceptsString: true,
    description:
      "A snapshot (which lets the log before it be deleted) starts in the background when the log since the last one exceeds this multiple of the live data (0.1 to 100) and --snapshot-min-log-bytes.",
    parse: ratio(0.1, 100),
  },
  snapshotMinLogBytes: {
    flag: "snapshot-min-log-bytes",
    placeholder: "<bytes>",
    default: DEFAULT_PERSISTENCE_OPTIONS.snapshotMinLogBytes,
    defaultText: "64MiB",
    fileAcceptsString: true,
    description: "No snapshot before the log since the last one reaches this size (bytes, 4KiB to 1TiB, suffixes KiB/MiB/GiB allowed).",
    parse: byteSize(4096, 1024 ** 4),
  },
};

/** The Redis backend's options, one per {@link RedisOptions} field. */
const REDIS_SPECS: Specs<RedisOptions> = {
  url: {
    flag: "redis-url",
    placeholder: "<url>",
    default: DEFAULT_REDIS_OPTIONS.url,
    description:
      "The Redis (or Valkey) server: redis://[user:password@]host[:port][/db], or rediss:// for TLS; db 0 to 15. A Redis 6 ACL user works. With --redis-cluster only its scheme, user and password count (for every node). A password here shows in the process list: prefer STATEWARD_REDIS_PASSWORD.",
    shown: redactRedisUrl,
    parse: redisUrl,
  },
  cluster: {
    flag: "redis-cluster",
    placeholder: "<host:port,...>",
    default: DEFAULT_REDIS_OPTIONS.cluster,
    defaultText: "(none)",
    description:
      "Seed nodes of a Redis Cluster, comma-separated host:port (any reachable subset of the masters; ports 1 to 65535); they take --redis-url's scheme, user and password. Empty: a single Redis at --redis-url.",
    parse: redisClusterSeeds,
  },
  prefix: {
    flag: "redis-prefix",
    placeholder: "<prefix>",
    default: DEFAULT_REDIS_OPTIONS.prefix,
    description:
      "Prefix of every key and channel Stateward writes, so that several deployments (or other data) share one Redis: 1 to 64 visible ASCII characters, without spaces, { or } (braces would change the keys' hash tags).",
    parse: redisPrefix,
  },
  password: {
    flag: "redis-password",
    default: DEFAULT_REDIS_OPTIONS.password,
    defaultText: "(empty: none)",
    description:
      "Password for Redis AUTH when --redis-url has none (with the URL's user, if any, else the default user). Only this variable sets it, never a flag or the configuration file: a flag would show in the process list.",
    secret: true,
    envOnly: true,
    parse: anyText,
  },
  waitReplicas: {
    flag: "redis-wait-replicas",
    placeholder: "<n>",
    default: DEFAULT_REDIS_OPTIONS.waitReplicas,
    description:
      "After each write, wait until this many replicas have acknowledged it (Redis WAIT), 0 to 16, so that a failover loses no acknowledged write or lock; a write they do not confirm within --redis-wait-timeout-ms fails with UNAVAILABLE. 0: do not wait (Redis's asynchronous replication).",
    parse: integer(0, 16),
  },
  waitTimeoutMs: {
    flag: "redis-wait-timeout-ms",
    placeholder: "<ms>",
    default: DEFAULT_REDIS_OPTIONS.waitTimeoutMs,
    description: "How long WAIT may take when --redis-wait-replicas is above 0, in ms (1 to 60000).",
    parse: integer(1, 60_000),
  },
  recheckMs: {
    flag: "redis-recheck-ms",
    placeholder: "<ms>",
    default: DEFAULT_REDIS_OPTIONS.recheckMs,
    description:
      "How often a node re-checks its waiting calls against Redis, in ms (10 to 60000): the most delay a lost wake-up message can cost (Redis pub/sub is at-most-once); wake-ups themselves are pushed.",
    parse: integer(10, 60_000),
  },
  commandTimeoutMs: {
    flag: "redis-command-timeout-ms",
    placeholder: "<ms>",
    default: DEFAULT_REDIS_OPTIONS.commandTimeoutMs,
    description:
      "How long a call waits for Redis before it fails with UNAVAILABLE (BACKEND_UNAVAILABLE) when Redis does not answer, in ms (50 to 60000); a call also fails within its own deadline.",
    parse: integer(50, 60_000),
  },
};

function envName(flag: string): string {
  return `STATEWARD_${flag.toUpperCase().replace(/-/g, "_")}`;
}

function docsOf<T>(section: OptionSection, specs: Specs<T>): OptionDoc[] {
  return Object.values<OptionSpec<unknown>>(specs).map((spec) =>
    Object.freeze({
      section,
      flag: spec.envOnly === true ? "" : `--${spec.flag}`,
      placeholder: spec.envOnly === true ? "" : (spec.placeholder ?? ""),
      env: envName(spec.flag),
      default: spec.defaultText ?? String(spec.default),
      description: spec.description,
    }),
  );
}

/** Every option with its flag, environment variable, default and description, in `--help` order. */
export const OPTION_DOCS: readonly OptionDoc[] = Object.freeze([
  ...docsOf("server", SERVER_SPECS),
  ...docsOf("security", SECURITY_SPECS),
  ...docsOf("limits", LIMIT_SPECS),
  ...docsOf("memory", MEMORY_SPECS),
  ...docsOf("persistence", PERSISTENCE_SPECS),
  ...docsOf("redis", REDIS_SPECS),
]);

/** An option whose value is a secret, by every name it goes by. */
export interface SecretOption {
  /** The property of the resolved configuration (as it would appear in a logged object). */
  readonly key: string;
  /**
   * The command-line flag, e.g. `--session-hash-key` (for an option only its variable sets, the
   * flag it would have, `--redis-password`: a command line that has it anyway is redacted too).
   */
  readonly flag: string;
  /** The environment variable, e.g. `STATEWARD_SESSION_HASH_KEY`. */
  readonly env: string;
}

function secretOptionsOf<T>(specs: Specs<T>): SecretOption[] {
  return (Object.keys(specs) as (keyof T & string)[])
    .filter((key) => specs[key].secret === true)
    .map((key) => Object.freeze({ key, flag: `--${specs[key].flag}`, env: envName(specs[key].flag) }));
}

/**
 * The options marked `secret` in their spec. Logging (logger.ts) and telemetry (the resource of
 * spans and metrics, telemetry-sdk.ts) consult this list, so a new secret option is covered by
 * marking it.
 */
export const SECRET_OPTIONS: readonly SecretOption[] = Object.freeze([
  ...secretOptionsOf(SERVER_SPECS),
  ...secretOptionsOf(SECURITY_SPECS),
  ...secretOptionsOf(LIMIT_SPECS),
  ...secretOptionsOf(MEMORY_SPECS),
  ...secretOptionsOf(PERSISTENCE_SPECS),
  ...secretOptionsOf(REDIS_SPECS),
]);

function secretValuesOf<T>(specs: Specs<T>, values: T): string[] {
  return (Object.keys(specs) as (keyof T)[]).filter((key) => specs[key].secret === true).map((key) => String(values[key]));
}

/** The values of the secret options in `config` that are set (non-empty), and the Redis URL's password, for redaction. */
export function secretValues(config: ServerConfig): readonly string[] {
  return [
    ...secretValuesOf(SERVER_SPECS, config),
    ...secretValuesOf(SECURITY_SPECS, config),
    ...secretValuesOf(LIMIT_SPECS, config.limits),
    ...secretValuesOf(MEMORY_SPECS, config.memory),
    ...secretValuesOf(PERSISTENCE_SPECS, config.persistence),
    ...secretValuesOf(REDIS_SPECS, config.redis),
    ...redisUrlPasswords(config.redis.url),
  ].filter((value) => value !== "");
}

type FlagValues = Readonly<Record<string, string | boolean | undefined>>;
type Env = Readonly<Record<string, string | undefined>>;

/** A value from the configuration file, as the text its option's parser reads. */
interface FileValue {
  readonly text: string;
  /** How messages show it (TOML form: strings quoted, numbers not). */
  readonly shown: string;
}

/** The configuration file's values by flag name (`max-item-bytes`), and where they came from. */
interface FileValues {
  /** `key "port" in configuration file "/etc/stateward/stateward.toml"`, for messages. */
  readonly sourceOf: (flag: string) => string;
  readonly values: ReadonlyMap<string, FileValue>;
}

function readOption<T>(spec: OptionSpec<T>, flags: FlagValues, env: Env, file?: FileValues): T {
  const flagValue = spec.envOnly === true ? undefined : flags[spec.flag];
  if (typeof flagValue === "boolean") return flagValue as T; // only boolean specs declare boolean flags
  const envVar = envName(spec.flag);
  const envValue = env[envVar];
  const fileValue = file?.values.get(spec.flag);
  // An empty variable counts as unset, as shells and container runtimes often export them empty.
  const show = spec.shown ?? ((raw: string) => raw);
  const [raw, source, shown] =
    flagValue !== undefined
      ? [flagValue, `--${spec.flag}`, JSON.stringify(show(flagValue))]
      : envValue !== undefined && envValue !== ""
        ? [envValue, envVar, JSON.stringify(show(envValue))]
        : fileValue !== undefined && file !== undefined
          ? [fileValue.text, file.sourceOf(spec.flag), spec.shown === undefined ? fileValue.shown : JSON.stringify(show(fileValue.text))]
          : [];
  if (raw === undefined) return spec.default;
  try {
    return spec.parse(raw);
  } catch (error) {
    if (!(error instanceof RuleViolation)) throw error;
    const value = spec.secret === true ? "(secret, not shown)" : shown;
    const names = spec.envOnly === true ? `environment variable ${envVar}, which alone sets it` : `flag --${spec.flag}, environment variable ${envVar}`;
    throw new ConfigError(`Invalid value ${value} from ${source} (${names}): ${error.message}.`);
  }
}

function readAll<T>(specs: Specs<T>, flags: FlagValues, env: Env, file?: FileValues): T {
  const values: Partial<Record<keyof T, unknown>> = {};
  for (const key of Object.keys(specs) as (keyof T)[]) values[key] = readOption(specs[key], flags, env, file);
  return values as T;
}

/** Every option's spec by flag name. */
function specsByFlag(): ReadonlyMap<string, OptionSpec<unknown>> {
  const all = [
    ...Object.values(SERVER_SPECS),
    ...Object.values(SECURITY_SPECS),
    ...Object.values(LIMIT_SPECS),
    ...Object.values(MEMORY_SPECS),
    ...Object.values(PERSISTENCE_SPECS),
    ...Object.values(REDIS_SPECS),
  ] as OptionSpec<unknown>[];
  return new Map(all.map((spec) => [spec.flag, spec]));
}

/** The TOML type an option's value must have in the file, as messages name it. */
function expectedType(spec: OptionSpec<unknown>): string {
  switch (typeof spec.default) {
    case "boolean":
      return "a boolean (true or false)";
    case "number":
      return spec.fileAcceptsString === true ? 'an integer or a string with a unit (e.g. "512MiB")' : "an integer";
    default:
      return "a string";
  }
}

/** The file value as its option's parser reads it, or undefined if its TOML type is wrong. */
function fileText(spec: OptionSpec<unknown>, value: unknown): FileValue | undefined {
  switch (typeof spec.default) {
    case "boolean":
      return typeof value === "boolean" ? { text: String(value), shown: String(value) } : undefined;
    case "number":
      if (typeof value === "bigint") return { text: String(value), shown: String(value) };
      return spec.fileAcceptsString === true && typeof value === "string" ? { text: value, shown: JSON.stringify(value) } : undefined;
    default:
      return typeof value === "string" ? { text: value, shown: JSON.stringify(value) } : undefined;
  }
}

/** Edit distance of two short strings (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The option a mistyped key most likely meant (`--port`, `max_item_bytes`, `max-item-byte`). */
function closestKey(key: string, keys: readonly string[]): string | undefined {
  const normalized = key.toLowerCase().replace(/^-+/, "").replace(/_/g, "-");
  let best: { key: string; distance: number } | undefined;
  for (const candidate of keys) {
    const distance = editDistance(normalized, candidate);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** A scalar TOML value as messages show it; undefined for arrays and tables. */
function shownScalar(value: unknown): string | undefined {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean") return String(value);
  return value instanceof Date ? value.toISOString() : undefined;
}

/** Checks every key and value type of the file; the values themselves are checked by readOption. */
function fileValues(file: ConfigFile): FileValues {
  const where = `configuration file ${JSON.stringify(file.path)}`;
  const specs = specsByFlag();
  const values = new Map<string, FileValue>();
  for (const [key, value] of file.entries) {
    const spec = specs.get(key);
    const isTable = tomlTypeOf(value) === "a table";
    if (spec === undefined && isTable) {
      throw new ConfigError(
        `Unknown section [${key}] in ${where}: the file has no sections, every option is a top-level key named like its flag without the dashes (e.g. port = 42424).`,
      );
    }
    if (spec === undefined) {
      const suggestion = closestKey(key, [...specs.keys()]);
      const hint = suggestion === undefined ? "" : ` (did you mean ${suggestion}?)`;
      throw new ConfigError(
        `Unknown key ${JSON.stringify(key)} in ${where}${hint}: the keys are the flags of "stateward serve --help" without the dashes.`,
      );
    }
    if (spec.envOnly === true) {
      throw new ConfigError(
        `Key ${JSON.stringify(key)} in ${where} is not allowed: only the environment variable ${envName(spec.flag)} sets it (a secret kept out of files and the process list).`,
      );
    }
    if (spec.notInFile === true) {
      throw new ConfigError(`Key ${JSON.stringify(key)} in ${where} is not allowed: --${spec.flag} names the file itself; pass it as a flag or as ${envName(spec.flag)}.`);
    }
    const text = fileText(spec, value);
    if (text === undefined) {
      const shown = shownScalar(value);
      const got = spec.secret === true || shown === undefined ? tomlTypeOf(value) : `${tomlTypeOf(value)} (${shown})`;
      throw new ConfigError(`Wrong type for key ${JSON.stringify(key)} in ${where} (flag --${spec.flag}): expected ${expectedType(spec)}, got ${got}.`);
    }
    values.set(key, text);
  }
  return { sourceOf: (flag) => `key ${JSON.stringify(flag)} in ${where}`, values };
}

/**
 * A flag for an option only its variable sets (`--redis-password`) gets its own message, which
 * names the variable; never the value, which parseArgs would otherwise call a stray argument.
 */
function checkNoEnvOnlyFlag(argv: readonly string[]): void {
  for (const spec of specsByFlag().values()) {
    if (spec.envOnly !== true) continue;
    const flag = `--${spec.flag}`;
    if (argv.some((arg) => arg === flag || arg.startsWith(`${flag}=`))) {
      throw new ConfigError(`${flag} is not a flag: only the environment variable ${envName(spec.flag)} sets it (a flag would show the secret in the process list).`);
    }
  }
}

function both(spec: OptionSpec<unknown>): string {
  return `--${spec.flag} (${envName(spec.flag)})`;
}

function requireAtMost<T>(values: T, specs: Specs<T>, small: keyof T, large: keyof T): void {
  if ((values[small] as number) > (values[large] as number)) {
    throw new ConfigError(
      `${both(specs[small])} is ${String(values[small])} but must not exceed ${both(specs[large])}, which is ${String(values[large])}.`,
    );
  }
}

/** TLS options that go together, and the remote-access rule. */
function checkSecurity(server: ServerOnly, security: SecurityOnly): void {
  if ((security.tlsCert === "") !== (security.tlsKey === "")) {
    const [given, missing] = security.tlsCert === "" ? [SECURITY_SPECS.tlsKey, SECURITY_SPECS.tlsCert] : [SECURITY_SPECS.tlsCert, SECURITY_SPECS.tlsKey];
    throw new ConfigError(`${both(given)} is set but ${both(missing)} is not: TLS needs the certificate and its private key.`);
  }
  if (security.tlsClientCa !== "" && security.tlsCert === "") {
    throw new ConfigError(
      `${both(SECURITY_SPECS.tlsClientCa)} needs ${both(SECURITY_SPECS.tlsCert)} and ${both(SECURITY_SPECS.tlsKey)}: mutual TLS is TLS with client certificates.`,
    );
  }
  if (isLoopbackHost(server.host)) return;
  const where = `non-loopback address ${JSON.stringify(server.host)}`;
  if (!server.allowRemote) {
    throw new ConfigError(
      `Refusing to listen on ${where} without --allow-remote (STATEWARD_ALLOW_REMOTE=true). ` +
        "Remote access also needs TLS (--tls-cert and --tls-key) and an auth file (--auth-file); " +
        "or use a loopback address such as 127.0.0.1.",
    );
  }
  if (security.insecureRemote) return;
  const missing: string[] = [];
  if (security.tlsCert === "") {
    missing.push("TLS: add --tls-cert FILE --tls-key FILE (STATEWARD_TLS_CERT, STATEWARD_TLS_KEY), PEM files of the server's certificate and key");
  }
  if (security.authFile === "") {
    missing.push('an auth file: add --auth-file FILE (STATEWARD_AUTH_FILE) listing the principals; "stateward token create --name NAME" mints a token and prints its entry');
  }
  if (missing.length === 0) return;
  throw new ConfigError(
    `Refusing to listen on ${where}: remote access needs TLS and an auth file, and ${missing.length === 2 ? "both are" : "this one is"} missing. ` +
      `Missing ${missing.join("; and ")}. ` +
      "On a trusted network only, --insecure-remote (STATEWARD_INSECURE_REMOTE=true) starts without them.",
  );
}

/**
 * Resolves the server configuration. For each option the command-line flag wins over the
 * `STATEWARD_*` environment variable, which wins over the configuration file (`--config` or
 * `STATEWARD_CONFIG`), which wins over the default; every value is checked.
 *
 * @param argv - the arguments after `serve` (flags only, e.g. `["--port", "0"]`).
 * @param env - the environment (the CLI passes `process.env`; tests pass plain objects).
 * @param readFile - reads the configuration file; default `fs.readFileSync` as UTF-8.
 * @returns a deeply frozen {@link ServerConfig}.
 * @throws {@link ConfigError} for unknown flags, stray arguments, malformed or out-of-range values,
 * inconsistent limits, a non-loopback host without `--allow-remote` and without TLS and an auth file (or `--insecure-remote`), TLS options that do not go together, or a configuration file that
 * cannot be read, is not TOML, or has an unknown key or a value of the wrong type.
 */
export function resolveConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, readFile?: ReadTextFile): ServerConfig {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const spec of specsByFlag().values()) {
    if (spec.envOnly === true) continue;
    options[spec.flag] = { type: typeof spec.default === "boolean" ? "boolean" : "string" };
  }
  checkNoEnvOnlyFlag(argv);
  let flags: FlagValues;
  try {
    // allowNegative lets `--no-allow-remote` override STATEWARD_ALLOW_REMOTE=true.
    flags = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, allowNegative: true }).values;
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }

  const configFile = readOption(SERVER_SPECS.configFile, flags, env);
  const configSource = flags[SERVER_SPECS.configFile.flag] !== undefined ? `--${SERVER_SPECS.configFile.flag}` : envName(SERVER_SPECS.configFile.flag);
  const file = configFile === "" ? undefined : fileValues(readConfigFile(configFile, configSource, readFile));
  const server = readAll(SERVER_SPECS, flags, env, file);
  const security = readAll(SECURITY_SPECS, flags, env, file);
  const limits = readAll(LIMIT_SPECS, flags, env, file);
  const memory = readAll(MEMORY_SPECS, flags, env, file);
  const persistence = readAll(PERSISTENCE_SPECS, flags, env, file);
  const redis = readAll(REDIS_SPECS, flags, env, file);
  if (server.backend === "redis" && persistence.dataDir !== "") {
    throw new ConfigError(
      `${both(PERSISTENCE_SPECS.dataDir)} is set with --backend redis: the data directory is the memory backend's; Redis keeps its own (appendonly, save).`,
    );
  }

  requireAtMost(limits, LIMIT_SPECS, "defaultTtlSeconds", "maxTtlSeconds");
  requireAtMost(limits, LIMIT_SPECS, "defaultLockLeaseMs", "maxLockLeaseMs");
  requireAtMost(memory, MEMORY_SPECS, "expirySliceBudgetMs", "expiryIntervalMs");
  if (server.backend === "memory" && limits.maxItemBytes > memory.maxMemoryBytes) {
    throw new ConfigError(
      `${both(LIMIT_SPECS.maxItemBytes)} is ${limits.maxItemBytes} but must not exceed ${both(MEMORY_SPECS.maxMemoryBytes)}, which is ${memory.maxMemoryBytes}.`,
    );
  }

  if (server.metricsPort !== 0 && server.metricsPort === server.port) {
    throw new ConfigError(
      `${both(SERVER_SPECS.metricsPort)} is ${server.metricsPort}, the same as ${both(SERVER_SPECS.port)}: the metrics endpoint needs a port of its own.`,
    );
  }

  if (server.healthPort !== 0 && server.healthPort === server.port) {
    throw new ConfigError(
      `${both(SERVER_SPECS.healthPort)} is ${server.healthPort}, the same as ${both(SERVER_SPECS.port)}: the health checks need a port of their own.`,
    );
  }
  if (server.healthPort !== 0 && server.healthPort === server.metricsPort) {
    throw new ConfigError(
      `${both(SERVER_SPECS.healthPort)} is ${server.healthPort}, the same as ${both(SERVER_SPECS.metricsPort)}, which serves /healthz and /readyz already: leave --health-port at 0, or give it a port of its own.`,
    );
  }

  checkSecurity(server, security);

  return Object.freeze({ ...server, ...security, limits: Object.freeze(limits), memory: Object.freeze(memory), persistence: Object.freeze(persistence), redis: Object.freeze(redis) });
}
