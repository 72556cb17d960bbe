/**
 * The Redis peers' session operations against a real redis-server started by the tool (free
 * loopback port): ioredis + Lua, node-redis + Lua (EVALSHA, scripts loaded once, EVAL after
 * NOSCRIPT) and node-redis plain GET/SET, on the same key layout. Needs redis-server on PATH.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import Redis from "ioredis";
import { closeClient, connectClient } from "../src/node-redis-session-ops";
import { REDIS_GET_SCRIPT, REDIS_LOCK_SCRIPT, REDIS_SET_SCRIPT } from "../src/redis-lua-scripts";
import { redisSessionKeys } from "../src/redis-session-ops";
import { startRedis, type StartedTarget } from "../src/server-processes";
import type { SessionOps } from "../src/session-ops";
import { statusName } from "../src/status-codes";
import { REDIS_CLIENTS, splitHostPort, type RedisClientName } from "../src/target-spec";
import { openSessionChannel } from "../src/transport-factory";

const APP = "peers-test";
const NO_WAIT = { waitMs: 0, leaseMs: 0, create: false } as const;

/** Bytes that are not UTF-8: a client that decoded them as text would change them. */
const BINARY = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x41]);

function sha1(source: string): string {
  return createHash("sha1").update(source).digest("hex");
}

/** Calls of `command` so far, from INFO commandstats. */
async function commandCalls(admin: Redis, command: string): Promise<number> {
  const info = await admin.info("commandstats");
  const match = new RegExp(`^cmdstat_${command.replace("|", "\\|")}:calls=([0-9]+)`, "m").exec(info);
  return match === null ? 0 : Number(match[1]);
}

