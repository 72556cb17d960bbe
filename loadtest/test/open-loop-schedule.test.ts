import assert from "node:assert/strict";
import { OpenLoopSchedule } from "../src/open-loop-schedule";

describe("OpenLoopSchedule", () => {
  it("puts request i at start + i / rate", () => {
    const schedule = new OpenLoopSchedule(1_000, 500);
    assert.equal(schedule.interval, 2);
    assert.equal(schedule.intendedTime(0), 1_000);
    assert.equal(schedule.intendedTime(1), 1_002);
    assert.equal(schedule.intendedTime(250), 1_500);
  });

  it("does not drift over millions of requests", () => {
    const schedule = new OpenLoopSchedule(0, 3_000);
    assert.ok(Math.abs(schedule.intendedTime(3_000_000) - 1_000_000) < 1e-6);
  });

  it("counts the requests due at a time, whatever was sent", () => {
    const schedule = new OpenLoopSchedule(100, 1_000);
    assert.equal(schedule.dueCount(99.9), 0);
    assert.equal(schedule.dueCount(100), 1);
    assert.equal(schedule.dueCount(109.5), 10);
    schedule.claim();
    schedule.claim();
    assert.equal(schedule.backlog(109.5), 8);
  });

  it("hands each request to exactly one claimant, up to its limit", () => {
    const schedule = new OpenLoopSchedule(0, 100, 3);
    assert.deepEqual(schedule.claim(), { index: 0, intendedMs: 0 });
    assert.deepEqual(schedule.claim(), { index: 1, intendedMs: 10 });
    assert.deepEqual(schedule.claim(), { index: 2, intendedMs: 20 });
    assert.equal(schedule.claim(), undefined);
    assert.equal(schedule.claimed, 3);
    assert.equal(schedule.dueCount(1_000), 3);
  });

  it("refuses a rate that is not a positive number", () => {
    assert.throws(() => new OpenLoopSchedule(0, 0), RangeError);
    assert.throws(() => new OpenLoopSchedule(0, Number.NaN), RangeError);
    assert.throws(() => new OpenLoopSchedule(0, Number.POSITIVE_INFINITY), RangeError);
  });
});
