/**
 * The command line of `stateward-loadtest`: parsing and validation into {@link CliOptions}, and the
 * usage text. Pure: no I/O, so every rule is unit-tested.
 */
import { parseArgs } from "node:util";
import { MAX_POLL_WINDOW_US } from "@stateward/protocol";
import { DURABILITY_DEFAULT_SESSIONS } from "./durability-runs";
import { parsePayloadSpec, type PayloadSpec } from "./payloads";
import { REDIS_CLIENTS, SECURITY_MODES, TRANSPORTS, type RedisClientName, type SecurityMode, type TransportName } from "./target-spec";

/** Scenarios of the CLI. `suite` is the standard set that `make bench` runs. */
export const SCENARIOS = ["get", "set", "lock-set", "mixed", "contention", "resident", "echo", "suite"] as const;

/** One of {@link SCENARIOS}. */
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * Groups of the suite, in the order it runs them; `--only` picks some (each group starts and stops
 * its own servers, so any subset measures the same runs as the whole suite). `redis-backend`,
 * `redis-handoff` and `memory-regression` are issue 14's: Stateward over Redis against the direct
 * Redis baseline, the contended handoff across two nodes over one Redis, and the memory backend of
 * this build against a reference build (`--reference-cli`). `durability` is issue 15's: the memory
 * backend with `--data-dir` (`--fsync everysec` and `always` against memory only, the restart time
 * and the longest pause during a snapshot of `--durability-sessions` sessions). `peers` is issue
 * 16's: Stateward over the Pipeline against node-redis + Lua, ioredis + Lua and node-redis plain
 * GET/SET on one redis-server, alternating, and the p99 at 70 % of the strongest peer's rate.
 * `go-caller` is issue 16's too: a Go program (loadtest/go, built with `go build`) loading
 * Stateward through the Go SDK and Redis through go-redis (GET, and EVALSHA of the Lua Get
 * script), alternating.
 */
export const SUITE_GROUPS = ["echo", "unary", "pipeline", "redis", "resident", "tls", "peers", "redis-backend", "redis-handoff", "memory-regression", "durability", "go-caller"] as const;

/** Groups that start their own servers (certificates, Redis, a reference build): never with --address. */
const SELF_STARTING_GROUPS: readonly SuiteGroup[] = ["tls", "peers", "redis-backend", "redis-handoff", "memory-regression", "durability", "go-caller"];

/** One of {@link SUITE_GROUPS}. */
export type SuiteGroup = (typeof SUITE_GROUPS)[number];

/** Everything the command line sets. */
export interface CliOptions {
  readonly scenario: ScenarioName;
  /** `stateward` or the `redis` baseline (get, set, lock-set, mixed). */
  readonly target: "stateward" | "redis";
  /**
   * With `--target redis`: the peer's client (`--target node-redis-lua` and `--target
   * node-redis-plain` set target `redis` and this; `--target redis` is `ioredis-lua`).
   */
  readonly redisClient: RedisClientName;
  /** Servers to load; empty: the tool starts its own. */
  readonly addresses: readonly string[];
  /** Pid of a server given by address, for its CPU time and RSS. */
  readonly serverPid?: number;
  /** `node` (the Node generator) or `h2load` (native; get and echo). */
  readonly generator: "node" | "h2load";
  /** Transport of the Node generator to Stateward. */
  readonly transport: TransportName;
  /** Plaintext, or TLS with a token (a server the tool starts with certificates and an auth file). */
  readonly security: SecurityMode;
  /** Suite: the groups to run (default all of {@link SUITE_GROUPS}). */
  readonly only: readonly SuiteGroup[];
  /** Measured phase, ms. */
  readonly durationMs: number;
  /** Warm-up, ms. */
  readonly warmupMs: number;
  /** Count mode: measured requests (the duration still bounds the run). */
  readonly requests?: number;
  /** Requests in flight per channel. */
  readonly inFlight: number;
  /** Channels (connections) per worker. */
  readonly channels: number;
  /** Worker threads. */
  readonly workers: number;
  readonly mode: "closed" | "open";
  /** Open loop: total arrivals per second. */
  readonly rate?: number;
  /** Payload size or range; undefined: the scenario's default. */
  readonly payload?: PayloadSpec;
  /** Session pool size; undefined: the scenario's default. */
  readonly pool?: number;
  /** Share of writing requests in mixed. */
  readonly writeRatio: number;
  /** Think time between Lock and Set in mixed, ms. */
  readonly thinkMs: number;
  /** The pipeline transport's SDK polling window (`PipelineClient` `pollMicros`), µs; undefined: the SDK's default. */
  readonly sdkPollUs?: number;
  /** Lock lease, ms (0: server default). */
  readonly leaseMs: number;
  /** Contention: clients taking turns. */
  readonly clients: number;
  /** Contention: the polling way's retry period, ms. */
  readonly pollMs: number;
  /** Contention: work inside the critical section, ms. */
  readonly workMs: number;
  /** Resident: sessions preloaded. */
  readonly residentSessions: number;
  /** Resident: their payload. */
  readonly residentPayload: PayloadSpec;
  /** Suite, durability: sessions of 1 KiB written before the restart and snapshotted after it. */
  readonly durabilitySessions: number;
  /** Interval of the time line (throughput, latency p50/p99, GC pauses), ms; undefined: chosen from the duration. */
  readonly intervalMs?: number;
  /** Where report.json and report.html go. */
  readonly outDir: string;
  /** Progress line: true/false forced; undefined: when stderr is a terminal. */
  readonly progress?: boolean;
  /** Extra flags for a Stateward server the tool starts. */
  readonly serverArgs: readonly string[];
  /** Node/V8 flags for a Stateward server the tool starts (before its script, e.g. heap sizes). */
  readonly serverNodeArgs: readonly string[];
  /** The Stateward CLI script a started server runs; undefined: server/dist/cli.js of this repository. */
  readonly serverCli?: string;
  /**
   * Suite, `memory-regression`: the CLI script of the reference build the memory backend of this
   * build is compared with (`make bench` builds it from BENCH_REF); without it the group is left out.
   */
  readonly referenceCli?: string;
  /** Suite: where to write the Markdown summary. */
  readonly markdown?: string;
  /** Suite: a Markdown file of server findings appended to the summary. */
  readonly findings?: string;
  readonly help: boolean;
}