describe("Redis peers' session operations (real redis-server)", function () {
  this.timeout(30_000);
  let redis: StartedTarget;
  let admin: Redis;
  const opened: SessionOps[] = [];

  const open = (client: RedisClientName): SessionOps => {
    const ops = openSessionChannel({ kind: "redis", addresses: [redis.address], app: APP, client }, 0);
    opened.push(ops);
    return ops;
  };

  before(async () => {
    redis = await startRedis();
    const { host, port } = splitHostPort(redis.address);
    admin = new Redis({ host, port, lazyConnect: false, maxRetriesPerRequest: 1 });
  });

  afterEach(() => {
    for (const ops of opened.splice(0)) ops.close();
  });

  after(async () => {
    admin.disconnect();
    await redis.process.stop();
  });

  for (const client of REDIS_CLIENTS) {
    it(`${client}: writes bytes unchanged, reads, locks, refuses a second lock and releases on Set`, async () => {
      const ops = open(client);
      const id = `${client}-a`;
      await ops.set(id, BINARY);
      assert.deepEqual(await admin.getBuffer(redisSessionKeys(APP, id)[1]), BINARY);
      assert.ok((await admin.ttl(redisSessionKeys(APP, id)[1])) > 1000, "the session ttl is set");
      assert.equal(await ops.get(id), "OK");
      assert.equal(await ops.get(`${client}-missing`), "NOT_FOUND");

      const first = await ops.lock(id, NO_WAIT);
      assert.equal(first.outcome, "OK");
      assert.equal((await ops.lock(id, NO_WAIT)).outcome, "LOCKED");
      const changed = Buffer.concat([BINARY, BINARY]);
      await ops.set(id, changed, first.token);
      assert.deepEqual(await admin.getBuffer(redisSessionKeys(APP, id)[1]), changed);
      assert.equal(await admin.exists(redisSessionKeys(APP, id)[0]), 0, "Set with the token released the lock");
      const again = await ops.lock(id, NO_WAIT);
      assert.equal(again.outcome, "OK");
      assert.notEqual(again.token, first.token);

      // A lock on a missing session is not left behind; with create the session appears.
      assert.equal((await ops.lock(`${client}-none`, NO_WAIT)).outcome, "NOT_FOUND");
      assert.equal(await admin.exists(redisSessionKeys(APP, `${client}-none`)[0]), 0);
      assert.equal((await ops.lock(`${client}-new`, { ...NO_WAIT, create: true })).outcome, "OK");
      assert.equal(await admin.exists(redisSessionKeys(APP, `${client}-new`)[1]), 1);
    });
  }

  for (const client of ["ioredis-lua", "node-redis-lua"] as const) {
    it(`${client}: the Lua protocol hides a locked session from Get and refuses a Set with another lock id`, async () => {
      const ops = open(client);
      const id = `${client}-locked`;
      await ops.set(id, BINARY);
      const held = await ops.lock(id, NO_WAIT);
      assert.equal(held.outcome, "OK");
      assert.equal(await ops.get(id), "LOCKED");
      await assert.rejects(ops.set(id, Buffer.from("other"), "not-the-holder"), (error: unknown) => statusName(error) === "REDIS_ERROR");
      await assert.rejects(ops.set(id, Buffer.from("unlocked")), (error: unknown) => statusName(error) === "REDIS_ERROR");
      assert.deepEqual(await admin.getBuffer(redisSessionKeys(APP, id)[1]), BINARY);
    });
  }

  it("node-redis peers' connection: replies' byte strings arrive as Buffers, unchanged (script replies too)", async () => {
    const { host, port } = splitHostPort(redis.address);
    const { base, client } = connectClient(host, port);
    try {
      const [, dataKey] = redisSessionKeys(APP, "bytes");
      await admin.set(dataKey, BINARY);
      const plain = await client.get(dataKey);
      assert.ok(Buffer.isBuffer(plain), typeof plain);
      assert.deepEqual(plain, BINARY);
      const scripted = (await client.eval(REDIS_GET_SCRIPT, { keys: redisSessionKeys(APP, "bytes"), arguments: ["60"] })) as unknown[];
      assert.equal(Number(scripted[0]), 1);
      assert.ok(Buffer.isBuffer(scripted[1]));
      assert.deepEqual(scripted[1], BINARY);
    } finally {
      closeClient(base);
    }
  });

  it("node-redis-plain: Get does not see the lock and Set does not check it (what the floor leaves out)", async () => {
    const ops = open("node-redis-plain");
    const id = "plain-locked";
    await ops.set(id, BINARY);
    assert.equal((await ops.lock(id, NO_WAIT)).outcome, "OK");
    assert.equal(await ops.get(id), "OK");
    await ops.set(id, Buffer.from("other"), "not-the-holder");
    assert.deepEqual(await admin.getBuffer(redisSessionKeys(APP, id)[1]), Buffer.from("other"));
  });

  it("node-redis-lua: loads the scripts once per connection and runs them by EVALSHA; after SCRIPT FLUSH it falls back to EVAL", async () => {
    await admin.script("FLUSH");
    const evalsBefore = await commandCalls(admin, "eval");
    const loadsBefore = await commandCalls(admin, "script|load");
    const shasBefore = await commandCalls(admin, "evalsha");
    const ops = open("node-redis-lua");
    await ops.set("scripts", BINARY);
    assert.equal(await ops.get("scripts"), "OK");
    assert.equal(await ops.get("scripts"), "OK");
    // Lock's script was never run: it is there because it was loaded.
    assert.deepEqual(await admin.script("EXISTS", sha1(REDIS_GET_SCRIPT), sha1(REDIS_LOCK_SCRIPT), sha1(REDIS_SET_SCRIPT)), [1, 1, 1]);
    assert.equal((await commandCalls(admin, "script|load")) - loadsBefore, 3);
    assert.equal((await commandCalls(admin, "evalsha")) - shasBefore, 3);
    assert.equal(await commandCalls(admin, "eval"), evalsBefore, "no EVAL while the scripts are loaded");

    await admin.script("FLUSH");
    assert.equal(await ops.get("scripts"), "OK");
    assert.equal((await commandCalls(admin, "eval")) - evalsBefore, 1, "NOSCRIPT answered by EVAL");
    assert.equal((await commandCalls(admin, "script|load")) - loadsBefore, 3, "no reload per call");
  });
});
