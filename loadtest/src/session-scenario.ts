/**
 * The get, lock-set and mixed scenarios against Stateward or the Redis baseline, with the Node
 * generator (or h2load for Stateward's Get). Pools are preloaded once per server.
 */
import { GetRequest } from "@stateward/protocol";
import type { CliOptions } from "./args";
import { durationFlag, payloadFlag, reproduceCommand } from "./command-line";
import { frameGrpcMessage } from "./grpc-framing";
import { intervalMsOf } from "./interval-timeline";
import { GrpcUnarySessionOps } from "./grpc-unary-session-ops";
import { runH2load } from "./native-h2load";
import { loadShapeOf, preloadPool, runNodeLoad } from "./node-run";
import { formatPayloadSpec } from "./payloads";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import { poolPrefix, SCENARIO_DEFAULTS } from "./scenario-defaults";
import { REDIS_CLIENT_TITLES, type RedisClientName, type TargetSpec } from "./target-spec";
import { plural } from "./plural";

/** The app of every key the tool writes. */
export const LOADTEST_APP = "loadtest";

/** Session scenarios. */
export type SessionScenario = "get" | "set" | "lock-set" | "mixed";

const TARGET_TITLES: Readonly<Record<string, string>> = { stateward: "Stateward", redis: "Redis + Lua (ioredis)", echo: "echo baseline" };


/**
 * The id's target part of a run: `stateward`, `redis` for the ioredis + Lua baseline (the ids
 * the issue-3 targets name), or the node-redis peer's client name.
 */
export function runTargetLabel(kind: "stateward" | "redis", client: RedisClientName): string {
  return kind === "stateward" || client === "ioredis-lua" ? kind : client;
}

/** Pools already written, per server (address and pid: a later server may reuse a port). */
const preloaded = new Set<string>();

/** Writes the pool of `scenario` into `target` unless it is there already. */
export async function ensurePool(
  context: RunContext,
  targetSpec: TargetSpec,
  size: number,
  payload: { minBytes: number; maxBytes: number },
  serverPid: number | undefined,
): Promise<void> {
  const prefix = poolPrefix(size, payload);
  const key = `${targetSpec.addresses.join(",")}|${serverPid ?? "?"}|${prefix}`;
  if (preloaded.has(key)) return;
  const options = context.options;
  const result = await preloadPool(
    targetSpec,
    { prefix, size },
    payload,
    { workers: Math.max(options.workers, 2), channels: 2, inFlight: 64, maxMs: 15 * 60_000 },
    context.progress,
  );
  const failed = Object.values(result.errors).reduce((sum, count) => sum + count, 0);
  if (failed > 0) throw new Error(`preloading the pool failed for ${plural(failed, "session")}: ${JSON.stringify(result.errors)}`);
  preloaded.add(key);
}

function targetSpec(kind: "stateward" | "redis", target: LoadTarget, options: CliOptions): TargetSpec {
  return kind === "redis"
    ? { kind: "redis", addresses: target.addresses, app: LOADTEST_APP, client: options.redisClient }
    : {
        kind: "stateward",
        addresses: target.addresses,
        transport: options.transport,
        app: LOADTEST_APP,
        ...(target.security === undefined ? {} : { security: target.security }),
        ...(options.sdkPollUs === undefined ? {} : { sdkPollUs: options.sdkPollUs }),
      };
}

