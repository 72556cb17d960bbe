import assert from "node:assert/strict";
import { median, rssGrowthVerdict, slope, soakFailures, type GrowthRule, type RssPoint, type SoakChecks } from "../src/soak-verdict";

const MIB = 1024 * 1024;
const RULE: GrowthRule = { warmupMs: 30_000, tolerancePercent: 10, toleranceBytes: 32 * MIB, minSamplesPerThird: 5 };

/** One sample a second from 0 to `seconds`, RSS given in MiB by `mib(t)`. */
function run(seconds: number, mib: (t: number) => number): RssPoint[] {
  return Array.from({ length: seconds + 1 }, (_, t) => ({ tMs: t * 1000, rssBytes: Math.round(mib(t) * MIB) }));
}

describe("soak: RSS growth verdict", () => {
  it("medians and slopes", () => {
    assert.equal(median([]), 0);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
    assert.equal(slope([{ x: 1, y: 1 }]), 0);
  });

  it("passes a flat run with noise, and cuts the window after the warm-up into thirds", () => {
    const verdict = rssGrowthVerdict(run(180, (t) => 150 + ((t * 7) % 5)), RULE);
    assert.equal(verdict.status, "pass");
    assert.deepEqual(
      verdict.thirds.map((third) => [third.fromMs, third.toMs, third.samples]),
      [
        [30_000, 80_000, 50],
        [80_000, 130_000, 50],
        [130_000, 180_000, 51],
      ],
    );
    assert.ok(Math.abs(verdict.growthBytes) < 5 * MIB);
    assert.equal(verdict.allowedBytes, 32 * MIB);
    assert.match(verdict.message, /^RSS stable: median RSS of the last third \(130 s–180 s\)/);
  });

  it("fails steady growth and says by how much", () => {
    // 0.5 MiB/s: the thirds' medians are 50.5 s apart, so 25.25 MiB.
    const slow = rssGrowthVerdict(run(180, (t) => 100 + 0.5 * t), RULE);
    assert.equal(slow.status, "pass", "25 MiB is within the 32 MiB allowance");
    const fast = rssGrowthVerdict(run(180, (t) => 100 + t), RULE);
    assert.equal(fast.status, "fail");
    assert.equal(fast.growthBytes, 50.5 * MIB);
    assert.match(fast.message, /^RSS keeps growing: .*: \+50\.5 MiB, allowed \+32\.0 MiB = max\(10 % of 204\.5 MiB, 32\.0 MiB\)/);
    assert.ok(Math.abs(fast.slopeBytesPerMinute - 60 * MIB) < 1);
  });

  it("ignores growth during the warm-up", () => {
    const verdict = rssGrowthVerdict(run(180, (t) => (t < 30 ? 50 + 5 * t : 200)), RULE);
    assert.equal(verdict.status, "pass");
    assert.equal(verdict.growthBytes, 0);
  });

  it("does not compare the first third after the warm-up (heaps still filling up)", () => {
    // Rises 80 MiB over the first third, then flat.
    const verdict = rssGrowthVerdict(run(180, (t) => (t < 80 ? 100 + (t - 30) * 1.6 : 180)), RULE);
    assert.equal(verdict.status, "pass");
  });

  it("takes the larger allowance: 10 % of a large RSS, 32 MiB of a small one", () => {
    const large = (growth: number) => rssGrowthVerdict(run(180, (t) => (t < 130 ? 1024 : 1024 + growth)), RULE);
    assert.ok(Math.abs(large(0).allowedBytes - 102.4 * MIB) < 1);
    assert.equal(large(100).status, "pass");
    assert.equal(large(110).status, "fail");
    const small = (growth: number) => rssGrowthVerdict(run(180, (t) => (t < 130 ? 100 : 100 + growth)), RULE);
    assert.equal(small(0).allowedBytes, 32 * MIB);
    assert.equal(small(30).status, "pass");
    assert.equal(small(33).status, "fail");
  });

  it("is not moved by spikes: medians, not maxima", () => {
    const verdict = rssGrowthVerdict(run(180, (t) => (t > 130 && t % 4 === 0 ? 400 : 150)), RULE);
    assert.equal(verdict.status, "pass");
    assert.equal(verdict.thirds[2].medianBytes, 150 * MIB);
  });

  it("ignores the order of samples, and missing or zero readings", () => {
    const points = run(180, (t) => 100 + t).reverse();
    points.push({ tMs: 170_000, rssBytes: 0 });
    assert.equal(rssGrowthVerdict(points, RULE).status, "fail");
  });

  it("is inconclusive without enough samples in a third, or with an explicit end past the samples", () => {
    const short = rssGrowthVerdict(run(40, () => 100), RULE);
    assert.equal(short.status, "inconclusive");
    assert.match(short.message, /fewer than 5 samples \(4, 3, 4\)/);
    // The server died at 100 s but the run was to last 180 s: the last third has no samples.
    const cut = rssGrowthVerdict(run(100, () => 100), RULE, 180_000);
    assert.equal(cut.status, "inconclusive");
    assert.equal(rssGrowthVerdict([], RULE).status, "inconclusive");
  });
});

