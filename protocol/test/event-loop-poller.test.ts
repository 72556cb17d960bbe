import assert from "node:assert/strict";
import { EventLoopPoller, MAX_POLL_WINDOW_US, pollWindowProblem, type PollerHost } from "@stateward/protocol";

/** A host whose clock moves only when told and whose scheduled turns run only when told. */
class FakeHost implements PollerHost {
  time = 0;
  private queue: (() => void)[] = [];
  now(): number {
    return this.time;
  }
  schedule(callback: () => void): void {
    this.queue.push(callback);
  }
  get pending(): number {
    return this.queue.length;
  }
  /** Runs one turn of the loop: what was scheduled before it. */
  turn(): void {
    const due = this.queue;
    this.queue = [];
    for (const callback of due) callback();
  }
  /** Advances the clock by `us` microseconds, one turn per microsecond. */
  spin(us: number): void {
    for (let i = 0; i < us; i++) {
      this.time += 0.001;
      this.turn();
    }
  }
}

/** A poller whose windows are off: two spins ran out (and the probe count starts afresh). */
function switchedOff(): { host: FakeHost; poller: EventLoopPoller } {
  const host = new FakeHost();
  const poller = new EventLoopPoller(host);
  for (let i = 0; i < 2; i++) {
    poller.sent(400);
    host.spin(1000);
  }
  return { host, poller };
}