/** Runs one session scenario on an already started target. */
export async function runSessionScenario(
  context: RunContext,
  scenario: SessionScenario,
  kind: "stateward" | "redis",
  target: LoadTarget,
  generator: "node" | "h2load" = context.options.generator,
  durationMs: number = context.options.durationMs,
): Promise<RunResult> {
  const options = { ...context.options, durationMs };
  const defaults = SCENARIO_DEFAULTS[scenario];
  const pool = options.pool ?? defaults.pool;
  const payload = options.payload ?? defaults.payload;
  const spec = targetSpec(kind, target, options);
  await ensurePool(context, spec, pool, payload, target.observed?.pid);
  const label = runTargetLabel(kind, options.redisClient);
  const idBase = `${scenario}-${label}-${generator}`;
  if (generator === "h2load") {
    if (kind !== "stateward" || scenario !== "get") throw new Error("h2load drives Stateward's get only");
    if (target.security !== undefined) throw new Error("h2load cannot load a TLS + token server (it sends neither the CA nor the token)");
    const address = target.addresses[0] ?? "";
    const sessionId = `${poolPrefix(pool, payload)}0`;
    // h2load cannot read grpc-status: check once that this exact request succeeds.
    const check = new GrpcUnarySessionOps(address, LOADTEST_APP);
    try {
      const outcome = await check.get(sessionId);
      if (outcome !== "OK") throw new Error(`the h2load request's session answers ${outcome}`);
    } finally {
      check.close();
    }
    const connections = options.channels * options.workers;
    return runH2load({
      id: idBase,
      title: `get · ${TARGET_TITLES[kind]} · h2load`,
      scenario,
      targetLabel: kind,
      unit: defaults.unit,
      command: reproduceCommand(scenario, {
        generator: "h2load",
        duration: durationFlag(options.durationMs),
        warmup: durationFlag(options.warmupMs),
        "in-flight": options.inFlight,
        channels: connections,
      }),
      address,
      path: "/stateward.v1.SessionState/Get",
      body: frameGrpcMessage(GetRequest.encode({ app: LOADTEST_APP, sessionId, waitMs: 0 }).finish()),
      connections,
      inFlight: options.inFlight,
      threads: 1,
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      intervalMs: intervalMsOf(options),
      payload: formatPayloadSpec(payload),
      ...(target.observed === undefined ? {} : { server: target.observed }),
      gcSource: target.gcSource,
    });
  }
  const secure = kind === "stateward" && target.security !== undefined;
  const sdkPollUs = kind === "stateward" && options.transport === "pipeline" ? options.sdkPollUs : undefined;
  const transport =
    kind === "stateward" ? ` (${options.transport}${secure ? ", TLS + token" : ""}${sdkPollUs === undefined ? "" : `, SDK poll ${sdkPollUs} µs`})` : "";
  return runNodeLoad({
    id: `${kind === "stateward" ? `${idBase}-${options.transport}` : idBase}${secure ? "-tls-token" : ""}${sdkPollUs === undefined ? "" : `-sdk-poll-${sdkPollUs}`}${options.mode === "open" ? "-open" : ""}`,
    title: `${scenario} · ${kind === "redis" ? REDIS_CLIENT_TITLES[options.redisClient] : TARGET_TITLES[kind]} · Node${transport}${options.mode === "open" ? ` · open loop ${options.rate ?? 0}/s` : ""}`,
    scenario,
    targetLabel: label,
    unit: defaults.unit,
    command: reproduceCommand(scenario, {
      target: label,
      ...(kind === "stateward" ? { transport: options.transport } : {}),
      ...(secure ? { security: "tls-token" } : {}),
      ...(sdkPollUs === undefined ? {} : { "sdk-poll-us": sdkPollUs }),
      duration: durationFlag(options.durationMs),
      warmup: durationFlag(options.warmupMs),
      ...(options.requests === undefined ? {} : { requests: options.requests }),
      "in-flight": options.inFlight,
      channels: options.channels,
      workers: options.workers,
      ...(options.mode === "open" ? { mode: "open", rate: options.rate } : {}),
      payload: payloadFlag(payload),
      pool,
      ...(scenario === "mixed" ? { "write-ratio": options.writeRatio, "think-ms": options.thinkMs } : {}),
    }),
    workload: scenario,
    target: spec,
    ...loadShapeOf(options),
    payload,
    pool: { prefix: poolPrefix(pool, payload), size: pool },
    writeRatio: options.writeRatio,
    thinkMs: options.thinkMs,
    leaseMs: options.leaseMs,
    ...(target.observed === undefined ? {} : { server: target.observed }),
    ...(target.peer === undefined ? {} : { peer: target.peer }),
    gcSource: target.gcSource,
    progress: context.progress,
  });
}