/** A usage error; the message says which option and why. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/** Parses `500ms`, `10s`, `2m` or a plain number of seconds into ms. */
export function parseDuration(text: string, option: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)?$/.exec(text.trim());
  if (match === null) throw new UsageError(`--${option} "${text}": expected a duration such as 500ms, 10s or 2m`);
  const value = Number(match[1]) * (DURATION_UNITS[match[2] ?? "s"] ?? 1000);
  if (!Number.isFinite(value) || value > 24 * 3_600_000) throw new UsageError(`--${option} "${text}": at most 24 h`);
  return Math.round(value);
}

function integer(text: string | undefined, option: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim().replace(/_/g, "");
  const value = /^[0-9]+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${option} "${text}": expected an integer from ${min} to ${max}`);
  }
  return value;
}

function ratio(text: string | undefined, option: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) throw new UsageError(`--${option} "${text}": expected a number from 0 to 1`);
  return value;
}

function choice<T extends string>(text: string | undefined, option: string, choices: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  const found = choices.find((candidate) => candidate === text);
  if (found === undefined) throw new UsageError(`--${option} "${text}": expected one of ${choices.join(", ")}`);
  return found;
}

function payload(text: string | undefined, option: string): PayloadSpec | undefined {
  if (text === undefined) return undefined;
  try {
    return parsePayloadSpec(text);
  } catch (error) {
    throw new UsageError(`--${option}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Every address must be on the loopback range: the tool never sends load anywhere else. */
function loopbackAddress(text: string): string {
  const match = /^(\[::1\]|localhost|127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}):([0-9]{1,5})$/.exec(text.trim());
  if (match === null) throw new UsageError(`--address "${text}": expected a loopback host:port (127.x.x.x, localhost or [::1])`);
  return text.trim();
}

/**
 * `--only echo,tls`: the suite groups, each at most once, in the suite's order. Without `--only`,
 * every group but `memory-regression` when there is no reference build to compare with.
 */
function onlyGroups(text: string | undefined, hasReference: boolean): readonly SuiteGroup[] {
  if (text === undefined) return SUITE_GROUPS.filter((group) => hasReference || group !== "memory-regression");
  const names = text.split(",").map((name) => name.trim()).filter((name) => name !== "");
  if (names.length === 0) throw new UsageError(`--only "${text}": expected groups of ${SUITE_GROUPS.join(", ")}, comma-separated`);
  for (const name of names) choice(name, "only", SUITE_GROUPS, "echo");
  return SUITE_GROUPS.filter((group) => names.includes(group));
}

