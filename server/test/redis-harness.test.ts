/**
 * The Redis test harness itself (helpers/redis-server.ts): the servers it starts are real, on
 * their own ports and dirs, keep what AOF promises across SIGKILL, honour a password, and a cluster
 * slot it moves is served by its new owner.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { sharedRedis, startRedis, startRedisCluster, type RedisCluster, type RedisProcess } from "./helpers/redis-server";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("Redis test harness", function () {
  this.timeout(30_000);
  const started: (RedisProcess | RedisCluster)[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.stop()));
  });

  it("starts a redis-server on a loopback port with its own dir, and stop ends it and removes the dir", async () => {
    const redis = await startRedis();
    started.push(redis);
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
    assert.equal(await redis.cli("PING"), "PONG");
    assert.equal(await redis.cli("CONFIG", "GET", "dir"), `dir\n${redis.dir}`);
    assert.equal(await redis.cli("CONFIG", "GET", "save"), "save");
    await assert.rejects(redis.cli("NOSUCHCOMMAND"), /unknown command/);
    const pid = redis.pid;
    await redis.stop();
    await redis.stop(); // idempotent
    assert.equal(alive(pid), false, "the process has exited");
    assert.equal(existsSync(redis.dir), false, "its dir is removed");
  });

  it("restart with appendonly and appendfsync always keeps a key written before SIGKILL", async () => {
    const redis = await startRedis({ appendonly: true, appendfsync: "always" });
    started.push(redis);
    assert.equal(await redis.cli("SET", "kept", "value 1"), "OK");
    const firstPid = redis.pid;
    await redis.kill();
    assert.equal(alive(firstPid), false);
    await assert.rejects(redis.cli("PING"));
    await redis.restart();
    assert.notEqual(redis.pid, firstPid);
    assert.equal(await redis.cli("GET", "kept"), "value 1");
  });

  it("without appendonly, a key does not survive SIGKILL (the AOF check above can fail)", async () => {
    const redis = await startRedis();
    started.push(redis);
    await redis.cli("SET", "lost", "1");
    await redis.kill();
    await redis.restart();
    assert.equal(await redis.cli("EXISTS", "lost"), "0");
  });

  it("requirePass: the URL carries the default user's password, cli authenticates, others are refused", async () => {
    const redis = await startRedis({ requirePass: "s3cret p@ss", aclUsers: ["user alice on >alicepw ~alice:* +@all"] });
    started.push(redis);
    assert.equal(redis.url, `redis://default:${encodeURIComponent("s3cret p@ss")}@127.0.0.1:${redis.port}`);
    assert.equal(await redis.cli("SET", "alice:k", "v"), "OK");
    assert.equal(await redis.cli("ACL", "WHOAMI"), "default");
    assert.equal(await redis.cli("AUTH", "alice", "alicepw"), "OK");
    const anonymous = await anonymousGet(redis);
    assert.match(anonymous, /NOAUTH/);
  });

  it("sharedRedis is one server per process", async () => {
    const [a, b] = await Promise.all([sharedRedis(), sharedRedis()]);
    assert.equal(a, b);
    assert.equal(await a.cli("PING"), "PONG");
  });

  it("a three-master cluster starts, and moveSlot moves a key's slot to another master", async () => {
    const cluster = await startRedisCluster();
    started.push(cluster);
    assert.equal(cluster.nodes.length, 3);
    assert.equal(cluster.seeds, cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(","));
    const first = cluster.nodes[0] as RedisProcess;
    for (const node of cluster.nodes) assert.match(await node.cli("CLUSTER", "INFO"), /cluster_state:ok/);

    const keys = ["{moved}a", "{moved}b", "{moved}c"];
    for (const key of keys) assert.equal(await first.cli("-c", "SET", key, `value of ${key}`), "OK");
    const slot = await cluster.slotOf("{moved}a");
    assert.equal(await cluster.slotOf("{moved}b"), slot);
    const owner = await cluster.ownerOf(slot);
    assert.match(await owner.cli("GET", "{moved}a"), /^value of/);
    const to = cluster.nodes.find((node) => node !== owner) as RedisProcess;

    let batches = 0;
    const askedMidMove: string[] = [];
    await cluster.moveSlot(slot, to, async () => {
      batches++;
      // Mid-move, the old owner redirects a key it no longer has with ASK; redis-cli -c follows it.
      askedMidMove.push(await first.cli("-c", "GET", "{moved}a"));
    });
    assert.equal(batches, keys.length, "one key per batch");
    assert.deepEqual(askedMidMove, askedMidMove.map(() => "value of {moved}a"));
    assert.equal(await cluster.ownerOf(slot), to);
    for (const node of cluster.nodes) {
      for (const key of keys) assert.equal(await node.cli("-c", "GET", key), `value of ${key}`);
    }
    assert.match(await owner.cli("GET", "{moved}a").catch((error: Error) => error.message), /MOVED/);
    assert.equal(await to.cli("CLUSTER", "COUNTKEYSINSLOT", String(slot)), "3");
  });
});

/** redis-cli against a password-protected server without the password: its error reply. */
function anonymousGet(redis: RedisProcess): Promise<string> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.REDISCLI_AUTH;
    execFile("redis-cli", ["-h", "127.0.0.1", "-p", String(redis.port), "GET", "alice:k"], { env }, (_error, stdout, stderr) => resolve(stdout + stderr));
  });
}
