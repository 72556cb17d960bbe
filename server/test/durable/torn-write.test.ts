/**
 * Damaged data directories (--data-dir): a log cut at many byte offsets recovers exactly the valid
 * prefix (with a warning when a record was cut in two); a byte flipped before the last record, or
 * anywhere in a snapshot, refuses the start with the file, the offset and the fix, and the real
 * `stateward repair` keeps the valid prefix. The history is built once through the API on a fake
 * clock (no touches, no lease ends), one record per change, its state read after every record.
 */
import * as assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FakeClock } from "../../src/store/fake-clock";
import { LOG_MAGIC, fileHeader } from "../../src/store/durable/data-dir";
import { DataDamageError } from "../../src/store/durable/replay";
import { runBuiltCli } from "../helpers/cli-process";
import { capturedLogger } from "../helpers/secure-server";
import { persistenceOf } from "../helpers/persistence-of";
import { Outcome, getReq, startTestServer, type TestServer } from "../helpers/test-server";
import { startServerProcess } from "../fault/server-process";
import { seededRandom } from "../helpers/seeded-random";

/** The fake time of every server here: the history's deadlines and leases never pass. */
const T0 = 1_800_000_000_000;
const IDS = ["s-a", "s-b", "s-c", "s-d", "s-e", "s-f", "s-g"];
/** Bytes of a data file's header (magic and generation). */
const HEADER = 16;

/** What a Get of one session answers, in comparable form. */
type View = string;
/** Every session's view, by id. */
type State = Readonly<Record<string, View>>;

/** The record starts and ends of a data file, parsed here from the documented frame (u32 length, u32 ~length, u32 crc, payload). */
interface Frame {
  readonly start: number;
  readonly end: number;
  readonly type: number;
  readonly sessionId: string;
}

function frames(bytes: Buffer): Frame[] {
  const out: Frame[] = [];
  for (let at = HEADER; at + 12 <= bytes.length; ) {
    const length = bytes.readUInt32LE(at);
    assert.equal(~bytes.readUInt32LE(at + 4) >>> 0, length, `a whole record at ${at}`);
    const end = at + 12 + length;
    if (end > bytes.length) break;
    const payload = at + 12;
    const appLength = bytes[payload + 1] as number;
    const idLength = bytes.readUInt16LE(payload + 2 + appLength);
    const sessionId = bytes.toString("latin1", payload + 4 + appLength, payload + 4 + appLength + idLength);
    out.push({ start: at, end, type: bytes[payload] as number, sessionId });
    at = end;
  }
  return out;
}

async function readState(server: TestServer): Promise<State> {
  const state: Record<string, View> = {};
  for (const sessionId of IDS) {
    const got = await server.call.get(getReq({ sessionId }));
    state[sessionId] =
      got.outcome === Outcome.OUTCOME_NOT_FOUND
        ? "absent"
        : `${Outcome[got.outcome]} v${got.version} lock ${got.lockId} ttl ${got.ttlSeconds} data ${Buffer.from(got.data).toString("hex")}`;
  }
  return state;
}

function onlyFile(dir: string, pattern: RegExp): string {
  const names = fs.readdirSync(dir).filter((name) => pattern.test(name));
  assert.equal(names.length, 1, `one file like ${pattern} in ${dir}: ${names.join(", ")}`);
  return names[0] as string;
}

function flipByte(file: string, offset: number): void {
  const bytes = fs.readFileSync(file);
  bytes[offset] = (bytes[offset] as number) ^ 0x5a;
  fs.writeFileSync(file, bytes);
}

