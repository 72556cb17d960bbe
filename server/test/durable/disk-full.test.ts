/**
 * A full disk under the data directory (--data-dir on a 2 MiB tmpfs mounted for each test): every
 * change the log cannot take is refused with UNAVAILABLE / PERSISTENCE_FAILED and not made, reads
 * go on, grpc.health.v1 says NOT_SERVING; once space is freed, writes are accepted again (by the
 * log's retry every second, or by the next write) and health says SERVING; after a restart every
 * acknowledged change is there, with its version, and no refused one. A snapshot that cannot be
 * written for lack of space (at its start, or half way) leaves the log going on, and the next one
 * after space is freed replaces the older files. A record written only in part is cut back off,
 * and a server started on a full disk serves reads.
 *
 * Mounting needs root (or CAP_SYS_ADMIN): without it the tests are skipped, saying why. A tmpfs
 * hands out whole pages, so the log is first padded (by a write of the right size) to end on a
 * page boundary before the disk is filled: otherwise the rest of its last page would take a few
 * more records after the filler took every free page.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { stateRecordBytes } from "../../src/store/durable/log-records";
import { healthChecker, type HealthChecker } from "../redis/stateward-on-redis";
import { capturedLogger } from "../helpers/secure-server";
import { persistenceOf } from "../helpers/persistence-of";
import { DEFAULT_APP, Outcome, expectStatus, grpc, startTestServer, waitFor, withTimeout, type Calls, type TestServer } from "../helpers/test-server";

/** The tmpfs's size: small, so that a little filler fills it. */
const TMPFS_SIZE = "2m";
/** statfs f_type of a tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;
const REFUSED = { reason: "PERSISTENCE_FAILED", message: [/could not be written/, /nothing changed/] } as const;
/** Long enough that no lease taken here ends during a test. */
const LEASE_MS = 120_000;

/** What the test knows of an acknowledged session. */
interface Known {
  readonly data: string;
  readonly version: bigint;
  /** Set while the session is locked (then a Get shows the lock, not the data). */
  readonly lockId?: bigint;
}

/** The data files of `dir` (logs, snapshots, partial snapshots). */
function dataFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => /^(log-\d{16}\.swlog|snapshot-\d{16}\.swsnap(\.tmp)?)$/.test(name))
    .sort();
}

/** The newest log file of `dir`. */
function newestLog(dir: string): string {
  const logs = dataFiles(dir).filter((name) => name.startsWith("log-"));
  assert.ok(logs.length > 0, `a log in ${dir}`);
  return path.join(dir, logs.at(-1) as string);
}

/**
 * Fills the file system of `mountPoint` with a filler file until it has no free page (less
 * `leaveFree` bytes, freed again by cutting the filler back). Returns the filler's path.
 */
function fillDisk(mountPoint: string, leaveFree = 0): string {
  const file = path.join(mountPoint, "filler");
  const fd = fs.openSync(file, "w");
  const chunk = Buffer.alloc(64 * 1024, 0xa5);
  let position = 0;
  try {
    for (;;) {
      try {
        position += fs.writeSync(fd, chunk, 0, chunk.length, position);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
        throw error;
      }
    }
    if (leaveFree > 0) fs.ftruncateSync(fd, Math.max(0, position - leaveFree));
  } finally {
    fs.closeSync(fd);
  }
  const free = fs.statfsSync(mountPoint).bfree * fs.statfsSync(mountPoint).bsize;
  if (leaveFree === 0) assert.equal(free, 0, "the filler took every free page");
  else assert.ok(free >= leaveFree && free < leaveFree + 64 * 1024, `${free} bytes free, ${leaveFree} wanted`);
  return file;
}

