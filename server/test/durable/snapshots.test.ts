/**
 * Snapshots of the memory backend's data directory (--data-dir) under load, with the smallest
 * thresholds (--snapshot-min-log-bytes 4KiB, --snapshot-log-ratio 1) so that they come often:
 * requests keep flowing while one runs (the longest event-loop stall during each is measured and
 * printed), a restart after a snapshot and more log is exact (every session's whole state, lock
 * ids held included), the log before a snapshot is dropped, the disk a steady overwrite load
 * uses stays bounded, and the log a snapshot rotates out is synced before the next one exists
 * even when syncs are slow and appends go on (fdatasync slowed to 20 ms in this process).
 *
 * In-process servers on a fake store clock (deadlines and leases never move, so the state read
 * before a restart and after it must be identical); snapshots run on real time. The whole state is
 * read through the snapshot's own scan of the memory backend (a private field), which sees locked
 * sessions' data too.
 */
import * as assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PerformanceObserver, performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import { createLogger } from "../../src/logger";
import { stateRecordBytes } from "../../src/store/durable/log-records";
import type { LogWriter } from "../../src/store/durable/log-writer";
import { Persistence } from "../../src/store/durable/persistence";
import { FakeClock } from "../../src/store/fake-clock";
import type { JournalTarget, SessionRow } from "../../src/store/memory/session-journal";
import { journalTargetOf, persistenceOf } from "../helpers/persistence-of";
import { DEFAULT_APP, Outcome, startTestServer, waitFor, withTimeout, type Connection, type TestServer } from "../helpers/test-server";

const T0 = 1_800_000_000_000;
const SMALL_THRESHOLDS = ["--snapshot-min-log-bytes", "4KiB", "--snapshot-log-ratio", "1"];
/** A generous bound: a snapshot's slices are 2 ms each, but CI machines are small and noisy. */
const MAX_STALL_MS = 100;
const LEASE_MS = 600_000;

/** Where Linux counts the main thread's time runnable but waiting for a CPU (schedstat's second field, ns). */
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

/**
 * How long the main thread has waited for a CPU so far, ms: a gap between timer ticks less this is
 * the stall of this process's own making (work, GC, a blocking call), not a busy machine's. 0
 * where the kernel does not say (the whole gap then counts).
 */
function cpuWaitMs(): number {
  try {
    return Number(fs.readFileSync(SCHEDSTAT, "latin1").split(" ")[1]) / 1e6;
  } catch {
    return 0;
  }
}

/** A line the server logged, and when (performance.now()) it was written. */
interface Logged {
  readonly at: number;
  readonly line: Record<string, unknown>;
}

function timedLogger(): { logger: ReturnType<typeof createLogger>; lines: Logged[] } {
  const lines: Logged[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const at = performance.now();
      for (const text of String(chunk).split("\n").filter((l) => l.length > 0)) lines.push({ at, line: JSON.parse(text) as Record<string, unknown> });
      done();
    },
  });
  return { logger: createLogger("info", sink), lines };
}

/** The snapshots a server logged: when each ran (performance.now() ms) and its figures. */
function snapshotsOf(lines: readonly Logged[]): { start: number; end: number; generation: number; sessions: number; longestSliceMs: number }[] {
  return lines
    .filter(({ line }) => line.msg === "snapshot written; older log files deleted")
    .map(({ at, line }) => ({
      start: at - Number(line.seconds) * 1000,
      end: at,
      generation: Number(line.generation),
      sessions: Number(line.sessions),
      longestSliceMs: Number(line.longestSliceMs),
    }));
}

/** Private fields of the memory backend the tests read: its journal and the target its snapshots scan. */
function internals(t: TestServer): { persistence: Persistence; target: JournalTarget } {
  return { persistence: persistenceOf(t), target: journalTargetOf(t) };
}

/** A session's whole state: every column the log keeps, and its data. */
interface FullSession {
  readonly row: SessionRow;
  readonly data: string;
}

