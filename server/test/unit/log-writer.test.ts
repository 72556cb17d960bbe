/**
 * The append-only log's writer (store/durable/log-writer.ts) on a real file: what each --fsync
 * policy syncs and when, group commit, the sync at close, and a failed append that leaves the file
 * at its last whole record.
 */
import * as assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LogWriteError, LogWriter, type FsyncPolicy } from "../../src/store/durable/log-writer";

describe("durability: the log writer", () => {
  let dir: string;
  const writers: LogWriter[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "stateward-log-writer-"));
  });
  afterEach(async () => {
    for (const writer of writers.splice(0)) await writer.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A writer on a fresh file, and the syncs it reports (records made durable by each). */
  const open = (policy: FsyncPolicy): { writer: LogWriter; syncs: number[]; file: string } => {
    const file = path.join(dir, `log-${writers.length}.swlog`);
    const syncs: number[] = [];
    const writer = new LogWriter(fs.openSync(file, "w+"), file, 0, policy, { onSync: (_seconds, records) => syncs.push(records) });
    writers.push(writer);
    return { writer, syncs, file };
  };
  const record = (text: string): Uint8Array[] => [Buffer.from(text)];
  const durable = (writer: LogWriter): Promise<void> =>
    new Promise((resolve, reject) => writer.whenDurable((error) => (error === undefined ? resolve() : reject(error))));

  it("writes each record to the OS at once, under every policy (a kill -9 after append keeps it)", () => {
    for (const policy of ["always", "everysec", "no"] as const) {
      const { writer, file } = open(policy);
      writer.append(record("one"), 1);
      writer.append([Buffer.from("tw"), Buffer.from("o")], 1);
      assert.equal(fs.readFileSync(file, "utf8"), "onetwo", policy);
      assert.equal(writer.size, 6);
      assert.ok(writer.unsynced);
    }
  });

  it("--fsync always: the records of one turn share one fdatasync (group commit), and none is durable before it", async () => {
    const { writer, syncs } = open("always");
    const answered: number[] = [];
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      writer.append(record(`r${i};`), 1);
      waits.push(durable(writer).then(() => void answered.push(i)));
    }
    assert.deepEqual(answered, [], "nothing is answered before its sync");
    await Promise.all(waits);
    assert.equal(answered.length, 50);
    assert.deepEqual(syncs, [50], "one sync for the 50 records of the turn");
    assert.ok(!writer.unsynced);
  });

  it("--fsync always: records appended while a sync runs share the next one", async () => {
    const { writer, syncs } = open("always");
    writer.append(record("first"), 1);
    const first = durable(writer);
    // After this turn the first sync has started; these arrive while it runs.
    await new Promise((resolve) => setImmediate(resolve));
    const later: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      writer.append(record(`later${i}`), 1);
      later.push(durable(writer));
    }
    await Promise.all([first, ...later]);
    assert.equal(syncs.reduce((sum, n) => sum + n, 0), 21, "every record was synced");
    assert.ok(syncs.length <= 3, `21 records in ${syncs.length} syncs`);
  });

  it("--fsync everysec and no answer at once; close syncs what is left (graceful shutdown)", async () => {
    for (const policy of ["everysec", "no"] as const) {
      const { writer, syncs } = open(policy);
      writer.append(record("a"), 1);
      writer.append(record("b"), 1);
      let answered = false;
      writer.whenDurable(() => (answered = true));
      assert.ok(answered, `${policy}: answered in the same turn`);
      await writer.close();
      writers.pop();
      assert.deepEqual(syncs, [2], `${policy}: close synced the two records`);
      assert.throws(() => writer.append(record("c"), 1), (error: unknown) => error instanceof LogWriteError && error.code === "EBADF");
    }
  });

  it("a failed sync is final: reported once, every waiter and later sync get it, no sync is tried again, close reports it", async () => {
    // fdatasync of /dev/null fails (EINVAL) as a failing disk's would (EIO).
    const failures: LogWriteError[] = [];
    const syncs: number[] = [];
    const writer = new LogWriter(fs.openSync("/dev/null", "w"), "/dev/null", 0, "always", {
      onSync: (_seconds, records) => syncs.push(records),
      onSyncError: (error) => failures.push(error),
    });
    writer.append(record("a"), 1);
    const first = durable(writer);
    const second = durable(writer);
    await assert.rejects(first, (error: unknown) => error instanceof LogWriteError && error.code === "EINVAL" && !error.recoverable);
    await assert.rejects(second, { code: "EINVAL" });
    writer.append(record("b"), 1);
    await assert.rejects(durable(writer), { code: "EINVAL" });
    assert.throws(() => writer.syncNow(), { code: "EINVAL" });
    await assert.rejects(writer.flush(), { code: "EINVAL" });
    await assert.rejects(writer.close(), { code: "EINVAL" });
    assert.equal(failures.length, 1, "reported once");
    assert.deepEqual(syncs, []);
  });

  it("a failed append throws with the system's code and leaves the file at its last whole record", () => {
    const file = path.join(dir, "read-only.swlog");
    fs.writeFileSync(file, "whole");
    // A descriptor opened for reading: every write fails (EBADF), as a full disk's would (ENOSPC).
    const writer = new LogWriter(fs.openSync(file, "r"), file, 5, "no");
    writers.push(writer);
    assert.throws(
      () => writer.append(record("torn"), 1),
      (error: unknown) => error instanceof LogWriteError && error.code === "EBADF" && error.recoverable,
    );
    assert.equal(writer.size, 5);
    assert.equal(fs.readFileSync(file, "utf8"), "whole");
  });
});