describe("soak: failures", () => {
  const pass = rssGrowthVerdict(run(180, () => 100), RULE);
  const clean: SoakChecks = {
    growth: pass,
    lockedAtEnd: [],
    uncheckedSessions: 0,
    abortLeaks: 0,
    leaseExpiries: 0,
    serverBugErrors: {},
    drained: true,
    operations: 1000,
    expiry: { swept: true, residentAfter: 2064, residentLimit: 2064, waitedMs: 1500, sampled: 256, servedAfterExpiry: 0 },
    waiterGrants: 0,
  };

  it("none for a clean run", () => {
    assert.deepEqual(soakFailures(clean), []);
  });

  it("one message per broken check", () => {
    const failures = soakFailures({
      ...clean,
      growth: rssGrowthVerdict(run(180, (t) => 100 + t), RULE),
      serverExit: "the server died during the load (signal SIGKILL)",
      lockedAtEnd: Array.from({ length: 7 }, (_, index) => ({ sessionId: `soak-${index}`, lockAgeMs: 2500 })),
      uncheckedSessions: 2,
      abortLeaks: 1,
      leaseExpiries: 3,
      serverBugErrors: { INTERNAL: 4, UNKNOWN: 0 },
      drained: false,
      expiry: { swept: false, residentAfter: 3000, residentLimit: 2064, waitedMs: 15_000, sampled: 256, servedAfterExpiry: 2 },
      waiterGrants: 1,
    });
    assert.equal(failures.length, 11);
    assert.match(failures[0] ?? "", /^server: the server died/);
    assert.ok(failures.some((failure) => /^RSS keeps growing/.test(failure)));
    assert.ok(failures.some((failure) => /^7 sessions still locked .*soak-0 \(held 2\.5 s\).*soak-4 \(held 2\.5 s\), …$/.test(failure)));
    assert.ok(failures.some((failure) => /^1 aborted or timed-out lock wait/.test(failure)));
    assert.ok(failures.some((failure) => /^3 locks were held until the server's lease ended/.test(failure)));
    assert.ok(failures.some((failure) => /INTERNAL ×4/.test(failure) && !/UNKNOWN/.test(failure)));
    assert.ok(failures.some((failure) => /did not stop by itself/.test(failure)));
    assert.ok(failures.some((failure) => /3,000 sessions resident 15\.0 s after the last of their ttls ran out, at most 2064/.test(failure)));
    assert.ok(failures.some((failure) => /^2 of 256 short-lived sessions were still served/.test(failure)));
    assert.ok(failures.some((failure) => /^1 waiter was granted/.test(failure)));
  });

  it("fails a run that never ran, and an inconclusive growth verdict", () => {
    const failures = soakFailures({ ...clean, operations: 0, growth: rssGrowthVerdict([], RULE) });
    assert.equal(failures.length, 2);
    assert.match(failures[0] ?? "", /never ran/);
    assert.match(failures[1] ?? "", /not judged/);
  });
});