describe("durability: a full disk (--data-dir on a small tmpfs)", function () {
  this.timeout(15_000);
  let mountPoint = "";
  let dataDir = "";
  let page = 4096;
  const servers: TestServer[] = [];
  const checkers: HealthChecker[] = [];

  /** Why tmpfs cannot be mounted here (the tests are skipped), found once. */
  let cannotMount: string | undefined;
  const mount = (where: string): void => {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE},mode=0700`, "tmpfs", where], { stdio: "pipe", timeout: 5000 });
  };
  before(() => {
    const probe = fs.mkdtempSync(path.join(os.tmpdir(), "stateward-disk-full-"));
    try {
      mount(probe);
      execFileSync("umount", [probe], { stdio: "pipe", timeout: 5000 });
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? "").replace(/\s+/g, " ").trim();
      cannotMount = stderr === "" ? String(error) : stderr;
      console.log(`      skipped: a ${TMPFS_SIZE} tmpfs to fill cannot be mounted here (${cannotMount}); these tests need mount(8) and root or CAP_SYS_ADMIN, as in CI`);
    } finally {
      fs.rmdirSync(probe);
    }
  });

  beforeEach(function () {
    if (cannotMount !== undefined) this.skip();
    mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "stateward-disk-full-"));
    try {
      mount(mountPoint);
    } catch (error) {
      fs.rmdirSync(mountPoint);
      mountPoint = "";
      throw error;
    }
    const stats = fs.statfsSync(mountPoint);
    assert.equal(stats.type, TMPFS_MAGIC, `${mountPoint} is a tmpfs`);
    page = stats.bsize;
    dataDir = path.join(mountPoint, "data");
  });

  afterEach(async function () {
    this.timeout(20_000);
    for (const checker of checkers.splice(0)) checker.close();
    for (const server of servers.splice(0)) await server.close().catch(() => undefined);
    if (mountPoint === "") return;
    const target = mountPoint;
    mountPoint = "";
    try {
      execFileSync("umount", [target], { stdio: "pipe", timeout: 5000 });
    } catch {
      // Busy (a file still open): detach it now, the kernel frees it once the last user is gone.
      execFileSync("umount", ["-l", target], { stdio: "pipe", timeout: 5000 });
    }
    fs.rmdirSync(target);
  });

  const start = async (flags: string[] = [], logger = capturedLogger()): Promise<{ t: TestServer; health: HealthChecker; lines: Record<string, unknown>[] }> => {
    const t = await startTestServer(["--data-dir", dataDir, ...flags], { logger: logger.logger });
    servers.push(t);
    const health = healthChecker(t.server.address);
    checkers.push(health);
    return { t, health, lines: logger.lines };
  };

  const stop = async (t: TestServer): Promise<void> => {
    await t.close();
    servers.splice(servers.indexOf(t), 1);
  };

  /**
   * Pads the log with a write to `pad` so that it ends on a page boundary: once the filler took
   * every free page, the next record needs a page of its own. Returns the padding write.
   */
  const alignLog = async (call: Calls, model: Map<string, Known>): Promise<void> => {
    const log = newestLog(dataDir);
    const size = fs.statSync(log).size;
    if (size % page === 0) return;
    const base = stateRecordBytes(DEFAULT_APP.length, "pad".length, 0);
    let need = page - (size % page);
    while (need < base) need += page;
    const data = "p".repeat(need - base);
    const written = await call.set({ sessionId: "pad", data });
    model.set("pad", { data, version: written.version });
    assert.equal(fs.statSync(log).size % page, 0, "the log ends on a page boundary");
  };

  /** Every session of `model` reads as known, and those of `absent` are not there. */
  const verify = async (t: TestServer, model: ReadonlyMap<string, Known>, absent: readonly string[], when: string): Promise<void> => {
    for (const [sessionId, known] of model) {
      const got = await t.call.get({ sessionId });
      if (known.lockId !== undefined) {
        assert.equal(got.outcome, Outcome.OUTCOME_LOCKED, `${when}: ${sessionId} is locked`);
        assert.equal(got.lockId, known.lockId, `${when}: ${sessionId}'s lock id`);
      } else {
        assert.equal(got.outcome, Outcome.OUTCOME_OK, `${when}: ${sessionId} is there, unlocked`);
        assert.equal(Buffer.from(got.data).toString(), known.data, `${when}: ${sessionId}'s data`);
        assert.equal(got.version, known.version, `${when}: ${sessionId}'s version`);
      }
    }
    for (const sessionId of absent) assert.equal((await t.call.get({ sessionId })).outcome, Outcome.OUTCOME_NOT_FOUND, `${when}: ${sessionId} was refused`);
    const counts = await t.counts();
    assert.equal(counts.sessions, model.size, `${when}: sessions`);
    assert.equal(counts.lockedSessions, [...model.values()].filter((known) => known.lockId !== undefined).length, `${when}: locked sessions`);
  };

  for (const fsync of ["everysec", "always"]) {
    it(`refuses every change with PERSISTENCE_FAILED while full, serves reads, NOT_SERVING, recovers once space is freed, and loses nothing (--fsync ${fsync})`, async () => {
      const { t, health } = await start(["--fsync", fsync]);
      assert.equal(await health.check(), "SERVING");
      const model = new Map<string, Known>();
      const set = async (sessionId: string, data: string, lockId?: bigint): Promise<void> => {
        const written = await t.call.set({ sessionId, data, ...(lockId === undefined ? {} : { lockId }) });
        assert.ok(written.written);
        model.set(sessionId, { data, version: written.version });
      };
      for (let i = 0; i < 8; i++) await set(`s${i}`, `first ${i} `.repeat(20));
      await set("s0", "second 0");
      const held = await t.call.lock({ sessionId: "held", create: true, leaseMs: LEASE_MS });
      assert.equal(held.outcome, Outcome.OUTCOME_OK);
      model.set("held", { data: "", version: held.version, lockId: held.lockId });

      await alignLog(t.call, model);
      const filler = fillDisk(mountPoint);

      // Every kind of change is refused, and not made.
      await expectStatus(t.call.set({ sessionId: "s0", data: "x".repeat(2048) }), grpc.status.UNAVAILABLE, REFUSED);
      await expectStatus(t.call.set({ sessionId: "s1", data: "y" }), grpc.status.UNAVAILABLE, REFUSED);
      await expectStatus(t.call.set({ sessionId: "new", data: "z" }), grpc.status.UNAVAILABLE, REFUSED);
      await expectStatus(t.call.lock({ sessionId: "s1", leaseMs: LEASE_MS }), grpc.status.UNAVAILABLE, REFUSED);
      await expectStatus(t.call.lock({ sessionId: "new-locked", create: true, leaseMs: LEASE_MS }), grpc.status.UNAVAILABLE, REFUSED);
      await expectStatus(t.call.set({ sessionId: "held", data: "by the holder", lockId: held.lockId }), grpc.status.UNAVAILABLE, REFUSED);
      await expectStatus(t.call.release({ sessionId: "held", lockId: held.lockId }), grpc.status.UNAVAILABLE, REFUSED);
      await expectStatus(t.call.remove({ sessionId: "s2" }), grpc.status.UNAVAILABLE, REFUSED);
      await expectStatus(t.call.expire({ sessionId: "s3", ttlSeconds: 60 }), grpc.status.UNAVAILABLE, REFUSED);
      const refused = ["new", "new-locked"];

      // Reads go on, and see memory as it was.
      await verify(t, model, refused, "while the disk is full");
      assert.equal((await t.call.get({ sessionId: "s3" })).ttlSeconds, 1200, "the refused Expire changed nothing");
      assert.equal(await health.check(), "NOT_SERVING", "grpc.health.v1 while writes cannot be logged");
      assert.equal(t.memory().stats().journal?.writable, false);

      // Space freed, no write sent: the log's retry (every second) finds it writable.
      fs.rmSync(filler);
      await waitFor(async () => (await health.check()) === "SERVING", "grpc.health.v1 SERVING again by the retry alone", 3000);
      assert.equal(t.memory().stats().journal?.writable, true);
      await set("s0", "third 0");
      assert.equal(model.get("s0")?.version, 3n);
      await set("new", "after the disk recovered");
      const relocked = await t.call.lock({ sessionId: "s1", leaseMs: LEASE_MS });
      assert.equal(relocked.outcome, Outcome.OUTCOME_OK);
      model.set("s1", { ...(model.get("s1") as Known), lockId: relocked.lockId });
      await t.call.remove({ sessionId: "s2" });
      model.delete("s2");
      refused.push("s2");
      refused.splice(refused.indexOf("new"), 1);

      // Full again: this time the next write itself finds the space freed.
      await alignLog(t.call, model);
      const again = fillDisk(mountPoint);
      await expectStatus(t.call.set({ sessionId: "s4", data: "refused" }), grpc.status.UNAVAILABLE, REFUSED);
      assert.equal(await health.check(), "NOT_SERVING");
      fs.rmSync(again);
      await set("s4", "accepted at once");
      assert.equal(await health.check(), "SERVING", "the write that went through turned health back");
      await verify(t, model, refused, "after the disk recovered");

      // Every acknowledged change survives a restart, and no refused one is there.
      await stop(t);
      const { t: restarted, health: after } = await start(["--fsync", fsync]);
      assert.equal(await after.check(), "SERVING");
      await verify(restarted, model, refused, "after a restart");
      // The locked sessions' data and versions, through their holders.
      for (const [sessionId, known] of model) {
        if (known.lockId === undefined) continue;
        await restarted.call.release({ sessionId, lockId: known.lockId });
        const got = await restarted.call.get({ sessionId });
        assert.equal(Buffer.from(got.data).toString(), known.data, `${sessionId}'s data after a restart`);
        assert.equal(got.version, known.version, `${sessionId}'s version after a restart`);
      }
    });
  }

  it("a snapshot that finds no space (at its start, or half way) fails and leaves the log going on; the next one after space is freed is complete", async () => {
    const { t, health, lines } = await start();
    const persistence = persistenceOf(t);
    const model = new Map<string, Known>();
    const set = async (sessionId: string, data: string): Promise<void> => {
      const written = await t.call.set({ sessionId, data });
      model.set(sessionId, { data, version: written.version });
    };
    // About 650 KiB of live data: a snapshot of it does not fit in what is left below.
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => set(`live-${batch * 100 + i}`, `${batch}:${i}:`.padEnd(1024, "d"))));
    }
    const held = await t.call.lock({ sessionId: "held", create: true, leaseMs: LEASE_MS });
    model.set("held", { data: "", version: held.version, lockId: held.lockId });
    const notices = (message: RegExp): Record<string, unknown>[] => lines.filter((line) => message.test(String(line.msg)));
    assert.deepEqual(dataFiles(dataDir), ["log-0000000000000001.swlog"]);

    // No page free at all: not even the next generation's log can be begun.
    await alignLog(t.call, model);
    let filler = fillDisk(mountPoint);
    await withTimeout(persistence.snapshotNow(), 5000, "the snapshot");
    assert.equal(notices(/could not start a snapshot/).length, 1, "the failure is logged");
    assert.equal(notices(/could not start a snapshot/)[0]?.cause, "ENOSPC");
    assert.deepEqual(dataFiles(dataDir), ["log-0000000000000001.swlog"], "nothing left behind");
    await expectStatus(t.call.set({ sessionId: "live-0", data: "refused" }), grpc.status.UNAVAILABLE, REFUSED);

    // Some room (less than the snapshot needs): the log goes on in the next generation, the
    // snapshot fails half way and its partial file is deleted.
    fs.rmSync(filler);
    filler = fillDisk(mountPoint, 192 * 1024);
    await set("live-0", "written with 192 KiB free");
    await waitFor(async () => (await health.check()) === "SERVING", "SERVING with room for the log");
    await withTimeout(persistence.snapshotNow(), 5000, "the snapshot");
    // Not logged again: a failure is logged once until a snapshot succeeds (retries must not fill the log).
    assert.equal(notices(/the snapshot failed|could not start a snapshot/).length, 1, JSON.stringify(lines.map((line) => line.msg)));
    assert.equal(notices(/snapshot written/).length, 0);
    assert.deepEqual(dataFiles(dataDir), ["log-0000000000000001.swlog", "log-0000000000000002.swlog"], "the partial snapshot is deleted, the older log kept");
    assert.equal(await health.check(), "SERVING", "a failed snapshot does not stop writes");
    await set("live-1", "written after the failed snapshot");
    await set("after-failed", "new after the failed snapshot");

    // Space freed: a snapshot now replaces every older file.
    fs.rmSync(filler);
    await withTimeout(persistence.snapshotNow(), 5000, "the snapshot");
    assert.equal(notices(/snapshot written/).length, 1, "the snapshot succeeded");
    assert.deepEqual(dataFiles(dataDir), ["log-0000000000000003.swlog", "snapshot-0000000000000003.swsnap"]);
    await set("live-2", "written after the snapshot");
    await verify(t, model, [], "after the snapshot");

    await stop(t);
    const { t: restarted } = await start();
    await verify(restarted, model, [], "after a restart");
  });

  it("a full disk whose log's last page still has room: the retry's small record does not turn health SERVING while larger writes fail", async () => {
    const { t, health } = await start();
    await t.call.set({ sessionId: "a", data: "before" });
    const log = newestLog(dataDir);
    if (fs.statSync(log).size % page === 0) await t.call.set({ sessionId: "b", data: "off the page boundary" });
    assert.notEqual(fs.statSync(log).size % page, 0, "the log's last page has room");
    const filler = fillDisk(mountPoint);
    await expectStatus(t.call.set({ sessionId: "a", data: "x".repeat(2 * page) }), grpc.status.UNAVAILABLE, REFUSED);
    assert.equal(await health.check(), "NOT_SERVING");
    // Two retries (one a second) meet a disk with no room to speak of: health stays NOT_SERVING.
    await new Promise((resolve) => setTimeout(resolve, 2300));
    assert.equal(await health.check(), "NOT_SERVING", "no flap back to SERVING on a full disk");
    fs.rmSync(filler);
    await waitFor(async () => (await health.check()) === "SERVING", "SERVING once space is freed", 3000);
    assert.equal((await t.call.set({ sessionId: "a", data: "x".repeat(2 * page) })).version, 2n);
  });

  it("a record the disk has room for only in part is cut back off: refused, the log as it was, no torn record at the next start", async () => {
    const { t, health } = await start();
    const model = new Map<string, Known>();
    const first = await t.call.set({ sessionId: "kept", data: "before" });
    model.set("kept", { data: "before", version: first.version });
    await alignLog(t.call, model);
    const log = newestLog(dataDir);
    const size = fs.statSync(log).size;
    // One page free: the first page of a three-page record is written, the rest finds no space.
    const filler = fillDisk(mountPoint, page);
    await expectStatus(t.call.set({ sessionId: "kept", data: "x".repeat(3 * page) }), grpc.status.UNAVAILABLE, REFUSED);
    assert.equal(fs.statSync(log).size, size, "the part written is cut back off");
    assert.equal(await health.check(), "NOT_SERVING");
    // The page is free again: a record that fits goes through, and writes are accepted again.
    const small = await t.call.set({ sessionId: "kept", data: "fits in the page" });
    model.set("kept", { data: "fits in the page", version: small.version });
    assert.equal(small.version, 2n);
    assert.equal(await health.check(), "SERVING");
    await verify(t, model, [], "after the partial write");
    await stop(t);
    fs.rmSync(filler);

    const { t: restarted, lines } = await start();
    await verify(restarted, model, [], "after a restart");
    assert.deepEqual(
      lines.filter((line) => /cut short|cut off/.test(String(line.msg))).map((line) => line.msg),
      [],
      "no torn record was found",
    );
  });

  it("a server started on a full disk serves reads and refuses writes until space is freed", async () => {
    const { t } = await start();
    const model = new Map<string, Known>();
    for (let i = 0; i < 4; i++) {
      const written = await t.call.set({ sessionId: `s${i}`, data: `data ${i}` });
      model.set(`s${i}`, { data: `data ${i}`, version: written.version });
    }
    await alignLog(t.call, model);
    const filler = fillDisk(mountPoint);
    await stop(t);

    const { t: restarted, health } = await start();
    await verify(restarted, model, [], "started on a full disk");
    await expectStatus(restarted.call.set({ sessionId: "s0", data: "refused" }), grpc.status.UNAVAILABLE, REFUSED);
    await expectStatus(restarted.call.lock({ sessionId: "s1", leaseMs: LEASE_MS }), grpc.status.UNAVAILABLE, REFUSED);
    assert.equal(await health.check(), "NOT_SERVING");
    await verify(restarted, model, [], "after the refusals");
    fs.rmSync(filler);
    await waitFor(async () => (await health.check()) === "SERVING", "SERVING once space is freed", 3000);
    const written = await restarted.call.set({ sessionId: "s0", data: "accepted" });
    assert.equal(written.version, 2n);
  });

  it("writes during a snapshot that fills the disk: any that find no space are refused and not made, the rest are kept; writes recover once the snapshot gives up", async () => {
    const { t, health } = await start();
    const persistence = persistenceOf(t);
    const model = new Map<string, Known>();
    const workers = 8;
    // About 650 KiB of live data, written by the workers below, each on its own sessions.
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let i = w; i < 600; i += workers) {
          const data = `${i}:`.padEnd(1024, "d");
          const written = await t.call.set({ sessionId: `live-${i}`, data });
          model.set(`live-${i}`, { data, version: written.version });
        }
      }),
    );
    await alignLog(t.call, model);
    // Room for the log below (small writes), not for a snapshot.
    const filler = fillDisk(mountPoint, 384 * 1024);
    let refusals = 0;
    let accepted = 0;
    let stopWrites = false;
    const writers = Array.from({ length: workers }, async (_, w) => {
      for (let n = 0; !stopWrites; n++) {
        const sessionId = `live-${w + workers * (n % 20)}`;
        const data = `${w}/${n}:`.padEnd(200, "w");
        try {
          const written = await t.call.set({ sessionId, data });
          model.set(sessionId, { data, version: written.version });
          accepted++;
        } catch (error) {
          await expectStatus(Promise.reject(error), grpc.status.UNAVAILABLE, REFUSED);
          refusals++;
        }
      }
    });
    try {
      await waitFor(() => accepted > 50, "writes going on", 3000);
      await withTimeout(persistence.snapshotNow(), 5000, "the snapshot");
      assert.equal(dataFiles(dataDir).filter((name) => name.startsWith("snapshot-")).length, 0, "the snapshot did not fit");
      // Once the partial snapshot is deleted, writes go through again (the retry, or the next write).
      await waitFor(async () => (await health.check()) === "SERVING", "SERVING after the failed snapshot", 3000);
      const before = accepted;
      await waitFor(() => accepted > before + 20, `writes accepted again (${accepted} accepted, ${refusals} refused)`, 3000);
    } finally {
      stopWrites = true;
      await Promise.all(writers);
    }
    console.log(`      during the snapshot that filled the disk: ${accepted} writes accepted, ${refusals} refused`);
    await verify(t, model, [], "after the failed snapshot");
    fs.rmSync(filler);
    await stop(t);
    const { t: restarted } = await start();
    await verify(restarted, model, [], "after a restart");
  });
});