/** Parses the arguments after the program name. */
export function parseCliArgs(argv: readonly string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: "boolean", short: "h" },
        target: { type: "string" },
        address: { type: "string", multiple: true },
        "server-pid": { type: "string" },
        generator: { type: "string" },
        transport: { type: "string" },
        security: { type: "string" },
        only: { type: "string" },
        duration: { type: "string", short: "d" },
        warmup: { type: "string" },
        requests: { type: "string", short: "n" },
        "in-flight": { type: "string", short: "c" },
        channels: { type: "string" },
        workers: { type: "string", short: "w" },
        mode: { type: "string" },
        rate: { type: "string", short: "r" },
        payload: { type: "string" },
        pool: { type: "string" },
        "write-ratio": { type: "string" },
        "think-ms": { type: "string" },
        "sdk-poll-us": { type: "string" },
        "lease-ms": { type: "string" },
        clients: { type: "string" },
        "poll-ms": { type: "string" },
        "work-ms": { type: "string" },
        "resident-sessions": { type: "string" },
        "resident-payload": { type: "string" },
        "durability-sessions": { type: "string" },
        "interval-ms": { type: "string" },
        out: { type: "string", short: "o" },
        progress: { type: "boolean" },
        "no-progress": { type: "boolean" },
        "server-arg": { type: "string", multiple: true },
        "server-node-arg": { type: "string", multiple: true },
        "server-cli": { type: "string" },
        "reference-cli": { type: "string" },
        markdown: { type: "string" },
        findings: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values;
  const help = values.help === true;
  const [scenarioText, ...extra] = parsed.positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0] ?? ""}"`);
  if (scenarioText === undefined && !help) throw new UsageError(`missing scenario: one of ${SCENARIOS.join(", ")}`);
  const scenario = choice(scenarioText, "scenario", SCENARIOS, "get");
  const mode = choice(values.mode, "mode", ["closed", "open"] as const, "closed");
  const rate = integer(values.rate, "rate", 1, 10_000_000);
  if (mode === "open" && rate === undefined) throw new UsageError("--mode open needs --rate (arrivals per second)");
  if (mode === "closed" && rate !== undefined) throw new UsageError("--rate needs --mode open");
  const generator = choice(values.generator, "generator", ["node", "h2load"] as const, "node");
  if (generator === "h2load" && scenario !== "get" && scenario !== "echo") {
    throw new UsageError("--generator h2load drives get and echo only (one fixed request body per run)");
  }
  if (generator === "h2load" && mode === "open") throw new UsageError("--generator h2load runs closed loop only");
  const targetName = choice(values.target, "target", ["stateward", "redis", ...REDIS_CLIENTS] as const, "stateward");
  const target = targetName === "stateward" ? "stateward" : "redis";
  const redisClient: RedisClientName = targetName === "stateward" || targetName === "redis" ? "ioredis-lua" : targetName;
  if (target === "redis" && !["get", "set", "lock-set", "mixed"].includes(scenario)) {
    throw new UsageError(`--target ${targetName} applies to get, set, lock-set and mixed`);
  }
  const security = choice(values.security, "security", SECURITY_MODES, "plaintext");
  if (security === "tls-token") {
    if (!["get", "set", "lock-set", "mixed"].includes(scenario) || target !== "stateward") {
      throw new UsageError("--security tls-token applies to get, set, lock-set and mixed against Stateward (the suite compares both itself)");
    }
    if (generator === "h2load") throw new UsageError("--security tls-token needs the Node generator (h2load sends neither the CA nor the token)");
    if ((values.address ?? []).length > 0) {
      throw new UsageError("--security tls-token starts its own server (it makes the certificates, the token and the auth file): not with --address");
    }
  }
  const only = onlyGroups(values.only, values["reference-cli"] !== undefined);
  if (values.only !== undefined && scenario !== "suite") throw new UsageError("--only applies to the suite");
  const selfStarting = only.filter((group) => SELF_STARTING_GROUPS.includes(group));
  if (scenario === "suite" && selfStarting.length > 0 && (values.address ?? []).length > 0) {
    throw new UsageError(
      `the suite's ${selfStarting.join(", ")} group${selfStarting.length > 1 ? "s start their" : " starts its"} own servers (certificates, token, auth file; Redis; a reference build): with --address, give --only without ${SELF_STARTING_GROUPS.join(", ")}`,
    );
  }
  if (values["reference-cli"] !== undefined && scenario !== "suite") throw new UsageError("--reference-cli applies to the suite (its memory-regression group)");
  if (only.includes("memory-regression") && values["reference-cli"] === undefined) {
    throw new UsageError("the memory-regression group needs --reference-cli PATH (the reference build's server/dist/cli.js; make bench builds it from BENCH_REF)");
  }
  if (values.progress === true && values["no-progress"] === true) throw new UsageError("--progress and --no-progress contradict each other");
  const serverPid = integer(values["server-pid"], "server-pid", 1, 2 ** 22);
  return {
    scenario,
    target,
    redisClient,
    addresses: (values.address ?? []).flatMap((item) => item.split(",")).filter((item) => item.trim() !== "").map(loopbackAddress),
    ...(serverPid === undefined ? {} : { serverPid }),
    generator,
    transport: choice(values.transport, "transport", TRANSPORTS, "unary"),
    security,
    only,
    durationMs: values.duration === undefined ? 10_000 : parseDuration(values.duration, "duration"),
    warmupMs: values.warmup === undefined ? 2_000 : parseDuration(values.warmup, "warmup"),
    ...(values.requests === undefined ? {} : { requests: integer(values.requests, "requests", 1, 1_000_000_000) }),
    inFlight: integer(values["in-flight"], "in-flight", 1, 10_000) ?? 32,
    channels: integer(values.channels, "channels", 1, 256) ?? 1,
    workers: integer(values.workers, "workers", 1, 64) ?? 1,
    mode,
    ...(rate === undefined ? {} : { rate }),
    ...(values.payload === undefined ? {} : { payload: payload(values.payload, "payload") }),
    ...(values.pool === undefined ? {} : { pool: integer(values.pool, "pool", 1, 100_000_000) }),
    writeRatio: ratio(values["write-ratio"], "write-ratio", 0.2),
    thinkMs: integer(values["think-ms"], "think-ms", 0, 60_000) ?? 1,
    ...(values["sdk-poll-us"] === undefined ? {} : { sdkPollUs: integer(values["sdk-poll-us"], "sdk-poll-us", 0, MAX_POLL_WINDOW_US) }),
    leaseMs: integer(values["lease-ms"], "lease-ms", 0, 3_600_000) ?? 0,
    clients: integer(values.clients, "clients", 2, 50) ?? 8,
    pollMs: integer(values["poll-ms"], "poll-ms", 1, 60_000) ?? 500,
    workMs: integer(values["work-ms"], "work-ms", 0, 60_000) ?? 0,
    residentSessions: integer(values["resident-sessions"], "resident-sessions", 1, 100_000_000) ?? 1_000_000,
    residentPayload: payload(values["resident-payload"], "resident-payload") ?? { minBytes: 1024, maxBytes: 1024 },
    durabilitySessions: integer(values["durability-sessions"], "durability-sessions", 1_000, 100_000_000) ?? DURABILITY_DEFAULT_SESSIONS,
    ...(values["interval-ms"] === undefined ? {} : { intervalMs: integer(values["interval-ms"], "interval-ms", 10, 60_000) }),
    outDir: values.out ?? ".bench/latest",
    ...(values.progress === true ? { progress: true } : values["no-progress"] === true ? { progress: false } : {}),
    ...(values["server-cli"] === undefined ? {} : { serverCli: values["server-cli"] }),
    ...(values["reference-cli"] === undefined ? {} : { referenceCli: values["reference-cli"] }),
    serverArgs: (values["server-arg"] ?? []).flatMap((item) => item.split(/\s+/)).filter((item) => item !== ""),
    serverNodeArgs: (values["server-node-arg"] ?? []).flatMap((item) => item.split(/\s+/)).filter((item) => item !== ""),
    ...(values.markdown === undefined ? {} : { markdown: values.markdown }),
    ...(values.findings === undefined ? {} : { findings: values.findings }),
    help,
  };
}