describe("EventLoopPoller (spin-then-block polling around Pipeline messages)", () => {
  it("keeps the loop polling for the window after a message, then stops", () => {
    const host = new FakeHost();
    const poller = new EventLoopPoller(host);
    poller.sent(100);
    assert.equal(poller.active, true);
    host.spin(99);
    assert.equal(poller.active, true, "still polling inside the window");
    host.spin(3);
    assert.equal(poller.active, false);
    assert.equal(host.pending, 0, "nothing left scheduled: the loop may block (and the process exit)");
  });

  it("does nothing for a window of 0 (or less), and caps a window at MAX_POLL_WINDOW_US", () => {
    const host = new FakeHost();
    const poller = new EventLoopPoller(host);
    poller.sent(0);
    poller.arrived(-5);
    assert.equal(poller.active, false);
    assert.equal(host.pending, 0);
    poller.sent(10 * MAX_POLL_WINDOW_US);
    host.spin(MAX_POLL_WINDOW_US - 2);
    assert.equal(poller.active, true, "still polling just before the cap");
    host.spin(4);
    assert.equal(poller.active, false, "stopped after the capped window");
  });

  it("merges windows: a later message extends the spin, one scheduled turn at a time", () => {
    const host = new FakeHost();
    const poller = new EventLoopPoller(host);
    poller.sent(100);
    host.spin(80);
    poller.arrived(100);
    poller.sent(100);
    assert.equal(host.pending, 1, "one spin, however many messages");
    host.spin(90);
    assert.equal(poller.active, true, "the second message's window runs from its arrival");
    host.spin(15);
    assert.equal(poller.active, false);
  });

  it("shrinks after windows that run out to a quarter, then off with a probe every 8 windows asked for", () => {
    const host = new FakeHost();
    const poller = new EventLoopPoller(host);
    const windowAfterMessage = (): number => {
      poller.sent(400);
      let us = 0;
      while (poller.active) {
        host.spin(1);
        us++;
      }
      host.spin(1000); // a gap longer than any window: the next message finds the loop asleep
      return us;
    };
    assert.ok(Math.abs(windowAfterMessage() - 400) <= 2);
    assert.equal(poller.scale, 1 / 4, "a spin that ran out moves two steps down");
    assert.ok(Math.abs(windowAfterMessage() - 100) <= 2);
    assert.equal(poller.scale, 0, "off");
    const windows = Array.from({ length: 16 }, windowAfterMessage);
    assert.deepEqual(
      windows.map((us) => us > 0),
      Array.from({ length: 16 }, (_, i) => i % 8 === 7),
      "while off, only every 8th window asked for opens",
    );
    for (const us of windows.filter((w) => w > 0)) assert.ok(Math.abs(us - 100) <= 2, "a probe is a quarter window");
  });

  it("grows back one step per message the polling catches; a probe that keeps catching turns it on again", () => {
    const { host, poller } = switchedOff();
    assert.equal(poller.scale, 0, "off after two spins that ran out");
    for (let i = 0; i < 7; i++) poller.sent(400);
    assert.equal(poller.active, false, "7 windows asked for: none opened");
    poller.sent(400); // the 8th opens a probe
    assert.equal(poller.active, true);
    host.spin(50);
    poller.arrived(400); // caught by the probe
    assert.equal(poller.scale, 1 / 4);
    host.spin(50);
    poller.arrived(400);
    assert.equal(poller.scale, 1 / 2);
    host.spin(50);
    poller.arrived(400);
    assert.equal(poller.scale, 1);
    host.spin(50);
    poller.arrived(400);
    assert.equal(poller.scale, 1, "never beyond the full window");
  });

  it("ends off again after a probe that caught one message and ran out, with a full count to the next probe", () => {
    const { host, poller } = switchedOff();
    for (let i = 0; i < 8; i++) poller.sent(400);
    host.spin(20);
    poller.arrived(400);
    host.spin(1000);
    assert.equal(poller.active, false);
    assert.equal(poller.scale, 0);
    // The fall back to off restarts the count: 7 more windows asked for open nothing.
    for (let i = 0; i < 7; i++) poller.sent(400);
    assert.equal(poller.active, false);
    poller.sent(400);
    assert.equal(poller.active, true);
  });

  it("counts no catch for messages of the wake-up that started the spin (a burst in one turn)", () => {
    const host = new FakeHost();
    const poller = new EventLoopPoller(host);
    for (let round = 0; round < 2; round++) {
      // Three messages read in one turn after a sleep, then a gap longer than the window.
      poller.arrived(400);
      poller.arrived(400);
      poller.arrived(400);
      host.spin(2000);
    }
    assert.equal(poller.scale, 0, "the loop never polled for them: two spins ran out, off");
  });

  it("counts a spin that runs out as a miss even when it caught messages earlier (a window after the last answer)", () => {
    const host = new FakeHost();
    const poller = new EventLoopPoller(host);
    // Request/answer with think time: the answer is caught, and the window it opens runs out
    // through the think time. One catch and one miss per spin must not keep the windows full.
    for (const expected of [1 / 4, 0, 0]) {
      poller.sent(400);
      host.spin(40);
      poller.arrived(400);
      host.spin(2000);
      assert.equal(poller.active, false);
      assert.equal(poller.scale, expected);
    }
  });

  it("counts no catch for a message whose window is 0 (an end that does not poll)", () => {
    const host = new FakeHost();
    const poller = new EventLoopPoller(host);
    poller.sent(400);
    host.spin(1000);
    assert.equal(poller.scale, 1 / 4);
    poller.sent(400);
    host.spin(10);
    poller.arrived(0);
    assert.equal(poller.scale, 1 / 4, "unchanged");
    poller.arrived(400);
    assert.equal(poller.scale, 1 / 2);
  });

  it("checks user-given windows: integers from 0 to the maximum, naming the option", () => {
    assert.equal(pollWindowProblem("pollMicros", 0), undefined);
    assert.equal(pollWindowProblem("pollMicros", MAX_POLL_WINDOW_US), undefined);
    for (const bad of [-1, MAX_POLL_WINDOW_US + 1, 1.5, Number.NaN, "500", undefined]) {
      assert.match(pollWindowProblem("pollMicros", bad) ?? "", /^pollMicros must be an integer from 0 to 10000 \(microseconds\)/);
    }
  });

  it("on Node's own clock and setImmediate, lets the event loop block again after its window", async () => {
    // A fresh poller: the process's one carries the adaptive state of whatever ran before.
    const poller = new EventLoopPoller();
    poller.sent(2000);
    assert.equal(poller.active, true);
    const started = performance.now();
    let turns = 0;
    while (poller.active) {
      await new Promise((resolve) => setImmediate(resolve));
      turns++;
      assert.ok(performance.now() - started < 1000, "the spin ended within a second");
    }
    const spun = performance.now() - started;
    // At least the window, minus one turn's lateness; and the loop turned many times meanwhile.
    assert.ok(spun >= 1.9, `it spun for its window first (${spun.toFixed(3)} ms)`);
    assert.ok(turns > 1, "it kept the loop turning");
  });
});
