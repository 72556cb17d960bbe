/**
 * The suite's `go-caller` group (issue 16): the caller is a Go program (loadtest/go, built once
 * into a temporary directory), closed loop at the command line's concurrency over a pool of 1 KiB
 * sessions. One Stateward server and one redis-server alive at once; the sides, the Go SDK over
 * each transport it offers (its default first) and go-redis GET and EVALSHA of the load tester's
 * Lua Get script (written from redis-lua-scripts.ts into a file the driver reads, so the script has
 * one source), alternate in {@link GO_CALLER_ROUNDS} rounds (in order, then reversed). Each side's
 * rounds are merged; the judged Stateward run also gets the spread of its per-round ratios.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { suiteGroupCommand } from "./alternating-runs";
import { buildGoDriver, goDriverRunResult, goDriverTransports, runGoDriver, type GoDriverTarget } from "./go-driver";
import {
  GO_CALLER_JUDGED_EXTRA,
  GO_CALLER_REDIS_SIDES,
  GO_CALLER_ROUNDS,
  goCallerRatioExtras,
  goCallerRedisRunId,
  goCallerStatewardRunId,
} from "./go-caller-runs";
import { intervalMsOf } from "./interval-timeline";
import { formatPayloadSpec } from "./payloads";
import { REDIS_GET_SCRIPT } from "./redis-lua-scripts";
import { REDIS_DEFAULT_TTL_SECONDS, redisSessionKeys } from "./redis-session-ops";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import { mergeRunSlices } from "./run-merge";
import { poolPrefix, SCENARIO_DEFAULTS } from "./scenario-defaults";
import { LOADTEST_APP } from "./session-scenario";
import { LATER_SLICE_WARMUP_MS } from "./tls-comparison-runs";

interface Side {
  readonly id: string;
  readonly title: string;
  readonly target: GoDriverTarget;
  readonly transport?: string;
  readonly server: LoadTarget;
}

const TITLES: Readonly<Record<GoDriverTarget, string>> = {
  stateward: "Stateward · Go SDK",
  "redis-get": "Redis plain GET · go-redis",
  "redis-evalsha": "Redis + Lua EVALSHA · go-redis",
};

/** Runs the group; returns the Stateward runs (per transport, the default first), then go-redis GET and EVALSHA. */
export async function runGoCallerGroup(context: RunContext): Promise<RunResult[]> {
  const options = context.options;
  const payload = options.payload ?? SCENARIO_DEFAULTS.get.payload;
  if (payload.minBytes !== payload.maxBytes) throw new Error("the go-caller group needs one payload size (--payload SIZE), not a range");
  const pool = options.pool ?? SCENARIO_DEFAULTS.get.pool;
  const dir = mkdtempSync(path.join(os.tmpdir(), "stateward-go-caller-"));
  const servers: LoadTarget[] = [];
  try {
    const binary = await buildGoDriver(dir);
    const transports = await goDriverTransports(binary);
    const luaScriptFile = path.join(dir, "redis-get.lua");
    writeFileSync(luaScriptFile, REDIS_GET_SCRIPT);
    const stateward = await context.stateward("plaintext", {});
    servers.push(stateward);
    const redis = await context.redis(true);
    servers.push(redis);
    const sides: Side[] = [
      ...transports.map((transport) => ({ id: goCallerStatewardRunId(transport), title: `${TITLES.stateward} (${transport})`, target: "stateward" as const, transport, server: stateward })),
      ...GO_CALLER_REDIS_SIDES.map((side) => ({ id: goCallerRedisRunId(side), title: TITLES[side], target: side, server: redis })),
    ];
    const command = suiteGroupCommand("go-caller", options, pool === SCENARIO_DEFAULTS.get.pool ? {} : { pool });
    const concurrency = options.inFlight * options.channels * options.workers;
    const totalMs = Math.max(options.durationMs, 500 * GO_CALLER_ROUNDS);
    const roundMs = (round: number): number => Math.round(((round + 1) * totalMs) / GO_CALLER_ROUNDS) - Math.round((round * totalMs) / GO_CALLER_ROUNDS);
    const seeded = new Set<LoadTarget>();
    const slices: RunResult[][] = sides.map(() => []);
    const order = sides.map((_, index) => index);
    for (let round = 0; round < GO_CALLER_ROUNDS; round++) {
      for (const index of round % 2 === 0 ? order : [...order].reverse()) {
        const side = sides[index] as Side;
        const durationMs = roundMs(round);
        const server = side.server;
        const measured = await runGoDriver(
          binary,
          {
            target: side.target,
            address: server.addresses[0] ?? "",
            ...(side.transport === undefined ? {} : { transport: side.transport }),
            concurrency,
            durationMs,
            // The whole --warmup before a side's first round; the processes are warm after it.
            warmupMs: round === 0 ? options.warmupMs : Math.min(options.warmupMs, LATER_SLICE_WARMUP_MS),
            intervalMs: intervalMsOf({ ...options, durationMs }),
            pool,
            poolPrefix: poolPrefix(pool, payload),
            payloadBytes: payload.minBytes,
            seed: !seeded.has(server),
            app: LOADTEST_APP,
            redisKeys: redisSessionKeys(LOADTEST_APP, "$ID"),
            ttlSeconds: REDIS_DEFAULT_TTL_SECONDS,
            ...(side.target === "redis-evalsha" ? { luaScriptFile } : {}),
          },
          server.observed,
        );
        seeded.add(server);
        (slices[index] as RunResult[]).push(
          goDriverRunResult(measured, {
            id: side.id,
            title: side.title,
            command,
            payload: formatPayloadSpec(payload),
            ...(server.observed === undefined ? {} : { server: server.observed }),
            gcSource: server.gcSource,
          }),
        );
      }
    }
    const others = (index: number): string => `${sides.filter((_, other) => other !== index).map((side) => side.title).join(", ")} (rounds in order, then reversed)`;
    const runs = slices.map((sideSlices, index) => mergeRunSlices(sideSlices, others(index)));
    const judged = runs[0];
    if (judged === undefined) return runs;
    const extra: Record<string, number | string> = { [GO_CALLER_JUDGED_EXTRA]: sides[0]?.transport ?? "" };
    for (const side of GO_CALLER_REDIS_SIDES) {
      const peer = slices[sides.findIndex((item) => item.target === side)] ?? [];
      const ratios = (slices[0] ?? []).map((slice, round) => slice.throughput / Math.max(1e-9, peer[round]?.throughput ?? 0)).sort((a, b) => a - b);
      const names = goCallerRatioExtras(side);
      extra[names.min] = ratios[0] ?? 0;
      extra[names.median] = median(ratios);
      extra[names.max] = ratios[ratios.length - 1] ?? 0;
    }
    return [{ ...judged, extra: { ...judged.extra, ...extra } }, ...runs.slice(1)];
  } finally {
    for (const server of servers.reverse()) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return 0;
  const middle = sorted.length / 2;
  return sorted.length % 2 === 1 ? (sorted[Math.floor(middle)] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
