/**
 * fast-check arbitraries for the model-based store test: scenarios of abstract steps (see
 * {@link Step}) plus the store options that vary per run. Value lists sit on the edges that matter
 * (0 = default, exactly the limit, limit + 1, bucket and lease boundaries), and keys are skewed so
 * that a few sessions see most of the traffic: collisions, re-creations and stale ids stay common.
 */
import fc from "fast-check";
import { INVALID_KEY, KEY_COUNT, type LockIdChoice, type Step, type VersionChoice } from "./model-runner";
import type { ModelOptions } from "./session-model";

/** Largest ttl a request may ask for in these runs (61 is INVALID_FIELD). */
export const MAX_TTL_SECONDS = 60;
/** Largest lease in these runs (15,001 is INVALID_FIELD). */
export const MAX_LEASE_MS = 15_000;
/** --max-item-bytes of the main property (the budget stays the default 1 GiB). */
export const MAIN_MAX_ITEM_BYTES = 4096;
/** --max-item-bytes of the small-budget property. */
export const BUDGET_MAX_ITEM_BYTES = 8 * 1024;
/** --max-memory of the small-budget property: two full-size sessions fit, three do not. */
export const BUDGET_MAX_MEMORY_BYTES = 24 * 1024;

/** One generated scenario. */
export interface Scenario {
  /** Limits and backend options of the run (the model reads the resolved ones). */
  readonly options: Partial<ModelOptions>;
  /** Offset of the clock's start within a second (moves deadlines across bucket edges). */
  readonly startOffset: number;
  /** The steps, keys already narrowed to the scenario's hot keys. */
  readonly steps: readonly Step[];
  /** Drain by removing every session first (else only by letting time pass). */
  readonly removeAll: boolean;
}

/** fc.oneof over constants with weights: [[weight, value], ...]. */
function weighted<T>(choices: readonly (readonly [number, T])[]): fc.Arbitrary<T> {
  return fc.oneof(...choices.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })));
}

// Narrowed per scenario to its hot keys (see scenarioArb). Keys 0 and 3 are the same session id
// under the two apps (rule 1: two sessions).
const keyArb = fc.oneof({ weight: 60, arbitrary: fc.nat(KEY_COUNT - 1) }, { weight: 1, arbitrary: fc.constant(INVALID_KEY) });
// 0 = the default (or "keep the current ttl"); MAX + 1 is INVALID_FIELD.
const ttlArb = weighted([[8, 0], [5, 1], [4, 2], [2, 3], [3, 7], [2, 20], [1, MAX_TTL_SECONDS], [1, MAX_TTL_SECONDS + 1]]);
// Long leases next to short ttls: sessions whose deadline passes while they are locked (rule 6).
const leaseArb = weighted([[6, 0], [1, 1], [2, 50], [4, 700], [3, 1000], [3, 2500], [3, 6000], [3, MAX_LEASE_MS], [1, MAX_LEASE_MS + 1]]);
// 20,000 is above every --max-wait-ms used, so it is capped.
const waitArb = weighted([[8, 0], [1, 1], [3, 250], [4, 1000], [3, 3000], [2, 20_000]]);
const advanceArb = weighted([[2, 0], [2, 1], [3, 99], [3, 100], [3, 250], [4, 500], [3, 999], [4, 1000], [2, 1001], [4, 2000], [3, 5000], [1, 30_000]]);

/** Lock ids to send; `zeroWeight` sets how often a write goes without a lock. */
const lockIdArb = (zeroWeight: number): fc.Arbitrary<LockIdChoice> => fc.oneof(
  { weight: zeroWeight, arbitrary: fc.constant({ t: "zero" } as const) },
  { weight: 12, arbitrary: fc.constant({ t: "holder" } as const) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("sameKey" as const), back: fc.nat(4) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("any" as const), back: fc.nat(8) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("low" as const), value: fc.constantFrom(1, 2, 1000, 987_654_321) }) },
  { weight: 1, arbitrary: fc.constant({ t: "high" } as const) },
  { weight: 1, arbitrary: fc.constant({ t: "infinity" } as const) },
);

const versionArb: fc.Arbitrary<VersionChoice> = fc.oneof(
  { weight: 14, arbitrary: fc.constant({ t: "zero" } as const) },
  { weight: 3, arbitrary: fc.constant({ t: "current" } as const) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("off" as const), delta: fc.constantFrom(-2, -1, 1, 2) }) },
  { weight: 1, arbitrary: fc.constant({ t: "infinity" } as const) },
);

/** How a property weighs its steps. */
interface StepProfile {
  /** Payload sizes to write. */
  readonly sizes: readonly number[];
  /** Weight of Set among the steps (the others sum to about 70). */
  readonly setWeight: number;
  /** Weight of lock id 0 in Set (against 12 for the holder's id and 8 for stale or forged ones). */
  readonly unlockedWriteWeight: number;
}

