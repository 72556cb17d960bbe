/**
 * Model-based property test of the session store: random sequences of all six operations, with
 * every option, waits, cancellations and clock advances, over 2 apps x 3 session ids, checked
 * step by step against the plain reference model in session-model.ts (see model-runner.ts for
 * what is compared).
 *
 * CI (`make test`) runs a fixed seed and a bounded number of runs, a few seconds. Long runs and
 * replays, from the repo root (`--no-config` because .mocharc.json's `spec` would otherwise add
 * every other test file to the one given):
 *
 *   STATEWARD_MODEL_RUNS=200000 STATEWARD_MODEL_SEED=random npx mocha --no-config --require tsx/cjs server/test/model/store-model.test.ts
 *   STATEWARD_MODEL_SEED=<seed> STATEWARD_MODEL_PATH=<path> npx mocha --no-config --require tsx/cjs server/test/model/store-model.test.ts --grep "<test title>"
 *
 * A failure prints the seed, the path and this replay command, the shrunk counterexample, and the
 * concrete trace of calls and answers that led to the mismatch.
 *
 * Environment: STATEWARD_MODEL_RUNS (runs of the main property; the budget property gets a third),
 * STATEWARD_MODEL_SEED (an integer, or "random"), STATEWARD_MODEL_PATH (replay one counterexample,
 * with its seed and --grep), STATEWARD_MODEL_STEPS (most steps per run, default 120),
 * STATEWARD_MODEL_RELAX (comma-separated decisions to relax, accepting the store's earlier behaviour too:
 * session-gone, lease-expired, early-release-sweep, expired-memory, or "all"). By default every
 * decision is enforced; a check that fails because the store does not follow one says
 * "DECISION <name>" (the store implements all four since 7efa875; before it, each one failed).
 */
import fc from "fast-check";
import { budgetScenarioArb, mainScenarioArb, type Scenario } from "./model-arbitraries";
import { ModelRun } from "./model-runner";
import type { Decisions } from "./session-model";

/** Runs this file alone (the config's `spec` would add every other test file to any file given). */
const MOCHA_THIS_FILE = "npx mocha --no-config --require tsx/cjs server/test/model/store-model.test.ts";
const env = process.env;
const LONG_RUN = env.STATEWARD_MODEL_RUNS !== undefined || env.STATEWARD_MODEL_PATH !== undefined;
const RUNS = nonNegativeInt("STATEWARD_MODEL_RUNS", 1000);
const STEPS = nonNegativeInt("STATEWARD_MODEL_STEPS", 120);
const SEED =
  env.STATEWARD_MODEL_SEED === "random" ? Math.floor(Math.random() * 2 ** 31) : nonNegativeInt("STATEWARD_MODEL_SEED", 20_261_124);
const REPLAY_PATH = env.STATEWARD_MODEL_PATH;
const DECISIONS = decisionsFromEnv(env.STATEWARD_MODEL_RELAX ?? "");

function nonNegativeInt(name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer (or "random" for the seed)`);
  return value;
}

function decisionsFromEnv(text: string): Decisions {
  const relaxed = new Set(text.split(",").map((name) => name.trim()).filter((name) => name !== ""));
  const known = ["session-gone", "lease-expired", "early-release-sweep", "expired-memory", "all"];
  for (const name of relaxed) if (!known.includes(name)) throw new Error(`STATEWARD_MODEL_RELAX: unknown decision ${name} (known: ${known.join(", ")})`);
  const on = (name: string): boolean => !relaxed.has(name) && !relaxed.has("all");
  return {
    sessionGone: on("session-gone"),
    leaseExpired: on("lease-expired"),
    earlyReleaseSweep: on("early-release-sweep"),
    expiredMemory: on("expired-memory"),
  };
}

function runScenario(scenario: Scenario, budgetMode: boolean): void {
  const run = new ModelRun({ options: scenario.options, start: 1_700_000_000_000 + scenario.startOffset, decisions: DECISIONS, budgetMode });
  try {
    for (const step of scenario.steps) run.step(step);
    run.finish(scenario.removeAll);
  } finally {
    run.close();
  }
}

/** Runs a property with the configured seed/runs; on failure, the report says how to replay it. */
function checkProperty(title: string, arbitrary: fc.Arbitrary<Scenario>, numRuns: number, budgetMode: boolean): void {
  const details = fc.check(
    fc.property(arbitrary, (scenario) => runScenario(scenario, budgetMode)),
    { seed: SEED, numRuns, ...(REPLAY_PATH !== undefined ? { path: REPLAY_PATH, endOnFailure: true } : {}) },
  );
  if (!details.failed) return;
  const report = fc.defaultReportMessage(details) ?? "property failed";
  const replay =
    details.counterexamplePath === null
      ? ""
      : `\nReplay: STATEWARD_MODEL_SEED=${details.seed} STATEWARD_MODEL_PATH=${details.counterexamplePath} ` +
        `${MOCHA_THIS_FILE} --grep "${title}"`;
  // fast-check v4 keeps the property's own error apart; it carries the mismatch and the trace.
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(`${report}${replay}\n\nMismatch (shrunk counterexample): ${cause}`);
}

describe("session store against a reference model (fast-check)", function () {
  // Long runs take as long as they take. The CI run takes a few seconds; the explicit limit also
  // holds under `mocha --no-config`, whose default is 2 s.
  this.timeout(LONG_RUN ? 0 : 60_000);
  // A long run may be stopped before it reports: say up front which seed it explores.
  if (LONG_RUN) console.log(`    model test: seed ${SEED}, ${RUNS} runs (+${Math.ceil(RUNS / 3)} small-budget), up to ${STEPS} steps`);

  const mainTitle = "matches the model under random sequences of all six operations, waits, cancels and clock advances";
  it(mainTitle, () => {
    // The default 1 GiB budget: a MEMORY_BUDGET refusal is never acceptable here.
    checkProperty(mainTitle, mainScenarioArb(STEPS), RUNS, false);
  });

  const budgetTitle = "matches the model under a small memory budget, where a MEMORY_BUDGET refusal changes nothing";
  it(budgetTitle, () => {
    checkProperty(budgetTitle, budgetScenarioArb(STEPS), Math.max(1, Math.ceil(RUNS / 3)), true);
  });
});
