/**
 * The data directory's lock (--data-dir): one server per directory, whatever path names it;
 * `stateward repair` does not run beside a server; and a server killed with SIGKILL (no cleanup at
 * all) leaves no stale lock: the next one starts on the directory at once.
 */
import * as assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DataDirInUseError } from "../../src/store/durable/data-dir";
import { runBuiltCli } from "../helpers/cli-process";
import { Outcome, callsFor, getReq, newChannelClient, setReq, startTestServer, type TestServer } from "../helpers/test-server";
import { startServerProcess, type ServerProcess } from "../fault/server-process";

describe("durability: the data directory is locked (--data-dir)", function () {
  this.timeout(60_000);
  let dir: string;
  const processes: ServerProcess[] = [];
  const servers: TestServer[] = [];
  const clients: { close(): void }[] = [];
  beforeEach(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "stateward-lock-")));
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const server of servers.splice(0)) await server.close().catch(() => undefined);
    for (const child of processes.splice(0)) await child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const serve = async (flags: string[] = []): Promise<ServerProcess> => {
    const child = await startServerProcess(["--data-dir", dir, ...flags]);
    processes.push(child);
    return child;
  };
  const callsOn = (child: ServerProcess): ReturnType<typeof callsFor> => {
    const client = newChannelClient(child.address);
    clients.push(client);
    return callsFor(client);
  };
  const inUse = (pid: number): string => `the data directory ${dir} is in use by another Stateward process (pid ${pid})`;

  it("a second server on the directory refuses to start, naming the holder's pid; so does one in this process and one by another path", async () => {
    const first = await serve();
    await assert.rejects(startServerProcess(["--data-dir", dir]), (error: Error) => error.message.includes(inUse(first.pid)));

    let refused: unknown;
    try {
      servers.push(await startTestServer(["--data-dir", dir]));
    } catch (error) {
      refused = error;
    }
    assert.ok(refused instanceof DataDirInUseError, `an in-process server is refused too: ${String(refused)}`);
    assert.ok(refused.message.includes(inUse(first.pid)), refused.message);

    // The lock is the directory's (device and inode), not its name's.
    const link = `${dir}-link`;
    fs.symlinkSync(dir, link);
    try {
      await assert.rejects(startTestServer(["--data-dir", path.join(link, ".")]), (error: Error) => error instanceof DataDirInUseError && error.message.includes(`pid ${first.pid}`));
    } finally {
      fs.rmSync(link, { force: true });
    }

    // The refused starts disturbed nothing: the first server serves on.
    const calls = callsOn(first);
    assert.equal((await calls.set(setReq({ sessionId: "still" }))).version, 1n);
  });

  it("a --data-dir that is a file refuses to start, saying so", async () => {
    const file = path.join(dir, "a-file");
    fs.writeFileSync(file, "");
    await assert.rejects(startTestServer(["--data-dir", file]), { message: `--data-dir ${file} is not a directory` });
    assert.equal(fs.readFileSync(file, "utf8"), "", "the file is left as it was");
  });

  it("stateward repair refuses while a server runs on the directory, and runs once it has stopped", async () => {
    const running = await serve();
    const refused = await runBuiltCli(["repair", "--data-dir", dir]);
    assert.equal(refused.code, 1, `repair beside a server: ${refused.stdout}${refused.stderr}`);
    assert.ok(refused.stderr.includes(inUse(running.pid)), refused.stderr);
    assert.equal(refused.stdout, "");

    await running.stop();
    const repaired = await runBuiltCli(["repair", "--data-dir", dir]);
    assert.equal(repaired.code, 0, `repair: ${repaired.stdout}${repaired.stderr}`);
    assert.match(repaired.stdout, /has no damage; nothing changed/);
  });

  it("stateward repair without --data-dir is a usage error (exit 2), and on a directory that does not exist (or a file) fails (exit 1) without creating it", async () => {
    const usage = await runBuiltCli(["repair"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--data-dir is required[\s\S]*Usage: stateward repair --data-dir DIR/);
    const missing = path.join(dir, "missing");
    const failed = await runBuiltCli(["repair", "--data-dir", missing]);
    assert.equal(failed.code, 1);
    assert.ok(failed.stderr.includes(`the data directory ${missing} does not exist`), failed.stderr);
    assert.ok(!fs.existsSync(missing));
    const file = path.join(dir, "a-file");
    fs.writeFileSync(file, "");
    const notDir = await runBuiltCli(["repair", "--data-dir", file]);
    assert.equal(notDir.code, 1);
    assert.ok(notDir.stderr.includes(`${file} is not a directory`), notDir.stderr);
  });

  it("a server killed with SIGKILL leaves no stale lock: the next one starts on the directory at once, with the data", async () => {
    const killed = await serve();
    await callsOn(killed).set(setReq({ sessionId: "before-kill", data: "kept" }));
    await killed.kill("SIGKILL");

    const next = await serve();
    assert.notEqual(next.pid, killed.pid);
    const got = await callsOn(next).get(getReq({ sessionId: "before-kill" }));
    assert.equal(got.outcome, Outcome.OUTCOME_OK);
    assert.equal(Buffer.from(got.data).toString(), "kept");
    // And the new server holds the lock now.
    const refused = await runBuiltCli(["repair", "--data-dir", dir]);
    assert.ok(refused.stderr.includes(inUse(next.pid)), refused.stderr);
  });
});
