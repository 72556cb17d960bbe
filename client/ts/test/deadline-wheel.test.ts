/**
 * The deadline wheel against a fake clock and fake timers: when deadlines fire (never early, at
 * most one tick late), that removal and clear keep them from firing, and that a timer is armed
 * only while something is pending.
 */
import { DeadlineWheel, type DeadlineEntry, type WheelTimers } from "../src/deadline-wheel";
import { assert } from "./helpers";

/** A clock moved by hand, with the timers armed on it. */
class FakeTimers implements WheelTimers {
  time = 1_000;
  private nextHandle = 1;
  readonly armed = new Map<number, { at: number; callback: () => void }>();
  /** Every delay asked of setTimeout. */
  readonly delays: number[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.delays.push(ms);
    this.armed.set(handle, { at: this.time + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.armed.delete(handle as number);
  }

  /** Moves the clock to `time`, firing the due timers in order. */
  advanceTo(time: number): void {
    for (;;) {
      let first: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.armed) if (entry[1].at <= time && (first === undefined || entry[1].at < first[1].at)) first = entry;
      if (first === undefined) break;
      this.armed.delete(first[0]);
      this.time = Math.max(this.time, first[1].at);
      first[1].callback();
    }
    this.time = time;
  }
}

/** An entry that records when it fired. */
class Entry implements DeadlineEntry {
  deadlineTick = -1;
  firedAt: number[] = [];
  constructor(
    private readonly timers: FakeTimers,
    readonly onFire?: () => void,
  ) {}
  onDeadline(): void {
    this.firedAt.push(this.timers.time);
    this.onFire?.();
  }
}

describe("DeadlineWheel", () => {
  const TICK = 10;
  let timers: FakeTimers;
  let wheel: DeadlineWheel;
  beforeEach(() => {
    timers = new FakeTimers();
    wheel = new DeadlineWheel(TICK, timers);
  });

  it("fires each deadline once, never before it and at most one tick after", () => {
    const delays = [0, 1, 9, 10, 11, 25, 99, 100, 101, 1234];
    const entries = delays.map((delay) => {
      const entry = new Entry(timers);
      wheel.add(entry, delay);
      return { entry, due: timers.time + delay };
    });
    assert.equal(wheel.size, delays.length);
    const start = timers.time;
    for (let t = start; t <= start + 1300; t++) timers.advanceTo(t);
    for (const { entry, due } of entries) {
      assert.equal(entry.firedAt.length, 1, `fired once (due ${due})`);
      const at = entry.firedAt[0] as number;
      assert.ok(at >= due, `not before its deadline: fired ${at}, due ${due}`);
      assert.ok(at <= due + TICK, `within a tick: fired ${at}, due ${due}`);
    }
    assert.equal(wheel.size, 0);
    assert.equal(timers.armed.size, 0, "no timer once nothing is pending");
  });

  it("one timer for many deadlines, armed for the earliest", () => {
    for (let i = 0; i < 1000; i++) wheel.add(new Entry(timers), 500 + (i % 50));
    assert.equal(timers.armed.size, 1);
    const early = new Entry(timers);
    wheel.add(early, 20);
    assert.equal(timers.armed.size, 1, "re-armed, not a second timer");
    timers.advanceTo(timers.time + 30);
    assert.equal(early.firedAt.length, 1);
    assert.equal(wheel.size, 1000);
    assert.equal(timers.armed.size, 1);
  });

  it("a removed entry does not fire; the last removal stops the timer", () => {
    const kept = new Entry(timers);
    const removed = new Entry(timers);
    wheel.add(kept, 50);
    wheel.add(removed, 50);
    wheel.remove(removed);
    wheel.remove(removed);
    assert.equal(wheel.size, 1);
    timers.advanceTo(timers.time + 100);
    assert.equal(kept.firedAt.length, 1);
    assert.equal(removed.firedAt.length, 0);

    const only = new Entry(timers);
    wheel.add(only, 1000);
    assert.equal(timers.armed.size, 1);
    wheel.remove(only);
    assert.equal(timers.armed.size, 0, "nothing pending, no timer");
    assert.equal(only.deadlineTick, -1);
  });

  it("clear drops every entry without firing", () => {
    const entries = [new Entry(timers), new Entry(timers)];
    wheel.add(entries[0] as Entry, 10);
    wheel.add(entries[1] as Entry, 5000);
    wheel.clear();
    assert.equal(wheel.size, 0);
    assert.equal(timers.armed.size, 0);
    timers.advanceTo(timers.time + 10_000);
    assert.deepEqual(entries.map((entry) => entry.firedAt.length), [0, 0]);
  });

  it("re-adding moves an entry; an entry may re-add itself or others as it fires", () => {
    const moved = new Entry(timers);
    wheel.add(moved, 10);
    wheel.add(moved, 200);
    assert.equal(wheel.size, 1);
    timers.advanceTo(timers.time + 100);
    assert.equal(moved.firedAt.length, 0);
    timers.advanceTo(timers.time + 200);
    assert.equal(moved.firedAt.length, 1);

    const later = new Entry(timers);
    let rounds = 0;
    const again: Entry = new Entry(timers, () => {
      if (++rounds < 3) wheel.add(again, 30);
      else wheel.add(later, 30);
    });
    wheel.add(again, 30);
    timers.advanceTo(timers.time + 500);
    assert.equal(again.firedAt.length, 3);
    assert.equal(later.firedAt.length, 1);
    assert.equal(timers.armed.size, 0);
  });

  it("a timer that fires early (a stale loop clock) re-arms rather than firing early", () => {
    const entry = new Entry(timers);
    wheel.add(entry, 100);
    const [handle, armed] = [...timers.armed][0] as [number, { at: number; callback: () => void }];
    timers.armed.delete(handle);
    timers.time += 50;
    armed.callback();
    assert.equal(entry.firedAt.length, 0);
    assert.equal(timers.armed.size, 1);
    timers.advanceTo(timers.time + 100);
    assert.equal(entry.firedAt.length, 1);
  });

  it("clamps a delay beyond setTimeout's limit (which Node would fire at once)", () => {
    wheel.add(new Entry(timers), 2 ** 33);
    assert.ok((timers.delays.at(-1) as number) <= 2_147_483_647);
  });

  it("Node's timers (the default) are unref'd: a pending deadline keeps nothing alive", async () => {
    const real = new DeadlineWheel(5);
    let fired = 0;
    const entry: DeadlineEntry = { deadlineTick: -1, onDeadline: () => fired++ };
    real.add(entry, 20);
    const handle = (real as unknown as { timer: NodeJS.Timeout }).timer;
    assert.equal(handle.hasRef(), false);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(fired, 1);
    assert.equal((real as unknown as { timer: unknown }).timer, undefined);
  });
});
