import assert from "node:assert/strict";
import { parseCliArgs, parseDuration, usageText, UsageError } from "../src/args";

describe("parseCliArgs", () => {
  it("has documented defaults", () => {
    const options = parseCliArgs(["get"]);
    assert.equal(options.scenario, "get");
    assert.equal(options.target, "stateward");
    assert.deepEqual(options.addresses, []);
    assert.equal(options.generator, "node");
    assert.equal(options.transport, "unary");
    assert.equal(options.durationMs, 10_000);
    assert.equal(options.warmupMs, 2_000);
    assert.equal(options.inFlight, 32);
    assert.equal(options.channels, 1);
    assert.equal(options.workers, 1);
    assert.equal(options.mode, "closed");
    assert.equal(options.payload, undefined);
    assert.equal(options.pool, undefined);
    assert.equal(options.pollMs, 500);
    assert.equal(options.residentSessions, 1_000_000);
    assert.equal(options.progress, undefined);
    // The time line's interval is chosen from the duration unless given.
    assert.equal(options.intervalMs, undefined);
    assert.equal(parseCliArgs(["get", "--interval-ms", "500"]).intervalMs, 500);
    assert.throws(() => parseCliArgs(["get", "--interval-ms", "5"]), /--interval-ms "5": expected an integer from 10 to 60000/);
    // The SDK's polling window is its own default unless given (0 = off, at most the contract's cap).
    assert.equal(options.sdkPollUs, undefined);
    assert.equal(parseCliArgs(["get", "--transport", "pipeline", "--sdk-poll-us", "0"]).sdkPollUs, 0);
    assert.equal(parseCliArgs(["get", "--sdk-poll-us", "10000"]).sdkPollUs, 10_000);
    assert.throws(() => parseCliArgs(["get", "--sdk-poll-us", "10001"]), /--sdk-poll-us "10001": expected an integer from 0 to 10000/);
  });

  it("reads concurrency as in-flight × channels × workers, and the load shape", () => {
    const options = parseCliArgs(["mixed", "-c", "8", "--channels", "4", "-w", "2", "--mode", "open", "-r", "5000", "-n", "200", "-d", "3s", "--warmup", "500ms"]);
    assert.equal(options.inFlight * options.channels * options.workers, 64);
    assert.equal(options.rate, 5_000);
    assert.equal(options.requests, 200);
    assert.equal(options.durationMs, 3_000);
    assert.equal(options.warmupMs, 500);
  });

  it("reads payload sizes and ranges", () => {
    assert.deepEqual(parseCliArgs(["get", "--payload", "1KiB"]).payload, { minBytes: 1024, maxBytes: 1024 });
    assert.deepEqual(parseCliArgs(["get", "--payload", "1-16KiB"]).payload, { minBytes: 1024, maxBytes: 16_384 });
    assert.deepEqual(parseCliArgs(["get", "--payload", "100-2000"]).payload, { minBytes: 100, maxBytes: 2000 });
    assert.throws(() => parseCliArgs(["get", "--payload", "16-1KiB"]), UsageError);
    assert.throws(() => parseCliArgs(["get", "--payload", "big"]), UsageError);
  });

  it("takes addresses repeated or comma-separated, loopback only", () => {
    assert.deepEqual(parseCliArgs(["get", "--address", "127.0.0.1:1,127.0.0.2:2", "--address", "localhost:3"]).addresses, ["127.0.0.1:1", "127.0.0.2:2", "localhost:3"]);
    assert.throws(() => parseCliArgs(["get", "--address", "10.0.0.1:50051"]), /loopback/);
    assert.throws(() => parseCliArgs(["get", "--address", "example.com:80"]), /loopback/);
  });

  it("refuses inconsistent combinations", () => {
    assert.throws(() => parseCliArgs(["get", "--mode", "open"]), /--rate/);
    assert.throws(() => parseCliArgs(["get", "--rate", "10"]), /--mode open/);
    assert.throws(() => parseCliArgs(["lock-set", "--generator", "h2load"]), /h2load/);
    assert.throws(() => parseCliArgs(["contention", "--target", "redis"]), /redis/);
    assert.throws(() => parseCliArgs(["get", "--progress", "--no-progress"]), UsageError);
  });

  it("takes --security for get, lock-set and mixed against a server it starts", () => {
    assert.equal(parseCliArgs(["get"]).security, "plaintext");
    assert.equal(parseCliArgs(["lock-set", "--security", "tls-token", "--transport", "pipeline"]).security, "tls-token");
    assert.throws(() => parseCliArgs(["get", "--security", "tls"]), /--security "tls": expected one of plaintext, tls-token/);
    assert.throws(() => parseCliArgs(["get", "--security", "tls-token", "--address", "127.0.0.1:1"]), /starts its own server.*not with --address/);
    assert.throws(() => parseCliArgs(["get", "--security", "tls-token", "--generator", "h2load"]), /Node generator/);
    assert.throws(() => parseCliArgs(["get", "--security", "tls-token", "--target", "redis"]), /against Stateward/);
    assert.throws(() => parseCliArgs(["suite", "--security", "tls-token"]), /the suite compares both itself/);
  });

  it("runs the suite's groups of --only, in the suite's order", () => {
    assert.deepEqual(parseCliArgs(["suite"]).only, ["echo", "unary", "pipeline", "redis", "resident", "tls", "peers", "redis-backend", "redis-handoff", "durability", "go-caller"]);
    assert.deepEqual(parseCliArgs(["suite", "--only", "tls,echo"]).only, ["echo", "tls"]);
    assert.throws(() => parseCliArgs(["suite", "--only", "tls,nope"]), /--only "nope": expected one of echo, unary/);
    assert.throws(() => parseCliArgs(["suite", "--only", ","]), /comma-separated/);
    assert.throws(() => parseCliArgs(["get", "--only", "tls"]), /--only applies to the suite/);
    assert.throws(() => parseCliArgs(["suite", "--address", "127.0.0.1:1"]), /without tls/);
    assert.deepEqual(parseCliArgs(["suite", "--address", "127.0.0.1:1", "--only", "unary"]).only, ["unary"]);
  });

  it("runs memory-regression only against a reference build, and the Redis groups only on servers it starts", () => {
    const withReference = parseCliArgs(["suite", "--reference-cli", "/tmp/ref/server/dist/cli.js"]);
    assert.equal(withReference.referenceCli, "/tmp/ref/server/dist/cli.js");
    assert.deepEqual(withReference.only.slice(-4), ["redis-handoff", "memory-regression", "durability", "go-caller"]);
    assert.deepEqual(parseCliArgs(["suite", "--only", "memory-regression,redis-backend", "--reference-cli", "ref.js"]).only, ["redis-backend", "memory-regression"]);
    assert.throws(() => parseCliArgs(["suite", "--only", "memory-regression"]), /memory-regression group needs --reference-cli/);
    assert.throws(() => parseCliArgs(["get", "--reference-cli", "ref.js"]), /--reference-cli applies to the suite/);
    assert.throws(() => parseCliArgs(["suite", "--only", "redis-handoff", "--address", "127.0.0.1:1"]), /redis-handoff group starts its own servers/);
    assert.throws(() => parseCliArgs(["suite", "--only", "tls,redis-backend", "--address", "127.0.0.1:1"]), /tls, redis-backend groups start their own servers/);
  });

  it("sizes the durability group by --durability-sessions (default 1 M), on servers it starts", () => {
    assert.equal(parseCliArgs(["suite", "--only", "durability"]).durabilitySessions, 1_000_000);
    assert.equal(parseCliArgs(["suite", "--only", "durability", "--durability-sessions", "50_000"]).durabilitySessions, 50_000);
    assert.throws(() => parseCliArgs(["suite", "--durability-sessions", "10"]), /--durability-sessions "10": expected an integer from 1000/);
    assert.throws(() => parseCliArgs(["suite", "--only", "durability", "--address", "127.0.0.1:1"]), /durability group starts its own servers/);
  });

  it("runs the go-caller group on servers it starts", () => {
    assert.deepEqual(parseCliArgs(["suite", "--only", "go-caller,echo"]).only, ["echo", "go-caller"]);
    assert.throws(() => parseCliArgs(["suite", "--only", "go-caller", "--address", "127.0.0.1:1"]), /go-caller group starts its own servers/);
  });

  it("has an unlocked set scenario beside get and lock-set", () => {
    assert.equal(parseCliArgs(["set", "--transport", "pipeline"]).scenario, "set");
    assert.equal(parseCliArgs(["set", "--target", "redis"]).target, "redis");
  });

  it("picks the Redis peer's client with --target (redis is ioredis + Lua)", () => {
    assert.equal(parseCliArgs(["get"]).redisClient, "ioredis-lua");
    assert.equal(parseCliArgs(["get", "--target", "redis"]).redisClient, "ioredis-lua");
    for (const client of ["ioredis-lua", "node-redis-lua", "node-redis-plain"] as const) {
      const options = parseCliArgs(["lock-set", "--target", client]);
      assert.equal(options.target, "redis");
      assert.equal(options.redisClient, client);
    }
    assert.throws(() => parseCliArgs(["contention", "--target", "node-redis-plain"]), /--target node-redis-plain applies to get, set, lock-set and mixed/);
    assert.throws(() => parseCliArgs(["get", "--target", "go-redis"]), /expected one of stateward, redis, ioredis-lua, node-redis-lua, node-redis-plain/);
  });

  it("refuses unknown scenarios, options and out-of-range numbers", () => {
    assert.throws(() => parseCliArgs([]), /missing scenario/);
    assert.throws(() => parseCliArgs(["fly"]), /scenario/);
    assert.throws(() => parseCliArgs(["get", "--nope"]), UsageError);
    assert.throws(() => parseCliArgs(["get", "-c", "0"]), /in-flight/);
    assert.throws(() => parseCliArgs(["get", "--write-ratio", "1.5"]), /write-ratio/);
    assert.throws(() => parseCliArgs(["get", "--transport", "carrier-pigeon"]), /transport/);
  });

  it("accepts the pipeline transport name (the seam for the pipeline issue)", () => {
    assert.equal(parseCliArgs(["get", "--transport", "pipeline"]).transport, "pipeline");
  });

  it("collects server flags", () => {
    assert.deepEqual(parseCliArgs(["get", "--server-arg=--shards 4", "--server-arg=--max-memory 2GiB"]).serverArgs, ["--shards", "4", "--max-memory", "2GiB"]);
    assert.deepEqual(parseCliArgs(["get"]).serverNodeArgs, []);
    assert.deepEqual(parseCliArgs(["get", "--server-node-arg=--initial-old-space-size=256 --max-semi-space-size=16"]).serverNodeArgs, [
      "--initial-old-space-size=256",
      "--max-semi-space-size=16",
    ]);
  });

  it("lets --help stand without a scenario", () => {
    assert.equal(parseCliArgs(["--help"]).help, true);
    assert.match(usageText(), /in-flight x channels x workers/);
  });
});

describe("parseDuration", () => {
  it("reads ms, s, m and plain seconds", () => {
    assert.equal(parseDuration("250ms", "d"), 250);
    assert.equal(parseDuration("10s", "d"), 10_000);
    assert.equal(parseDuration("1.5", "d"), 1_500);
    assert.equal(parseDuration("2m", "d"), 120_000);
    assert.throws(() => parseDuration("soon", "d"), UsageError);
    assert.throws(() => parseDuration("25h", "d"), UsageError);
  });
});