describe("durability: torn and damaged data files (--data-dir)", function () {
  this.timeout(120_000);
  const temporary: string[] = [];
  const servers: TestServer[] = [];
  const tempDir = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stateward-torn-"));
    temporary.push(dir);
    return dir;
  };
  /** A copy of `source` to damage. */
  const copyOf = (source: string): string => {
    const dir = tempDir();
    fs.cpSync(source, dir, { recursive: true });
    return fs.realpathSync(dir);
  };
  const start = async (dir: string, flags: string[] = []): Promise<{ server: TestServer; log: ReturnType<typeof capturedLogger> }> => {
    const log = capturedLogger();
    const server = await startTestServer(["--data-dir", dir, ...flags], { clock: new FakeClock(T0), logger: log.logger });
    servers.push(server);
    return { server, log };
  };
  const stop = async (server: TestServer): Promise<void> => {
    servers.splice(servers.indexOf(server), 1);
    await server.close();
  };
  const refusal = async (dir: string): Promise<DataDamageError> => {
    try {
      const { server } = await start(dir);
      await stop(server);
    } catch (error) {
      assert.ok(error instanceof DataDamageError, `expected a DataDamageError, got ${String(error)}`);
      return error;
    }
    assert.fail(`the server started on the damaged directory ${dir}`);
  };
  const cutWarnings = (log: ReturnType<typeof capturedLogger>): Record<string, unknown>[] =>
    log.lines.filter((line) => line.level === 40 && typeof line.msg === "string" && line.msg.includes("cut short"));

  after(() => {
    for (const dir of temporary.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close().catch(() => undefined);
  });

  describe("the log", () => {
    let source: string;
    let logName: string;
    let logBytes: Buffer;
    /** The state after each record of the log, by the record's end offset (the header's end: empty). */
    const states = new Map<number, State>();
    let boundaries: number[];

    before(async () => {
      source = fs.realpathSync(tempDir());
      const { server } = await start(source);
      logName = onlyFile(source, /^log-\d{16}\.swlog$/);
      const logFile = path.join(source, logName);
      const empty = await readState(server);
      assert.equal(fs.statSync(logFile).size, HEADER);
      states.set(HEADER, empty);

      // Each change the history makes is one record: after each, the log's new end and the state.
      const random = seededRandom(15);
      const held = new Map<string, bigint>();
      let changes = 0;
      for (let step = 0; step < 80; step++) {
        const sessionId = IDS[Math.floor(random() * IDS.length)] as string;
        const before = fs.statSync(logFile).size;
        const lockId = held.get(sessionId);
        const dice = random();
        const data = Buffer.alloc(Math.floor(random() * 200), `${sessionId}:${step}:`);
        if (lockId !== undefined) {
          if (dice < 0.4) await server.call.set({ sessionId, data, lockId, keepLock: dice < 0.15 });
          else if (dice < 0.7) await server.call.release({ sessionId, lockId });
          else await server.call.remove({ sessionId, lockId });
          if (dice >= 0.15) held.delete(sessionId);
        } else if (dice < 0.45) {
          await server.call.set({ sessionId, data, ...(random() < 0.3 ? { ttlSeconds: 300 + step } : {}) });
        } else if (dice < 0.7) {
          const locked = await server.call.lock({ sessionId, create: true, leaseMs: 600_000 });
          if (locked.outcome === Outcome.OUTCOME_OK) held.set(sessionId, locked.lockId);
        } else if (dice < 0.85) {
          await server.call.remove({ sessionId });
        } else {
          await server.call.expire({ sessionId, ttlSeconds: 900 + step });
        }
        const after = fs.statSync(logFile).size;
        if (after === before) continue;
        const written = frames(fs.readFileSync(logFile)).filter((frame) => frame.start >= before);
        assert.equal(written.length, 1, `step ${step} wrote one record`);
        const state = await readState(server);
        assert.equal(fs.statSync(logFile).size, after, "reading the state writes nothing (a fake clock that stands still journals no touches)");
        states.set(after, state);
        changes++;
      }
      assert.ok(changes >= 50, `the history has ${changes} changes`);
      await stop(server);
      logBytes = fs.readFileSync(logFile);
      boundaries = [...states.keys()].sort((a, b) => a - b);
      assert.deepEqual(
        frames(logBytes).map((frame) => frame.end),
        boundaries.slice(1),
        "the log holds exactly the records of the history (graceful shutdown appends nothing)",
      );
    });

    /** The state as of the last whole record before `offset`. */
    const prefixState = (offset: number): { state: State; boundary: number } => {
      let boundary = HEADER;
      for (const end of boundaries) if (end <= offset) boundary = end;
      return { state: states.get(boundary) as State, boundary };
    };

    it("recovers exactly the valid prefix wherever the log is cut, and warns when a record (or the header) was cut in two", async () => {
      const random = seededRandom(42);
      const size = logBytes.length;
      const cuts = new Set<number>([0, 1, 8, 15, HEADER, HEADER + 1, HEADER + 11, HEADER + 12, size - 1]);
      // Exactly at record boundaries, a spread of them (the first, the last, and every seventh).
      boundaries.forEach((end, index) => {
        if (index % 7 === 0 || index === boundaries.length - 1) cuts.add(end);
      });
      while (cuts.size < 9 + Math.ceil(boundaries.length / 7) + 40) cuts.add(HEADER + Math.floor(random() * (size - HEADER)));
      const failures: string[] = [];
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        const dir = copyOf(source);
        fs.truncateSync(path.join(dir, logName), cut);
        const { server, log } = await start(dir);
        const { state, boundary } = prefixState(cut);
        const whole = cut === boundary;
        try {
          assert.deepEqual(await readState(server), state, `cut at ${cut}: the state as of the record ending at ${boundary}`);
          const warnings = cutWarnings(log);
          if (whole) {
            assert.equal(warnings.length, 0, `cut at ${cut} (a record boundary): no warning`);
          } else {
            assert.equal(warnings.length, 1, `cut at ${cut} (inside a record): one warning; the log said ${log.text()}`);
            assert.equal(warnings[0]?.offset, cut < HEADER ? 0 : boundary, `cut at ${cut}: the warning names where the cut-off record starts`);
            assert.equal(warnings[0]?.file, path.join(dir, logName));
          }
          // The log goes on from the valid prefix: a change after recovery survives the next restart.
          await server.call.set({ sessionId: "after-recovery", data: `cut ${cut}` });
          await stop(server);
          const again = await start(dir);
          const got = await again.server.call.get(getReq({ sessionId: "after-recovery" }));
          assert.equal(Buffer.from(got.data).toString(), `cut ${cut}`, `cut at ${cut}: a change after recovery is kept`);
          assert.deepEqual(await readState(again.server), state, `cut at ${cut}: the recovered state is kept by the next restart`);
          assert.equal(cutWarnings(again.log).length, 0, `cut at ${cut}: nothing is cut off twice`);
          await stop(again.server);
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }
      assert.deepEqual(failures, [], `${failures.length} of ${cuts.size} cuts went wrong`);
    });

    it("cuts off a last record with a flipped byte (a torn write) and keeps the records before it", async () => {
      const last = frames(logBytes).at(-1) as Frame;
      const dir = copyOf(source);
      flipByte(path.join(dir, logName), last.start + 12 + Math.floor((last.end - last.start - 12) / 2));
      const { server, log } = await start(dir);
      assert.deepEqual(await readState(server), prefixState(last.start).state);
      const warnings = cutWarnings(log);
      assert.equal(warnings.length, 1, `a warning about the cut-off record: ${log.text()}`);
      assert.equal(warnings[0]?.offset, last.start);
      assert.equal(fs.statSync(path.join(dir, logName)).size, last.start, "the torn record is cut off the file");
    });

    it("cuts off zeros after the last record (the unwritten tail a machine crash leaves), and refuses zeros followed by records", async () => {
      const dir = copyOf(source);
      const file = path.join(dir, logName);
      fs.appendFileSync(file, Buffer.alloc(8192));
      const { server, log } = await start(dir);
      assert.deepEqual(await readState(server), prefixState(logBytes.length).state);
      const warnings = cutWarnings(log);
      assert.equal(warnings.length, 1, log.text());
      assert.equal(warnings[0]?.offset, logBytes.length);
      assert.equal(warnings[0]?.bytes, 8192);
      await stop(server);
      assert.equal(fs.statSync(file).size, logBytes.length);

      const middle = frames(logBytes)[10] as Frame;
      const zeroed = copyOf(source);
      const bytes = Buffer.from(logBytes);
      bytes.fill(0, middle.start, middle.end);
      fs.writeFileSync(path.join(zeroed, logName), bytes);
      assert.equal((await refusal(zeroed)).offset, middle.start);
    });

    describe("split into two logs (a crash while a snapshot was written: the log it rotated out and the new one)", () => {
      /** A copy of the history with its records from `split` on in the next generation's log. */
      const twoLogs = (split: Frame): { dir: string; first: string; second: string } => {
        const dir = copyOf(source);
        const generation = Number(/\d{16}/.exec(logName)?.[0]);
        const first = path.join(dir, logName);
        const second = path.join(dir, `log-${String(generation + 1).padStart(16, "0")}.swlog`);
        fs.writeFileSync(first, logBytes.subarray(0, split.start));
        fs.writeFileSync(second, Buffer.concat([fileHeader(LOG_MAGIC, generation + 1), logBytes.subarray(split.start)]));
        return { dir, first, second };
      };
      const split = (): Frame => frames(logBytes)[Math.floor(frames(logBytes).length / 2)] as Frame;

      it("replays both in order, and cuts off a torn tail of the newer one", async () => {
        const whole = twoLogs(split());
        const { server, log } = await start(whole.dir);
        assert.deepEqual(await readState(server), prefixState(logBytes.length).state);
        assert.equal(cutWarnings(log).length, 0);
        await stop(server);

        const torn = twoLogs(split());
        const cut = fs.statSync(torn.second).size - 3;
        fs.truncateSync(torn.second, cut);
        const recovered = await start(torn.dir);
        const last = frames(logBytes).at(-1) as Frame;
        assert.deepEqual(await readState(recovered.server), prefixState(last.start).state);
        assert.equal(cutWarnings(recovered.log).length, 1);
      });

      it("refuses a torn tail of the older one (records follow it in the newer log); repair keeps the older log's whole records and deletes the newer", async () => {
        const at = split();
        const { dir, first, second } = twoLogs(at);
        const previous = frames(logBytes.subarray(0, at.start)).at(-1) as Frame;
        fs.truncateSync(first, at.start - 2);
        const error = await refusal(dir);
        assert.equal(error.file, first);
        assert.equal(error.offset, previous.start);
        const repaired = await runBuiltCli(["repair", "--data-dir", dir]);
        assert.equal(repaired.code, 0, `repair: ${repaired.stdout}${repaired.stderr}`);
        assert.match(repaired.stdout, new RegExp(`${path.basename(second)}: deleted: it follows a damaged log`));
        assert.ok(!fs.existsSync(second));
        const { server } = await start(dir);
        assert.deepEqual(await readState(server), prefixState(previous.start).state);
        // The next changes go on in a log after the kept one, and survive a restart.
        await server.call.set({ sessionId: "after-repair", data: "x" });
        await stop(server);
        const again = await start(dir);
        assert.equal((await again.server.call.get(getReq({ sessionId: "after-repair" }))).outcome, Outcome.OUTCOME_OK);
      });
    });

    for (const [where, at] of [
      ["in the payload", (frame: Frame) => frame.start + 12 + Math.floor((frame.end - frame.start - 12) / 2)],
      ["in the length", (frame: Frame) => frame.start + 1],
      ["in the checksum", (frame: Frame) => frame.start + 9],
    ] as const) {
      it(`refuses a log with a byte flipped ${where} of a record in the middle; stateward repair keeps the records before it`, async () => {
        const all = frames(logBytes);
        const damaged = all[Math.floor(all.length / 2)] as Frame;
        const dir = copyOf(source);
        const file = path.join(dir, logName);
        flipByte(file, at(damaged));

        const error = await refusal(dir);
        assert.equal(error.file, file);
        assert.equal(error.offset, damaged.start);
        assert.ok(error.message.includes(file), error.message);
        assert.ok(error.message.includes(`offset ${damaged.start}`), error.message);
        assert.ok(error.message.includes(`stateward repair --data-dir ${dir}`), error.message);
        assert.equal(fs.statSync(file).size, logBytes.length, "a refused start changes nothing");

        const repaired = await runBuiltCli(["repair", "--data-dir", dir]);
        assert.equal(repaired.code, 0, `repair: ${repaired.stdout}${repaired.stderr}`);
        assert.match(repaired.stdout, new RegExp(`${logName}: damaged at offset ${damaged.start} .*cut to ${damaged.start} bytes`));
        assert.match(repaired.stdout, /repaired; the server will start on it/);
        assert.equal(fs.statSync(file).size, damaged.start);

        const { server, log } = await start(dir);
        assert.deepEqual(await readState(server), prefixState(damaged.start).state, "exactly the records before the damaged one");
        assert.equal(cutWarnings(log).length, 0);
        await stop(server);
        const again = await runBuiltCli(["repair", "--data-dir", dir]);
        assert.equal(again.code, 0);
        assert.match(again.stdout, /has no damage; nothing changed/);
      });
    }

    it("the stateward command refuses to serve a damaged log: it exits naming the file, the offset and the fix", async () => {
      const all = frames(logBytes);
      const damaged = all[Math.floor(all.length / 3)] as Frame;
      const dir = copyOf(source);
      flipByte(path.join(dir, logName), damaged.end - 1);
      await assert.rejects(
        startServerProcess(["--data-dir", dir]),
        (error: Error) =>
          error.message.includes("the server exited with") &&
          error.message.includes(path.join(dir, logName)) &&
          error.message.includes(`offset ${damaged.start}`) &&
          error.message.includes(`stateward repair --data-dir ${dir}`),
      );
    });
  });

  it("a log larger than the reader's 4 MiB chunk, with a record larger than it, recovers exactly the valid prefix wherever it is cut", async () => {
    const source = fs.realpathSync(tempDir());
    const flags = ["--max-item-bytes", "6MiB"];
    const { server } = await start(source, flags);
    // Each session is written once: the state as of a cut is the sessions whose record ends before it.
    const sizes = [300_000, 300_000, 5 * 1024 * 1024, ...Array.from({ length: 12 }, (_, i) => 200_000 + i * 1000)];
    const data = sizes.map((size, i) => Buffer.alloc(size, `big-${i}:`));
    for (const [i, bytes] of data.entries()) await server.call.set({ sessionId: `big-${i}`, data: bytes });
    await stop(server);
    const logName = onlyFile(source, /^log-\d{16}\.swlog$/);
    const all = frames(fs.readFileSync(path.join(source, logName)));
    assert.equal(all.length, sizes.length);
    const chunkEnd = HEADER + 4 * 1024 * 1024;
    const crossing = all.find((frame) => frame.start < chunkEnd && frame.end > chunkEnd) as Frame;
    assert.ok(crossing !== undefined && crossing.end - crossing.start > 4 * 1024 * 1024, "the large record spans the first chunk's end");
    const random = seededRandom(7);
    const last = all.at(-1) as Frame;
    const cuts = new Set([crossing.start, crossing.start + 12, chunkEnd, crossing.end - 1, crossing.end, crossing.end + 5, last.start + 1, last.end]);
    while (cuts.size < 16) cuts.add(HEADER + Math.floor(random() * (last.end - HEADER)));
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      const dir = copyOf(source);
      fs.truncateSync(path.join(dir, logName), cut);
      const { server: recovered, log } = await start(dir, flags);
      const whole = all.filter((frame) => frame.end <= cut).length;
      for (const [i, bytes] of data.entries()) {
        const got = await recovered.call.get(getReq({ sessionId: `big-${i}` }));
        if (i < whole) assert.ok(got.outcome === Outcome.OUTCOME_OK && Buffer.from(got.data).equals(bytes), `cut at ${cut}: big-${i} is kept whole`);
        else assert.equal(got.outcome, Outcome.OUTCOME_NOT_FOUND, `cut at ${cut}: big-${i} was cut off`);
      }
      const boundary = whole === 0 ? HEADER : (all[whole - 1] as Frame).end;
      assert.equal(cutWarnings(log).length, cut === boundary ? 0 : 1, `cut at ${cut}: a warning only for a record cut in two`);
      await stop(recovered);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("a snapshot", () => {
    let source: string;
    let snapshotName: string;
    /** What every session was set to (each is written once). */
    const written = new Map<string, string>();
    let snapshotFrames: Frame[];
    /** Sessions with a state record in a log after the snapshot. */
    let loggedAfter: Set<string>;
    /** The session locked after the snapshot, and its lock id. */
    let lockedAfter: string;
    let lockIdAfter: bigint;
    const sessions = Array.from({ length: 60 }, (_, i) => `snap-${String(i).padStart(2, "0")}`);

    before(async () => {
      source = fs.realpathSync(tempDir());
      const { server } = await start(source, ["--snapshot-min-log-bytes", "4096", "--snapshot-log-ratio", "0.1"]);
      for (const sessionId of sessions) {
        const data = `${sessionId}:`.repeat(20);
        await server.call.set({ sessionId, data });
        written.set(sessionId, data);
      }
      // A shutdown abandons a snapshot under way (the log holds everything), so the test waits for
      // the one under way, if any, then calls for one holding every session.
      await persistenceOf(server).snapshotNow();
      await persistenceOf(server).snapshotNow();
      await stop(server);
      snapshotName = onlyFile(source, /^snapshot-\d{16}\.swsnap$/);
      snapshotFrames = frames(fs.readFileSync(path.join(source, snapshotName)));
      // The snapshot's last session is locked after it (a meta record in the log, and no snapshot
      // more): damage before that session's record loses it, but not its lock id.
      lockedAfter = (snapshotFrames.filter((frame) => frame.type === 1).at(-1) as Frame).sessionId;
      const again = await start(source, ["--snapshot-min-log-bytes", "1GiB"]);
      const locked = await again.server.call.lock({ sessionId: lockedAfter, leaseMs: 600_000 });
      assert.equal(locked.outcome, Outcome.OUTCOME_OK);
      lockIdAfter = locked.lockId;
      await stop(again.server);
      assert.equal(onlyFile(source, /^snapshot-\d{16}\.swsnap$/), snapshotName);
      const generation = Number(/\d{16}/.exec(snapshotName)?.[0]);
      loggedAfter = new Set();
      for (const name of fs.readdirSync(source)) {
        const match = /^log-(\d{16})\.swlog$/.exec(name);
        assert.ok(match === null || Number(match[1]) >= generation, `the logs before the snapshot are deleted: ${name}`);
        if (match === null) continue;
        for (const frame of frames(fs.readFileSync(path.join(source, name)))) if (frame.type === 1) loggedAfter.add(frame.sessionId);
      }
      assert.ok(snapshotFrames.length >= 10, `the snapshot holds ${snapshotFrames.length} records`);
    });

    const assertKept = async (dir: string, keptFromSnapshot: readonly Frame[]): Promise<void> => {
      const { server } = await start(dir);
      const expected = new Set([...keptFromSnapshot.filter((frame) => frame.type === 1).map((frame) => frame.sessionId), ...loggedAfter]);
      const lost = sessions.filter((sessionId) => !expected.has(sessionId));
      assert.ok(lost.length > 0, "the damage lost something (else the test shows nothing)");
      for (const sessionId of sessions) {
        const got = await server.call.get(getReq({ sessionId }));
        if (expected.has(sessionId)) {
          assert.equal(got.outcome, Outcome.OUTCOME_OK, `${sessionId} is kept`);
          assert.equal(Buffer.from(got.data).toString(), written.get(sessionId));
          assert.equal(got.version, 1n);
        } else {
          assert.equal(got.outcome, Outcome.OUTCOME_NOT_FOUND, `${sessionId} was after the damage`);
        }
      }
      assert.equal((await server.counts()).sessions, expected.size);
      // Lock ids stay fenced: the next one exceeds every one issued before, the lost session's too.
      const fresh = await server.call.lock({ sessionId: "fresh-after-repair", create: true, leaseMs: 1000 });
      assert.ok(fresh.lockId > lockIdAfter, `the lock id after the repair (${fresh.lockId}) exceeds ${lockIdAfter}`);
      await stop(server);
    };

    it("refuses a snapshot with a byte flipped in a record; stateward repair keeps the sessions before it", async () => {
      const damaged = snapshotFrames[Math.floor(snapshotFrames.length / 2)] as Frame;
      assert.equal(damaged.type, 1, "a state record");
      const dir = copyOf(source);
      const file = path.join(dir, snapshotName);
      flipByte(file, damaged.start + 12 + 6);
      // An older snapshot left by a crash before its deletion: a refused start must not delete it.
      const generation = Number(/\d{16}/.exec(snapshotName)?.[0]);
      const older = path.join(dir, `snapshot-${String(generation - 1).padStart(16, "0")}.swsnap`);
      fs.writeFileSync(older, "an older snapshot");
      const error = await refusal(dir);
      assert.equal(error.file, file);
      assert.equal(error.offset, damaged.start);
      assert.ok(error.message.includes(`stateward repair --data-dir ${dir}`), error.message);
      assert.ok(error.message.includes("the log after it is kept"), error.message);
      assert.ok(fs.existsSync(older), "a refused start deletes nothing");

      const repaired = await runBuiltCli(["repair", "--data-dir", dir]);
      assert.equal(repaired.code, 0, `repair: ${repaired.stdout}${repaired.stderr}`);
      const before = snapshotFrames.filter((frame) => frame.end <= damaged.start);
      assert.match(repaired.stdout, new RegExp(`${snapshotName}: damaged at offset ${damaged.start} .*; ${before.filter((f) => f.type === 1).length} sessions kept`));
      await assertKept(dir, before);
      assert.ok(!fs.existsSync(older), "a start that read the newest snapshot whole deletes the older one");
    });

    it("refuses a snapshot whose header is damaged; stateward repair makes it an empty snapshot and keeps the log after it", async () => {
      const dir = copyOf(source);
      const file = path.join(dir, snapshotName);
      flipByte(file, 2);
      const error = await refusal(dir);
      assert.equal(error.file, file);
      assert.equal(error.offset, 0);
      const repaired = await runBuiltCli(["repair", "--data-dir", dir]);
      assert.equal(repaired.code, 0, `repair: ${repaired.stdout}${repaired.stderr}`);
      assert.match(repaired.stdout, new RegExp(`${snapshotName}: damaged at offset 0 .*; 0 sessions kept`));
      await assertKept(dir, []);
    });

    it("refuses a snapshot cut short (a snapshot is synced before it is renamed: never torn); stateward repair keeps the sessions before the cut", async () => {
      const cutInside = snapshotFrames[Math.floor(snapshotFrames.length / 3)] as Frame;
      const dir = copyOf(source);
      const file = path.join(dir, snapshotName);
      fs.truncateSync(file, cutInside.start + 20);
      const error = await refusal(dir);
      assert.equal(error.file, file);
      assert.equal(error.offset, cutInside.start);
      const repaired = await runBuiltCli(["repair", "--data-dir", dir]);
      assert.equal(repaired.code, 0, `repair: ${repaired.stdout}${repaired.stderr}`);
      await assertKept(
        dir,
        snapshotFrames.filter((frame) => frame.end <= cutInside.start),
      );
    });
  });
});