function stepArb(profile: StepProfile): fc.Arbitrary<Step> {
  return fc.oneof(
    { weight: 10, arbitrary: fc.record({ op: fc.constant("get" as const), key: keyArb, waitMs: waitArb }) },
    {
      weight: 14,
      arbitrary: fc.record({
        op: fc.constant("lock" as const),
        key: keyArb,
        waitMs: waitArb,
        leaseMs: leaseArb,
        create: weighted([[2, true], [1, false]]),
        ttlSeconds: ttlArb,
        active: fc.constantFrom("omit" as const, "flag" as const),
      }),
    },
    {
      weight: profile.setWeight,
      arbitrary: fc.record({
        op: fc.constant("set" as const),
        key: keyArb,
        size: fc.constantFrom(...profile.sizes),
        tag: fc.nat(255),
        ttlSeconds: ttlArb,
        lockId: lockIdArb(profile.unlockedWriteWeight),
        keepLock: fc.boolean(),
        expectedVersion: versionArb,
        onlyIfAbsent: weighted([[6, false], [1, true]]),
      }),
    },
    { weight: 8, arbitrary: fc.record({ op: fc.constant("release" as const), key: keyArb, lockId: lockIdArb(4) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("expire" as const), key: keyArb, ttlSeconds: ttlArb }) },
    // Rare: a removal ends a session's history, which most interesting sequences build up.
    { weight: 2, arbitrary: fc.record({ op: fc.constant("remove" as const), key: keyArb, lockId: lockIdArb(4) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("cancel" as const), pick: fc.nat(7), pendingOnly: weighted([[4, true], [1, false]]) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("deactivate" as const), pick: fc.nat(7) }) },
    { weight: 10, arbitrary: fc.record({ op: fc.constant("advance" as const), ms: advanceArb }) },
    { weight: 8, arbitrary: fc.record({ op: fc.constant("advanceToEvent" as const), pick: fc.nat(7), offset: fc.constantFrom(-1, 0, 1) }) },
  );
}

/** Options that vary per run: shards, defaults, waiter and wait caps, expiry interval. */
const varyingOptionsArb = fc.record({
  shards: fc.constantFrom(1, 2, 16),
  defaultTtlSeconds: fc.constantFrom(1, 2, 5, 20),
  defaultLockLeaseMs: fc.constantFrom(700, 1500, 4000, 10_000),
  maxWaitMs: weighted([[1, 0], [4, 1500], [4, 5000]]),
  maxWaiters: fc.constantFrom(1, 2, 3, 50),
  // Below one bucket (1 s), so that one expiry cycle always reaches a bucket that came due.
  expiryIntervalMs: fc.constantFrom(1, 100, 250, 900),
});

function scenarioArb(fixed: Partial<ModelOptions>, profile: StepProfile, maxSteps: number): fc.Arbitrary<Scenario> {
  return fc.record({
    options: varyingOptionsArb.map((varying) => ({
      ...varying,
      expirySliceBudgetMs: Math.min(5, varying.expiryIntervalMs),
      maxTtlSeconds: MAX_TTL_SECONDS,
      maxLockLeaseMs: MAX_LEASE_MS,
      ...fixed,
    })),
    startOffset: fc.integer({ min: 0, max: 999 }),
    // size "max": lengths spread up to maxSteps (the default favours ~10 steps, too few to build up state).
    // Most traffic on 1-6 keys: one hot session makes lock histories, several fill a budget.
    hotKeys: fc.constantFrom(1, 2, 3, 4, 6),
    steps: fc.array(stepArb(profile), { maxLength: maxSteps, size: "max" }),
    removeAll: fc.boolean(),
  }).map(({ hotKeys, steps, ...rest }) => ({
    ...rest,
    steps: steps.map((step) => ("key" in step && step.key >= 0 ? { ...step, key: step.key % hotKeys } : step)),
  }));
}

/** Scenarios for the main property: default 1 GiB budget, items up to 4 KiB (and 4 KiB + 1). */
export function mainScenarioArb(maxSteps: number): fc.Arbitrary<Scenario> {
  const sizes = [0, 0, 1, 2, 63, 64, 65, 200, 1024, 1025, MAIN_MAX_ITEM_BYTES, MAIN_MAX_ITEM_BYTES + 1];
  return scenarioArb({ maxItemBytes: MAIN_MAX_ITEM_BYTES }, { sizes, setWeight: 16, unlockedWriteWeight: 6 }, maxSteps);
}

/** Scenarios for the small-budget property: 24 KiB budget, items up to 8 KiB, mostly large unlocked writes. */
export function budgetScenarioArb(maxSteps: number): fc.Arbitrary<Scenario> {
  const sizes = [0, 1, 1000, 4096, 8000, 8000, BUDGET_MAX_ITEM_BYTES, BUDGET_MAX_ITEM_BYTES, BUDGET_MAX_ITEM_BYTES, BUDGET_MAX_ITEM_BYTES + 1];
  const profile = { sizes, setWeight: 30, unlockedWriteWeight: 20 };
  return scenarioArb({ maxItemBytes: BUDGET_MAX_ITEM_BYTES, maxMemoryBytes: BUDGET_MAX_MEMORY_BYTES }, profile, maxSteps);
}