/** Every live session's whole state, by app/id, and the next lock id. */
function fullState(t: TestServer): { sessions: Map<string, FullSession>; nextLockId: number } {
  const { target } = internals(t);
  const sessions = new Map<string, FullSession>();
  const cursor = { shard: 0, slot: 0 };
  for (let more = true; more; ) {
    more = target.scan(cursor, 4096, (app, sessionId, row, data) => {
      sessions.set(`${app}/${sessionId}`, { row: { ...row }, data: Buffer.from(data).toString("base64") });
    });
  }
  return { sessions, nextLockId: target.nextLockId };
}

/** The data files of `dir`, by name, with their sizes. */
function dataFiles(dir: string): { name: string; generation: number; kind: "log" | "snapshot" | "partial"; bytes: number }[] {
  const out = [];
  for (const name of fs.readdirSync(dir)) {
    const match = /^(log|snapshot)-(\d{16})\.(swlog|swsnap)(\.tmp)?$/.exec(name);
    if (match === null) continue;
    let bytes = 0;
    try {
      bytes = fs.statSync(path.join(dir, name)).size;
    } catch {
      continue; // Deleted between the listing and the stat.
    }
    out.push({ name, generation: Number(match[2]), kind: match[4] !== undefined ? ("partial" as const) : match[1] === "log" ? ("log" as const) : ("snapshot" as const), bytes });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** 1 KiB of data for `key`, different each round. */
function payload(key: string, round: number): string {
  return `${key}@${round}:`.padEnd(1024, String.fromCharCode(97 + (round % 26)));
}

/** Runs `worker(i)` for i < n at once and waits for all. */
async function concurrently(n: number, worker: (i: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => worker(i)));
}

describe("durability: snapshots (--data-dir, small thresholds)", function () {
  this.timeout(30_000);
  let dir: string;
  const servers: TestServer[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "stateward-snapshots-"));
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const start = async (thresholds: readonly string[] = SMALL_THRESHOLDS): Promise<{ t: TestServer; lines: Logged[] }> => {
    const { logger, lines } = timedLogger();
    // The same frozen instant each time: a restart sees the deadlines and leases as they were.
    const t = await startTestServer(["--data-dir", dir, ...thresholds], { clock: new FakeClock(T0), logger });
    servers.push(t);
    return { t, lines };
  };
  const stop = async (t: TestServer): Promise<void> => {
    await t.close();
    servers.splice(servers.indexOf(t), 1);
  };

  it("serves requests while a snapshot runs (the longest event-loop stall is measured), drops the log before it, and a restart after it and more log is exact", async () => {
    const SESSIONS = 4000;
    const { t, lines } = await start();
    const connections: Connection[] = Array.from({ length: 4 }, () => t.connect());
    const keys = Array.from({ length: SESSIONS }, (_, i) => `k${i}`);
    // Every 20th session is locked: its lock goes into the snapshot with it.
    const locked = new Map<string, bigint>();
    let changes = 0;
    await concurrently(32, async (w) => {
      const conn = connections[w % connections.length] as Connection;
      for (let i = w; i < SESSIONS; i += 32) {
        const sessionId = keys[i] as string;
        await conn.call.set({ sessionId, data: payload(sessionId, 0) });
        changes++;
        if (i % 20 === 0) {
          const lock = await conn.call.lock({ sessionId, leaseMs: LEASE_MS });
          assert.equal(lock.outcome, Outcome.OUTCOME_OK);
          locked.set(sessionId, lock.lockId);
          changes++;
        }
      }
    });
    const unlocked = keys.filter((key) => !locked.has(key));

    // Load: Sets and Gets on every connection, every completion timed, while snapshots come by
    // themselves (the log outgrows the live data) and one is called for.
    const completions: number[] = [];
    const failures: unknown[] = [];
    let stopLoad = false;
    let round = 1;
    const load = concurrently(24, async (w) => {
      const conn = connections[w % connections.length] as Connection;
      for (let n = 0; !stopLoad; n++) {
        const sessionId = unlocked[(w * 997 + n * 31) % unlocked.length] as string;
        try {
          if (n % 3 === 2) {
            const got = await conn.call.get({ sessionId });
            assert.equal(got.outcome, Outcome.OUTCOME_OK);
          } else {
            await conn.call.set({ sessionId, data: payload(sessionId, round++) });
            changes++;
          }
          completions.push(performance.now());
        } catch (error) {
          failures.push(error);
          return;
        }
      }
    });
    // The event loop's stalls: the gaps between 1 ms ticks, each with the time the main thread
    // spent runnable but without a CPU meanwhile (other processes had it: not the server's doing).
    const gaps: { at: number; ms: number; ownMs: number }[] = [];
    let lastTick = performance.now();
    let lastWait = cpuWaitMs();
    const ticker = setInterval(() => {
      const now = performance.now();
      const wait = cpuWaitMs();
      const ms = now - lastTick;
      gaps.push({ at: now, ms, ownMs: ms - (wait - lastWait) });
      lastTick = now;
      lastWait = wait;
    }, 1);
    // Garbage collections (of the whole process: the clients run in it too), to tell their pauses apart.
    const collections: { start: number; ms: number }[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) collections.push({ start: entry.startTime, ms: entry.duration });
    });
    observer.observe({ entryTypes: ["gc"] });
    const loadStarted = performance.now();
    try {
      await waitFor(() => completions.length >= 1500 || failures.length > 0, "the load to get going", 10_000);
      const called = performance.now();
      await withTimeout(internals(t).persistence.snapshotNow(), 10_000, "the snapshot called for");
      const calledEnd = performance.now();
      // Some more load after it (more snapshots may come by themselves).
      const after = completions.length;
      await waitFor(() => completions.length >= after + 1500 || failures.length > 0, "more load", 10_000);
      stopLoad = true;
      await load;
      assert.deepEqual(failures, [], "no request failed during the load");

      const snapshots = snapshotsOf(lines).filter((s) => s.end >= loadStarted);
      assert.ok(snapshots.length >= 1, "a snapshot ran during the load");
      assert.ok(
        snapshots.some((s) => s.end >= called && s.end <= calledEnd + 5),
        "the snapshot called for is among them",
      );
      let longest = 0;
      let longestOwn = 0;
      for (const s of snapshots) {
        const during = completions.filter((at) => at >= s.start && at <= s.end).length;
        const overlapping = gaps.filter((g) => g.at >= s.start && g.at - g.ms <= s.end);
        const stall = Math.max(0, ...overlapping.map((g) => g.ms));
        const own = Math.max(0, ...overlapping.map((g) => g.ownMs));
        const gc = Math.max(0, ...collections.filter((c) => c.start + c.ms >= s.start && c.start <= s.end).map((c) => c.ms));
        longest = Math.max(longest, stall);
        longestOwn = Math.max(longestOwn, own);
        console.log(
          `      snapshot of generation ${s.generation}: ${s.sessions} sessions in ${(s.end - s.start).toFixed(1)} ms, ` +
            `${during} requests completed during it; longest event-loop stall ${stall.toFixed(1)} ms, ${own.toFixed(1)} ms less waits for a CPU ` +
            `(longest scan slice ${s.longestSliceMs} ms, longest GC pause ${gc.toFixed(1)} ms)`,
        );
        assert.ok(during > 0, `requests completed during the snapshot of generation ${s.generation}`);
        assert.equal(s.sessions, SESSIONS, "every session is in the snapshot");
      }
      console.log(
        `      load: ${completions.length} requests in ${(performance.now() - loadStarted).toFixed(0)} ms, ${snapshots.length} snapshot(s); ` +
          `longest event-loop stall during a snapshot: ${longest.toFixed(1)} ms, ${longestOwn.toFixed(1)} ms less the main thread's waits for a CPU`,
      );
      assert.ok(
        longestOwn < MAX_STALL_MS,
        `the longest event-loop stall during a snapshot is ${longestOwn.toFixed(1)} ms (${longest.toFixed(1)} ms with waits for a CPU; bound ${MAX_STALL_MS} ms)`,
      );
    } finally {
      clearInterval(ticker);
      observer.disconnect();
      stopLoad = true;
      await load.catch(() => undefined);
    }

    // A snapshot after the load (after the one under way, if any, which snapshotNow waits for):
    // its log holds nothing but the changes below, and the log before it is dropped.
    await withTimeout(internals(t).persistence.snapshotNow(), 10_000, "a snapshot under way");
    await withTimeout(internals(t).persistence.snapshotNow(), 10_000, "the last snapshot");
    const snapshotted = snapshotsOf(lines).length;
    const files = dataFiles(dir);
    const snapshotFiles = files.filter((f) => f.kind === "snapshot");
    assert.equal(snapshotFiles.length, 1, `one snapshot: ${files.map((f) => f.name).join(", ")}`);
    const generation = (snapshotFiles[0] as (typeof files)[number]).generation;
    assert.deepEqual(
      files.filter((f) => f.generation < generation || f.kind === "partial").map((f) => f.name),
      [],
      "no file of an older generation, no partial snapshot",
    );

    // More log after the snapshot: every kind of change.
    const conn = connections[0] as Connection;
    for (let i = 0; i < 200; i++) await conn.call.set({ sessionId: unlocked[i] as string, data: payload(`more${i}`, i) });
    for (let i = 0; i < 50; i++) await conn.call.set({ sessionId: `new${i}`, data: `new session ${i}` });
    for (let i = 200; i < 220; i++) assert.equal((await conn.call.lock({ sessionId: unlocked[i] as string, leaseMs: LEASE_MS })).outcome, Outcome.OUTCOME_OK);
    const heldKeys = [...locked.keys()];
    for (const sessionId of heldKeys.slice(0, 10)) await conn.call.release({ sessionId, lockId: locked.get(sessionId) as bigint });
    for (const sessionId of heldKeys.slice(10, 20)) {
      await conn.call.set({ sessionId, data: `held write ${sessionId}`, lockId: locked.get(sessionId) as bigint, keepLock: true });
    }
    for (let i = 220; i < 240; i++) await conn.call.remove({ sessionId: unlocked[i] as string });
    for (let i = 240; i < 260; i++) await conn.call.expire({ sessionId: unlocked[i] as string, ttlSeconds: 7200 });
    const moreLog = 200 + 50 + 20 + 10 + 10 + 20 + 20;
    changes += moreLog;
    assert.equal(snapshotsOf(lines).length, snapshotted, "no snapshot after the last one: the restart replays it and a log");
    const logAfter = dataFiles(dir).filter((f) => f.kind === "log" && f.generation >= generation);
    assert.ok(logAfter.reduce((sum, f) => sum + f.bytes, 0) > 200 * 1024, "the changes after the snapshot are in the log");

    const before = fullState(t);
    assert.equal(before.sessions.size, SESSIONS + 50 - 20);
    const countsBefore = await t.counts();
    await stop(t);

    const { t: restarted, lines: restartLines } = await start();
    const after = fullState(restarted);
    assert.deepEqual(after.sessions, before.sessions, "every session's whole state (data, version, ttl, deadline, lock) is as before the restart");
    assert.ok(after.nextLockId >= before.nextLockId, "lock ids go on above those issued");
    assert.deepEqual(await restarted.counts(), countsBefore);
    const replayed = Number(restartLines.find(({ line }) => line.msg === "replayed the data directory")?.line.records);
    console.log(`      restart: ${replayed} records replayed (a snapshot and its log) for ${changes} changes made`);
    // The snapshot's sessions and its two marks (the lock-id watermark, the end), then one record per change after it.
    assert.equal(replayed, SESSIONS + 2 + moreLog, "the restart replays the snapshot and the log after it, not the log before it");
    // A lock held before the restart still works with its lock id.
    const [heldKey, heldId] = [...locked].at(-1) as [string, bigint];
    assert.equal((await restarted.call.set({ sessionId: heldKey, data: "after the restart", lockId: heldId })).written, true);
  });

  it("after a snapshot the log before it is dropped, and replay starts from the snapshot", async () => {
    // The default thresholds (64 MiB of log at least): only the snapshot called for runs.
    const { t, lines } = await start([]);
    for (let i = 0; i < 40; i++) await t.call.set({ sessionId: `s${i}`, data: payload(`s${i}`, 0) });
    assert.deepEqual(
      dataFiles(dir).map((f) => f.name),
      ["log-0000000000000001.swlog"],
    );
    const logBefore = internals(t).persistence.stats().logBytes;
    await internals(t).persistence.snapshotNow();
    assert.equal(snapshotsOf(lines).length, 1);
    assert.deepEqual(
      dataFiles(dir).map((f) => `${f.name}:${f.kind === "log" ? f.bytes : "-"}`),
      ["log-0000000000000002.swlog:16", "snapshot-0000000000000002.swsnap:-"],
      "the snapshot and an empty log of its generation; the older log is deleted",
    );
    const stats = internals(t).persistence.stats();
    assert.equal(stats.logBytes, 16, `the log since the snapshot (was ${logBefore})`);
    assert.ok(stats.snapshotBytes > 40 * 1024);
    await t.call.set({ sessionId: "s0", data: "after the snapshot" });
    const before = fullState(t);
    await stop(t);
    const { t: restarted, lines: restartLines } = await start([]);
    assert.deepEqual(fullState(restarted).sessions, before.sessions);
    // 40 state records and 2 marks in the snapshot, one record in the log.
    assert.equal(restartLines.find(({ line }) => line.msg === "replayed the data directory")?.line.records, 40 + 2 + 1);
  });

  it("keeps the data directory's size bounded under a steady overwrite load, deleting older generations", async () => {
    const SESSIONS = 256;
    const ROUNDS = 30;
    const { t, lines } = await start();
    const connections: Connection[] = Array.from({ length: 4 }, () => t.connect());
    const keys = Array.from({ length: SESSIONS }, (_, i) => `over${i}`);
    const liveRecords = keys.reduce((sum, key) => sum + stateRecordBytes(DEFAULT_APP.length, key.length, 1024), 0);

    let maxBytes = 0;
    let peak = "";
    let maxFiles = 0;
    let samples = 0;
    const generations = new Set<number>();
    const sample = (): void => {
      const files = dataFiles(dir);
      samples++;
      const total = files.reduce((sum, f) => sum + f.bytes, 0);
      if (total > maxBytes) peak = files.map((f) => `${f.name} ${(f.bytes / 1024).toFixed(0)} KiB`).join(", ");
      maxBytes = Math.max(maxBytes, total);
      maxFiles = Math.max(maxFiles, files.length);
      for (const f of files) generations.add(f.generation);
    };
    const sampler = setInterval(sample, 2);
    let written = 0;
    const loadStarted = performance.now();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await concurrently(32, async (w) => {
          const conn = connections[w % connections.length] as Connection;
          for (let i = w; i < SESSIONS; i += 32) {
            const sessionId = keys[i] as string;
            await conn.call.set({ sessionId, data: payload(sessionId, round) });
            written += stateRecordBytes(DEFAULT_APP.length, sessionId.length, 1024);
          }
        });
        sample();
      }
    } finally {
      clearInterval(sampler);
    }
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const liveBytes = t.memory().stats().bytesUsed;
    // A snapshot may still be running: wait for it to finish and delete what it replaces.
    await waitFor(() => {
      const files = dataFiles(dir);
      return files.filter((f) => f.kind === "snapshot").length === 1 && files.every((f) => f.kind !== "partial");
    }, "the last snapshot to finish", 5000);
    await waitFor(() => {
      const files = dataFiles(dir);
      const newest = Math.max(...files.filter((f) => f.kind === "snapshot").map((f) => f.generation));
      return files.every((f) => f.generation >= newest);
    }, "older generations' files to be deleted", 5000);
    const snapshots = snapshotsOf(lines).length;
    const final = dataFiles(dir);
    const newest = Math.max(...final.filter((f) => f.kind === "snapshot").map((f) => f.generation));

    // At most: the last snapshot and the one being written; the log rotated out (the threshold,
    // ratio 1 times the live data, plus what came while the snapshot before ran) and the new log
    // (what comes while this one runs). What comes during a snapshot is the load's rate times the
    // snapshot's duration, which depends on the machine (on a quiet one: a few hundred KiB here);
    // it is counted at twice the average rate, for bursts. Without snapshots: everything written.
    const longestSnapshotSeconds = Math.max(...snapshotsOf(lines).map((s) => (s.end - s.start) / 1000));
    const duringSnapshots = 2 * 2 * (written / loadSeconds) * longestSnapshotSeconds;
    const bound = 2 * liveRecords + Math.max(4096, liveBytes) + duringSnapshots + 64 * 1024;
    console.log(
      `      ${SESSIONS} sessions of 1 KiB overwritten ${ROUNDS} times (${(written / 1024 ** 2).toFixed(1)} MiB of log records in ${loadSeconds.toFixed(1)} s): ` +
        `${snapshots} snapshots (the longest ${(longestSnapshotSeconds * 1000).toFixed(0)} ms); data directory at most ${(maxBytes / 1024).toFixed(0)} KiB ` +
        `in ${maxFiles} files over ${samples} samples (live records ${(liveRecords / 1024).toFixed(0)} KiB, bytes charged ${(liveBytes / 1024).toFixed(0)} KiB, ` +
        `bound ${(bound / 1024).toFixed(0)} KiB); at the peak: ${peak}`,
    );
    assert.ok(snapshots >= 5, `snapshots came by themselves (${snapshots})`);
    assert.ok(maxBytes < bound, `the data directory reached ${maxBytes} bytes (bound ${bound})`);
    assert.ok(maxBytes < written / 4, `the data directory reached ${maxBytes} bytes, for ${written} bytes of records written`);
    assert.ok(maxFiles <= 4, `at most a snapshot, the one being written and two logs at once (${maxFiles} files)`);
    assert.ok(generations.size > snapshots / 2, "many generations came and went");
    assert.deepEqual(
      final.filter((f) => f.generation < newest).map((f) => f.name),
      [],
      "every older generation's files are deleted",
    );
    const atRest = final.reduce((sum, f) => sum + f.bytes, 0);
    assert.ok(atRest < 2 * liveRecords + Math.max(4096, liveBytes) + duringSnapshots, `at rest: the snapshot and a log shorter than the threshold (${atRest} bytes)`);

    // And it is all still there after a restart: the last round's data, version ROUNDS.
    const before = fullState(t);
    await stop(t);
    const { t: restarted } = await start();
    const after = fullState(restarted);
    assert.deepEqual(after.sessions, before.sessions);
    for (const key of keys.slice(0, 16)) {
      const got = await restarted.call.get({ sessionId: key });
      assert.equal(got.version, BigInt(ROUNDS));
      assert.equal(Buffer.from(got.data).toString(), payload(key, ROUNDS - 1));
    }
  });

  it("syncs the log a snapshot rotates out before the next log exists, also under load on a slow disk (a crash cannot leave an older log torn behind a newer one)", async () => {
    const { t, lines } = await start();
    const { persistence } = internals(t);
    // A disk whose fdatasync takes 20 ms, and a look at the current log whenever a log is created.
    const rotations: { log: string; unsyncedBytes: number }[] = [];
    const { fdatasync, openSync } = fs;
    const slowSync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
      fdatasync(fd, (error) => setTimeout(() => callback(error), 20));
    };
    const watchedOpen = (file: fs.PathLike, flags: fs.OpenMode = "r", mode?: fs.Mode | null): number => {
      if (flags === "w" && /log-\d{16}\.swlog$/.test(String(file))) {
        const writer = Reflect.get(persistence, "writer") as LogWriter;
        rotations.push({ log: path.basename(String(file)), unsyncedBytes: writer.size - Number(Reflect.get(writer, "synced")) });
      }
      return openSync(file, flags, mode);
    };
    Object.assign(fs, { fdatasync: slowSync, openSync: watchedOpen });
    try {
      const connections: Connection[] = Array.from({ length: 4 }, () => t.connect());
      // Until the log was rotated three times (a round is 256 KiB of log; snapshots take a few syncs).
      for (let round = 0; rotations.length < 3 && round < 60; round++) {
        await concurrently(32, async (w) => {
          for (let i = w; i < 256; i += 32) await (connections[w % 4] as Connection).call.set({ sessionId: `slow${i}`, data: payload(`slow${i}`, round) });
        });
      }
    } finally {
      Object.assign(fs, { fdatasync, openSync });
    }
    console.log(`      ${rotations.length} rotations under load with 20 ms syncs: ${rotations.map((r) => `${r.log} (${r.unsyncedBytes} bytes of the older log unsynced)`).join(", ")}`);
    assert.ok(rotations.length >= 3, `snapshots rotated the log (${rotations.length} times)`);
    assert.ok(snapshotsOf(lines).length >= 1);
    for (const rotation of rotations) assert.equal(rotation.unsyncedBytes, 0, `the log before ${rotation.log} is synced when it is created`);
  });
});
