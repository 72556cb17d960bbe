/**
 * The memory backend does not get slower (issue 14): this build's server and a reference build's
 * (`--reference-cli`, the commit before the Redis work, built by `make bench` from BENCH_REF), both
 * on the memory backend with the same flags, alive at once; the pipelined Get, Lock+Set and mixed
 * runs of the suite's pipeline group alternate between them in slices (alternating-runs.ts).
 */
import { runAlternating, suiteGroupCommand } from "./alternating-runs";
import { MEMORY_REGRESSION_WORKLOADS, memoryRegressionRunId } from "./memory-regression-runs";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";

/** Runs the memory-regression group: per workload, this build's run, then the reference build's. */
export async function runMemoryRegressionGroup(context: RunContext): Promise<RunResult[]> {
  const referenceCli = context.options.referenceCli;
  if (referenceCli === undefined) throw new Error("the memory-regression group needs --reference-cli");
  const servers: LoadTarget[] = [];
  const runs: RunResult[] = [];
  try {
    const current = await context.stateward("plaintext", {});
    servers.push(current);
    const reference = await context.stateward("plaintext", { cli: referenceCli });
    servers.push(reference);
    const pipelined = context.withOptions({ transport: "pipeline" });
    const command = suiteGroupCommand("memory-regression", context.options, { "reference-cli": referenceCli });
    for (const scenario of MEMORY_REGRESSION_WORKLOADS) {
      const [ours, theirs] = await runAlternating(pipelined, scenario, [
        { kind: "stateward", target: current, label: "this build" },
        { kind: "stateward", target: reference, label: "the reference build" },
      ]);
      runs.push({ ...ours, id: memoryRegressionRunId(scenario, "current"), title: `Memory backend · ${scenario} · this build · Node (pipeline)`, command });
      runs.push({ ...theirs, id: memoryRegressionRunId(scenario, "reference"), title: `Memory backend · ${scenario} · reference build · Node (pipeline)`, command });
    }
  } finally {
    for (const server of servers) await server.stop();
  }
  return runs;
}