/** The usage text of `stateward-loadtest --help`. */
export function usageText(): string {
  return `Usage: stateward-loadtest <scenario> [options]

Scenarios:
  get          Get of a session from a pool (read-only requests)
  set          unlocked Set of a session from a pool (the write path without the lock)
  lock-set     Lock then Set-with-release (the write path of one ASP.NET request)
  mixed        80 % Get, 20 % Lock + think time + Set; payloads 1-16 KiB; pool of 100 k sessions
  contention   N clients take turns on one session: Lock(wait) vs the ASP.NET 500 ms polling way
  resident     mixed on an empty store, then with 1 M sessions of 1 KiB loaded (p99.9, RSS, GC)
  echo         the echo baseline: a bare grpc-js unary Echo(bytes) server (the transport's limit)
  suite        the standard set of make bench, with the baselines; writes --markdown
               (--only GROUP,... runs some of its groups: echo, unary, pipeline, redis, resident, tls,
               peers, redis-backend, redis-handoff, memory-regression, durability, go-caller;
               go-caller builds loadtest/go and needs Go on PATH)
  soak         long mixed load with RSS-growth and leftover-lock verdicts (make soak; own options:
               stateward-loadtest soak --help)

Target:
  --target stateward|redis|ioredis-lua|node-redis-lua|node-redis-plain
                                what get/set/lock-set/mixed load (default stateward); redis (same as
                                ioredis-lua): the ASP.NET provider's Lua protocol via ioredis, no
                                auto-pipelining; node-redis-lua: the same scripts by EVALSHA via
                                node-redis (same-tick auto-pipelining); node-redis-plain: GET/SET via
                                node-redis without the atomic lock check (the floor of Redis)
  --address HOST:PORT           load a running server (repeatable or comma-separated; loopback only);
                                default: the tool starts its own on a free loopback port
  --server-pid PID              with --address: the server's pid, for its CPU time and RSS
  --server-arg="FLAGS"          extra flags of a Stateward server the tool starts (repeatable; use =)
  --server-cli PATH             the server script it runs (default server/dist/cli.js of this repository)
  --reference-cli PATH          suite: the reference build's server/dist/cli.js for memory-regression
                                (its memory backend against this build's; without it the group is left out)
  --server-node-arg="FLAGS"     Node/V8 flags of a server it starts, before the script (repeatable; use =),
                                e.g. --server-node-arg=--initial-old-space-size=256
  --security plaintext|tls-token
                                get/set/lock-set/mixed: tls-token starts the server with TLS and an auth file
                                (throw-away certificates from tools/test-certs, a token from "token
                                create"); its clients trust the CA and send the token as call
                                credentials                                 default plaintext

Load:
  --generator node|h2load       Node generator (default) or native h2load (get, echo)
  --transport unary|pipeline    Node generator's transport to Stateward (pipeline: batched stream)
  -d, --duration 10s            measured phase (also bounds count mode)      default 10s
  --warmup 2s                   unrecorded warm-up before it                 default 2s
  -n, --requests N              count mode: stop after N measured requests
  -c, --in-flight N             requests in flight per channel               default 32
  --channels N                  channels (connections) per worker            default 1
  -w, --workers N               worker threads                               default 1
                                concurrency = in-flight x channels x workers
  --mode closed|open            closed loop (fixed concurrency, default) or open loop (fixed rate;
                                latency from the intended send time: no coordinated omission)
  -r, --rate N                  open loop: arrivals per second (in-flight x channels x workers caps it)
  --payload SIZE|MIN-MAX        e.g. 1KiB or 1-16KiB (uniform)               default per scenario
  --pool N                      session pool size                            default 10000 (mixed 100000)
  --write-ratio R               mixed: share of writing requests             default 0.2
  --think-ms N                  mixed: think time between Lock and Set       default 1
  --sdk-poll-us N               get, set, lock-set, mixed over --transport pipeline: the SDK's
                                event-loop polling window (PipelineClient pollMicros, 0 = off;
                                the server's: its --pipeline-poll-us)       default the SDK's (500)
  --lease-ms N                  lock lease (0: server default)               default 0
  --clients N                   contention: clients on the session           default 8
  --poll-ms N                   contention: polling period                   default 500
  --work-ms N                   contention: work inside the critical section default 0
  --resident-sessions N         resident: sessions loaded                    default 1000000
  --resident-payload SIZE       resident: their payload                      default 1KiB
  --durability-sessions N       suite, durability: sessions of 1 KiB written, restarted and
                                snapshotted (restart time, replay RSS, snapshot pause)  default 1000000

Output:
  -o, --out DIR                 report.json and report.html go there         default .bench/latest
  --interval-ms N               time-line interval (throughput, latency p50/p99 and server GC over time)
                                default: 100 ms to 60 s, the longest that gives at least 40 intervals
  --progress / --no-progress    live progress line on stderr (default: when it is a terminal)
  --markdown FILE               suite: write the benchmark summary there (e.g. BENCHMARKS.md)
  --findings FILE               suite: Markdown notes on the server appended to that summary
`;
}
