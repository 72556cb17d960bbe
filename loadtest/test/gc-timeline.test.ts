import assert from "node:assert/strict";
import { gcTimeline, joinGcTimelines, TRACE_GC_SOURCE } from "../src/gc-timeline";
import { GcTracker } from "../src/gc-trace";

/** A --trace-gc line stamped `isolateMs` after the isolate started, with a pause of `pauseMs`. */
function line(isolateMs: number, kind: string, pauseMs: number): string {
  return `[4242:0x5a1b2c3d4e50] ${String(isolateMs).padStart(8)} ms: ${kind} 7.6 (9.9) -> 6.5 (15.4) MB, ${pauseMs.toFixed(2)} / 0.00 ms  (average mu = 1.000, current mu = 1.000) allocation failure; `;
}

describe("server GC pauses on the run's clock", () => {
  it("moves V8's stamps to the tracker's clock by the smallest arrival − stamp difference", () => {
    // The isolate started at 1,000 ms on the tracker's clock; lines are read 1 … 30 ms after they were printed.
    let now = 0;
    const tracker = new GcTracker(() => now);
    assert.equal(tracker.clockOffsetMs(), undefined);
    for (const [stamp, lag] of [
      [50, 3],
      [80, 1],
      [300, 30],
      [420, 12],
    ] as const) {
      now = 1_000 + stamp + lag;
      tracker.line(line(stamp, "Scavenge", 1));
    }
    assert.equal(tracker.clockOffsetMs(), 1_001);
    assert.deepEqual(
      tracker.pauses().map((pause) => pause.endMs),
      [1_051, 1_081, 1_301, 1_421],
    );
  });

  it("keeps the offset across windows and improves it with every line", () => {
    let now = 0;
    const tracker = new GcTracker(() => now);
    now = 1_000 + 100 + 20;
    tracker.line(line(100, "Scavenge", 1));
    assert.equal(tracker.clockOffsetMs(), 1_020);
    tracker.reset();
    assert.deepEqual(tracker.pauses(), []);
    now = 1_000 + 200 + 2;
    tracker.line(line(200, "Mark-Compact", 5));
    assert.equal(tracker.clockOffsetMs(), 1_002);
    assert.deepEqual(tracker.pauses(), [{ endMs: 1_202, pauseMs: 5, kind: "Mark-Compact" }]);
  });

  it("places each pause from its start, relative to the measured phase, and keeps only those that overlap it", () => {
    let now = 0;
    const tracker = new GcTracker(() => now);
    // Offset 500 ms (every line read at once). The measured phase starts at 1,000 ms and lasts 2,000 ms.
    for (const [stamp, kind, pause] of [
      [400, "Scavenge", 1], // ends at 900 ms: before the phase
      [502, "Scavenge", 4], // 998 … 1,002 ms: straddles the start
      [1_700, "Mark-Compact", 20], // 2,180 … 2,200 ms
      [2_505, "Scavenge", 10], // 2,995 … 3,005 ms: straddles the end
      [2_600, "Scavenge", 1], // after it
    ] as const) {
      now = 500 + stamp;
      tracker.line(line(stamp, kind, pause));
    }
    const timeline = gcTimeline({ tracker }, 1_000, 2_000);
    assert.ok(timeline.available);
    assert.equal(timeline.source, TRACE_GC_SOURCE);
    assert.deepEqual(timeline.pauses, [
      { startMs: -2, pauseMs: 4, kind: "Scavenge" },
      { startMs: 1_180, pauseMs: 20, kind: "Mark-Compact" },
      { startMs: 1_995, pauseMs: 10, kind: "Scavenge" },
    ]);
  });

  it("says why when there is no trace", () => {
    assert.deepEqual(gcTimeline({ unavailable: "redis-server is not a V8 process" }, 0, 1_000), { available: false, reason: "redis-server is not a V8 process" });
  });

  it("joins slices measured one after the other", () => {
    const slice = (startMs: number) => ({ available: true as const, source: TRACE_GC_SOURCE, pauses: [{ startMs, pauseMs: 1, kind: "Scavenge" }] });
    assert.deepEqual(
      joinGcTimelines([
        { gc: slice(100), spanMs: 5_000 },
        { gc: slice(200), spanMs: 5_000 },
      ]),
      { available: true, source: TRACE_GC_SOURCE, pauses: [{ startMs: 100, pauseMs: 1, kind: "Scavenge" }, { startMs: 5_200, pauseMs: 1, kind: "Scavenge" }] },
    );
    const missing = { available: false as const, reason: "no trace" };
    assert.deepEqual(joinGcTimelines([{ gc: slice(100), spanMs: 5_000 }, { gc: missing, spanMs: 5_000 }]), missing);
  });
});
