/**
 * The standard set that `make bench` runs, in one invocation so that every baseline is measured in
 * the same run as Stateward: echo (Node, h2load), Stateward get (Node, h2load), lock-set, get /
 * lock-set / mixed over the pipelined transport, contention both ways, Redis get / lock-set /
 * mixed (at the same concurrency as the pipelined runs), resident (mixed on an empty store, then
 * with 1 M sessions), Get and Lock+Set over TLS with a token against plaintext, issue 16's Redis
 * peers (Stateward pipelined against node-redis + Lua, ioredis + Lua and plain GET/SET), and issue 14's:
 * Stateward over Redis against the direct baseline on the same Redis, the contended handoff across
 * two nodes over Redis, and the memory backend against a reference build; issue 15's durability of
 * the memory backend (--fsync everysec and always against memory only, restart, snapshot pause); issue 16's
 * Go caller (the Go SDK against go-redis GET and EVALSHA, from a Go program). Each server is
 * stopped before the next group starts; `--only` runs some groups (args.ts SUITE_GROUPS).
 */
import type { RunResult } from "./report-model";

/**
 * Calls per second of the equal-rate runs: server CPU per call falls as the rate rises, so CPU per
 * operation is compared at one open-loop rate too, below what the Node generator reaches here.
 */
export const EQUAL_RATE_PER_SECOND = 2_000;
import type { SuiteGroup } from "./args";
import type { RunContext } from "./run-context";
import { runContentionScenario } from "./contention-scenario";
import { runDurabilityGroup } from "./durability-scenario";
import { runEchoScenario } from "./echo-scenario";
import { runGoCallerGroup } from "./go-caller-scenario";
import { runMemoryRegressionGroup } from "./memory-regression-scenario";
import { runPeersGroup } from "./peers-scenario";
import { runRedisBackendGroup } from "./redis-backend-scenario";
import { runRedisHandoffGroup } from "./redis-handoff-scenario";
import { runResidentScenario } from "./resident-scenario";
import { runSessionScenario } from "./session-scenario";
import { runTlsComparison } from "./tls-comparison-scenario";

/** Runs the suite (the groups of `--only`); `onRun` sees every run as soon as it is done (for a running summary). */
export async function runSuite(context: RunContext, onRun: (run: RunResult) => void): Promise<RunResult[]> {
  const runs: RunResult[] = [];
  const add = (run: RunResult): void => {
    runs.push(run);
    onRun(run);
  };
  const groups = new Set<SuiteGroup>(context.options.only);
  const equalRate = context.withOptions({ mode: "open", rate: EQUAL_RATE_PER_SECOND });
  // A Lock+Set pair is two calls: half the pairs per second make the same calls per second.
  const equalPairRate = context.withOptions({ mode: "open", rate: EQUAL_RATE_PER_SECOND / 2 });

  if (groups.has("echo")) {
    const echo = await context.echo();
    add(await runEchoScenario(context, echo, "node"));
    add(await runEchoScenario(context, echo, "h2load"));
    add(await runEchoScenario(equalRate, echo, "node"));
    await echo.stop();
  }

  if (groups.has("unary")) {
    const stateward = await context.stateward();
    add(await runSessionScenario(context, "get", "stateward", stateward, "node"));
    add(await runSessionScenario(context, "get", "stateward", stateward, "h2load"));
    add(await runSessionScenario(context, "lock-set", "stateward", stateward, "node"));
    add(await runSessionScenario(equalRate, "get", "stateward", stateward, "node"));
    add(await runSessionScenario(equalPairRate, "lock-set", "stateward", stateward, "node"));
    for (const run of await runContentionScenario(context, stateward)) add(run);
    await stateward.stop();
  }

  if (groups.has("pipeline")) {
    // The pipelined transport, on a fresh server, at the concurrency of the Redis runs below.
    const pipelined = context.withOptions({ transport: "pipeline" });
    const pipelineServer = await context.stateward();
    add(await runSessionScenario(pipelined, "get", "stateward", pipelineServer, "node"));
    add(await runSessionScenario(pipelined, "lock-set", "stateward", pipelineServer, "node"));
    add(await runSessionScenario(pipelined, "mixed", "stateward", pipelineServer, "node"));
    await pipelineServer.stop();
  }

  if (groups.has("redis")) {
    const redis = await context.redis();
    add(await runSessionScenario(context, "get", "redis", redis, "node"));
    add(await runSessionScenario(context, "lock-set", "redis", redis, "node"));
    add(await runSessionScenario(context, "mixed", "redis", redis, "node"));
    await redis.stop();
  }

  if (groups.has("resident")) {
    // Fresh servers: the resident figures must not inherit the other runs' heap. Both live at once so
    // that the empty-store and resident runs can alternate.
    const resident = await context.stateward();
    const empty = await context.stateward();
    for (const run of await runResidentScenario(context, resident, empty)) add(run);
    await empty.stop();
    await resident.stop();
  }

  if (groups.has("tls")) {
    // Two fresh servers alike but for TLS and the auth file, alive at once so that the runs alternate.
    const plaintext = await context.stateward("plaintext");
    const secure = await context.stateward("tls-token");
    for (const run of await runTlsComparison(context, plaintext, secure)) add(run);
    await secure.stop();
    await plaintext.stop();
  }

  // Issue 16: Stateward (pipeline) against node-redis + Lua, ioredis + Lua and node-redis plain on
  // its own redis-server, alternating.
  if (groups.has("peers")) for (const run of await runPeersGroup(context)) add(run);

  // Each starts and stops its own redis-server and nodes (or, for memory-regression, both builds).
  if (groups.has("redis-backend")) for (const run of await runRedisBackendGroup(context)) add(run);
  if (groups.has("redis-handoff")) for (const run of await runRedisHandoffGroup(context)) add(run);
  if (groups.has("memory-regression")) for (const run of await runMemoryRegressionGroup(context)) add(run);
  // Issue 15: memory only against --fsync everysec and always, then the restart and snapshot of
  // --durability-sessions sessions; its data directories live under one temporary directory.
  if (groups.has("durability")) for (const run of await runDurabilityGroup(context)) add(run);
  // Issue 16: the Go caller (loadtest/go, built here) against Stateward and go-redis, alternating.
  if (groups.has("go-caller")) for (const run of await runGoCallerGroup(context)) add(run);
  return runs;
}
