import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { BACKENDS, ConfigError, OPTION_DOCS, OPTION_SECTIONS, SECRET_OPTIONS, isLoopbackHost, resolveConfig, secretValues } from "../src/config";
import { DEFAULT_PERSISTENCE_OPTIONS } from "../src/store/durable/persistence-options";
import { DEFAULT_MEMORY_OPTIONS } from "../src/store/memory/memory-options";
import { DEFAULT_REDIS_OPTIONS } from "../src/store/redis/redis-options";
import { DEFAULT_SESSION_LIMITS } from "../src/store/session-limits";

function configError(argv: string[], env: Record<string, string> = {}): ConfigError {
  try {
    resolveConfig(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected resolveConfig(${JSON.stringify(argv)}) to fail`);
}

describe("resolveConfig", () => {
  it("returns the documented defaults with no flags and no environment", () => {
    const config = resolveConfig([], {});
    assert.deepEqual(config, {
      configFile: "",
      host: "127.0.0.1",
      port: 42424,
      allowRemote: false,
      logLevel: "info",
      shutdownGraceMs: 10_000,
      shutdownDelayMs: 0,
      maxPipelineBatch: 1024,
      maxPipelineInFlight: 4096,
      pipelinePollUs: 500,
      metricsPort: 0,
      healthPort: 0,
      sessionHashKey: "",
      watchMaxBacklog: 1024,
      tlsCert: "",
      tlsKey: "",
      tlsClientCa: "",
      authFile: "",
      insecureRemote: false,
      backend: "memory",
      limits: DEFAULT_SESSION_LIMITS,
      memory: DEFAULT_MEMORY_OPTIONS,
      persistence: DEFAULT_PERSISTENCE_OPTIONS,
      redis: DEFAULT_REDIS_OPTIONS,
    });
  });

  it("returns a deeply frozen object", () => {
    const config = resolveConfig([], {});
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.limits));
    assert.ok(Object.isFrozen(config.memory));
    assert.ok(Object.isFrozen(config.persistence));
    assert.ok(Object.isFrozen(config.redis));
    assert.ok(Object.isFrozen(resolveConfig(["--redis-cluster", "127.0.0.1:7000"], {}).redis.cluster));
  });

  it("lets a flag win over its variable, and the variable over the default", () => {
    assert.equal(resolveConfig([], { STATEWARD_PORT: "5000" }).port, 5000);
    assert.equal(resolveConfig(["--port", "6000"], { STATEWARD_PORT: "5000" }).port, 6000);
    assert.equal(resolveConfig(["--port=0"], {}).port, 0);
    assert.equal(resolveConfig([], { STATEWARD_SHARDS: "4" }).memory.shards, 4);
    assert.equal(resolveConfig(["--shards", "8"], { STATEWARD_SHARDS: "4" }).memory.shards, 8);
    assert.equal(resolveConfig([], { STATEWARD_MAX_WAITERS: "4" }).limits.maxWaiters, 4);
    assert.equal(resolveConfig(["--max-waiters", "8"], { STATEWARD_MAX_WAITERS: "4" }).limits.maxWaiters, 8);
  });

  it("reads the Pipeline's polling window (--pipeline-poll-us) from its flag and its variable, 0 to 10000", () => {
    assert.equal(resolveConfig(["--pipeline-poll-us", "0"], {}).pipelinePollUs, 0);
    assert.equal(resolveConfig([], { STATEWARD_PIPELINE_POLL_US: "10000" }).pipelinePollUs, 10_000);
    for (const bad of ["10001", "-1", "1.5", "abc"]) {
      assert.match(configError([`--pipeline-poll-us=${bad}`]).message, /--pipeline-poll-us.*must be an integer from 0 to 10000/);
    }
  });

  it("treats an empty variable as unset", () => {
    assert.equal(resolveConfig([], { STATEWARD_PORT: "" }).port, 42424);
  });

  it("reads every session limit and every memory-backend option from its flag and its variable", () => {
    const limits: Record<string, number> = {
      defaultTtlSeconds: 60,
      maxTtlSeconds: 120,
      defaultLockLeaseMs: 1000,
      maxLockLeaseMs: 2000,
      maxWaitMs: 3000,
      maxWaiters: 7,
      maxItemBytes: 1024,
    };
    const memory: Record<string, number> = {
      shards: 3,
      maxApps: 9,
      maxMemoryBytes: 1_000_000,
      expiryIntervalMs: 50,
      expirySliceBudgetMs: 2,
    };
    const flagOf = (key: string): string =>
      key === "maxMemoryBytes" ? "max-memory" : key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const all = { ...limits, ...memory };
    const argv = Object.entries(all).flatMap(([key, value]) => [`--${flagOf(key)}`, String(value)]);
    const fromFlags = resolveConfig(argv, {});
    assert.deepEqual({ ...fromFlags.limits }, limits);
    assert.deepEqual({ ...fromFlags.memory }, memory);
    const env = Object.fromEntries(
      Object.entries(all).map(([key, value]) => [`STATEWARD_${flagOf(key).toUpperCase().replace(/-/g, "_")}`, String(value)]),
    );
    const fromEnv = resolveConfig([], env);
    assert.deepEqual({ ...fromEnv.limits }, limits);
    assert.deepEqual({ ...fromEnv.memory }, memory);
  });

  it("accepts byte sizes with binary suffixes", () => {
    assert.equal(resolveConfig(["--max-memory", "512MiB"], {}).memory.maxMemoryBytes, 512 * 1024 ** 2);
    assert.equal(resolveConfig(["--max-memory", "2GiB"], {}).memory.maxMemoryBytes, 2 * 1024 ** 3);
    assert.equal(resolveConfig([], { STATEWARD_MAX_MEMORY: "2097152" }).memory.maxMemoryBytes, 2_097_152);
    assert.equal(resolveConfig(["--max-item-bytes", "64KiB"], {}).limits.maxItemBytes, 64 * 1024);
    assert.match(configError(["--max-memory", "1GB"]).message, /--max-memory.*STATEWARD_MAX_MEMORY.*suffix/);
    assert.match(configError(["--max-memory", "1.5GiB"]).message, /--max-memory/);
  });

  it("rejects malformed and out-of-range integers, naming flag, variable and rule", () => {
    const fromFlag = configError(["--port", "70000"]).message;
    assert.match(fromFlag, /--port/);
    assert.match(fromFlag, /STATEWARD_PORT/);
    assert.match(fromFlag, /integer from 0 to 65535/);
    const fromEnv = configError([], { STATEWARD_PORT: "abc" }).message;
    assert.match(fromEnv, /"abc" from STATEWARD_PORT/);
    assert.match(configError(["--shards", "0"]).message, /--shards.*STATEWARD_SHARDS.*from 1 to/);
    assert.match(configError(["--max-waiters", "-1"]).message, /--max-waiters/);
    assert.match(configError(["--shutdown-grace-ms", "1e3"]).message, /--shutdown-grace-ms/);
    assert.match(configError(["--max-ttl-seconds", "31536001"]).message, /31536000/);
  });

  it("rejects inconsistent limits, naming both options", () => {
    assert.match(
      configError(["--default-ttl-seconds", "100", "--max-ttl-seconds", "50"]).message,
      /--default-ttl-seconds.*STATEWARD_DEFAULT_TTL_SECONDS.*--max-ttl-seconds.*STATEWARD_MAX_TTL_SECONDS/,
    );
    assert.match(configError(["--default-lock-lease-ms", "5000", "--max-lock-lease-ms", "4000"]).message, /--max-lock-lease-ms/);
    assert.match(configError(["--max-item-bytes", "2MiB", "--max-memory", "1MiB"]).message, /--max-memory/);
    assert.match(configError(["--expiry-slice-budget-ms", "200", "--expiry-interval-ms", "100"]).message, /--expiry-interval-ms/);
  });

  it("validates the log level", () => {
    assert.equal(resolveConfig(["--log-level", "debug"], {}).logLevel, "debug");
    assert.equal(resolveConfig([], { STATEWARD_LOG_LEVEL: "silent" }).logLevel, "silent");
    assert.match(configError(["--log-level", "verbose"]).message, /--log-level.*one of fatal, error/);
  });

  it("accepts --backend memory (the default) or redis and refuses another backend, naming the flag, the variable and the valid values", () => {
    assert.deepEqual([...BACKENDS], ["memory", "redis"]);
    assert.equal(resolveConfig(["--backend", "memory"], {}).backend, "memory");
    assert.equal(resolveConfig([], { STATEWARD_BACKEND: "memory" }).backend, "memory");
    assert.equal(resolveConfig(["--backend", "redis"], {}).backend, "redis");
    assert.equal(resolveConfig([], { STATEWARD_BACKEND: "REDIS" }).backend, "redis");
    for (const [argv, env] of [
      [["--backend", "postgres"], {}],
      [[], { STATEWARD_BACKEND: "postgres" }],
    ] as const) {
      const message = configError([...argv], env).message;
      assert.match(message, /--backend/);
      assert.match(message, /STATEWARD_BACKEND/);
      assert.match(message, /one of memory, redis\b/);
      assert.match(message, /postgres/);
    }
    assert.ok(configError(["--backend", ""]) instanceof ConfigError);
  });

  it("rejects unknown flags and positional arguments", () => {
    assert.match(configError(["--bogus"]).message, /--bogus/);
    assert.ok(configError(["extra"]) instanceof ConfigError);
    assert.ok(configError(["--port"]) instanceof ConfigError);
  });

  it("refuses a non-loopback host without allow-remote, saying how", () => {
    const message = configError(["--host", "0.0.0.0"]).message;
    assert.match(message, /--allow-remote/);
    assert.match(message, /STATEWARD_ALLOW_REMOTE=true/);
    assert.ok(configError([], { STATEWARD_HOST: "10.1.2.3" }) instanceof ConfigError);
    const secure = ["--tls-cert", "s.pem", "--tls-key", "s.key", "--auth-file", "auth.json"];
    assert.equal(resolveConfig(["--host", "0.0.0.0", "--allow-remote", ...secure], {}).host, "0.0.0.0");
    assert.equal(resolveConfig(secure, { STATEWARD_HOST: "::", STATEWARD_ALLOW_REMOTE: "true" }).allowRemote, true);
    assert.ok(configError(["--no-allow-remote", "--host", "0.0.0.0", ...secure], { STATEWARD_ALLOW_REMOTE: "true" }) instanceof ConfigError);
    // --insecure-remote stands in for TLS and the auth file, not for --allow-remote.
    assert.match(configError(["--host", "0.0.0.0", "--insecure-remote"]).message, /without --allow-remote/);
    assert.match(configError([], { STATEWARD_ALLOW_REMOTE: "maybe" }).message, /STATEWARD_ALLOW_REMOTE.*true or false/);
  });

  it("accepts loopback hosts without allow-remote", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]) {
      assert.doesNotThrow(() => resolveConfig(["--host", host], {}), host);
    }
    assert.equal(resolveConfig(["--host", "[::1]"], {}).host, "::1");
  });

  it("rejects a host with a port or other junk", () => {
    assert.match(configError(["--host", "127.0.0.1:80"]).message, /--host.*STATEWARD_HOST/);
    assert.ok(configError(["--host", ""]) instanceof ConfigError);
  });
});

describe("resolveConfig: durability of the memory backend (--data-dir)", () => {
  it("is off by default (memory only), with fsync everysec, a log ratio of 1 and a 64MiB minimum, as documented", () => {
    const { persistence } = resolveConfig([], {});
    assert.deepEqual({ ...persistence }, { dataDir: "", fsync: "everysec", snapshotLogRatio: 1, snapshotMinLogBytes: 64 * 1024 ** 2 });
    const byFlag = new Map(OPTION_DOCS.map((doc) => [doc.flag, doc.default]));
    assert.equal(byFlag.get("--fsync"), "everysec");
    assert.equal(byFlag.get("--snapshot-log-ratio"), "1");
    assert.equal(byFlag.get("--snapshot-min-log-bytes"), "64MiB");
    assert.match(byFlag.get("--data-dir") ?? "", /memory only/);
  });

  it("reads every option from its flag, its variable and the configuration file, the flag winning", () => {
    assert.deepEqual(
      { ...resolveConfig(["--data-dir", "/var/lib/stateward", "--fsync", "always", "--snapshot-log-ratio", "2.5", "--snapshot-min-log-bytes", "8MiB"], {}).persistence },
      { dataDir: "/var/lib/stateward", fsync: "always", snapshotLogRatio: 2.5, snapshotMinLogBytes: 8 * 1024 ** 2 },
    );
    const env = { STATEWARD_DATA_DIR: "data", STATEWARD_FSYNC: "NO", STATEWARD_SNAPSHOT_LOG_RATIO: "0.1", STATEWARD_SNAPSHOT_MIN_LOG_BYTES: "4096" };
    assert.deepEqual({ ...resolveConfig([], env).persistence }, { dataDir: "data", fsync: "no", snapshotLogRatio: 0.1, snapshotMinLogBytes: 4096 });
    assert.equal(resolveConfig(["--data-dir", "flag-dir"], env).persistence.dataDir, "flag-dir");
    assert.equal(resolveConfig(["--fsync", "always"], env).persistence.fsync, "always");
    const file = 'data-dir = "/srv/sessions"\nfsync = "always"\nsnapshot-log-ratio = 3\nsnapshot-min-log-bytes = "1GiB"\n';
    assert.deepEqual(
      { ...resolveConfig(["--config", "s.toml"], {}, () => file).persistence },
      { dataDir: "/srv/sessions", fsync: "always", snapshotLogRatio: 3, snapshotMinLogBytes: 1024 ** 3 },
    );
    // Empty is memory only, in a file too (where the example shows the default).
    assert.equal(resolveConfig(["--config", "s.toml"], {}, () => 'data-dir = ""').persistence.dataDir, "");
    assert.equal(resolveConfig([], { STATEWARD_DATA_DIR: "" }).persistence.dataDir, "");
  });

  it("refuses an unknown --fsync policy, naming the flag, the variable and the allowed values", () => {
    for (const [argv, env, source] of [
      [["--fsync", "sometimes"], {}, '"sometimes" from --fsync'],
      [[], { STATEWARD_FSYNC: "sometimes" }, '"sometimes" from STATEWARD_FSYNC'],
      [["--fsync", "everysecond"], {}, '"everysecond" from --fsync'],
    ] as const) {
      const message = configError([...argv], env).message;
      assert.ok(message.includes(source), message);
      assert.match(message, /--fsync/);
      assert.match(message, /STATEWARD_FSYNC/);
      assert.match(message, /one of always, everysec, no\b/);
    }
  });

  it("refuses a --snapshot-log-ratio outside 0.1 to 100 or not a plain number, and a --snapshot-min-log-bytes below 4KiB", () => {
    assert.equal(resolveConfig(["--snapshot-log-ratio", "0.1"], {}).persistence.snapshotLogRatio, 0.1);
    assert.equal(resolveConfig(["--snapshot-log-ratio", "100"], {}).persistence.snapshotLogRatio, 100);
    for (const value of ["0.09", "0", "100.5", "101", "-1", "abc", "1e2", ""]) {
      const message = configError([`--snapshot-log-ratio=${value}`]).message;
      assert.match(message, /--snapshot-log-ratio.*STATEWARD_SNAPSHOT_LOG_RATIO.*from 0\.1 to 100/, `${JSON.stringify(value)}: ${message}`);
    }
    assert.match(configError([], { STATEWARD_SNAPSHOT_LOG_RATIO: "500" }).message, /"500" from STATEWARD_SNAPSHOT_LOG_RATIO/);
    assert.equal(resolveConfig(["--snapshot-min-log-bytes", "4KiB"], {}).persistence.snapshotMinLogBytes, 4096);
    assert.match(configError(["--snapshot-min-log-bytes", "4095"]).message, /--snapshot-min-log-bytes.*STATEWARD_SNAPSHOT_MIN_LOG_BYTES.*from 4096/);
    assert.match(configError(["--snapshot-min-log-bytes", "2TiB"]).message, /--snapshot-min-log-bytes/);
  });

  it("refuses --data-dir with --backend redis, whichever way either is set", () => {
    for (const [argv, env] of [
      [["--data-dir", "/d", "--backend", "redis"], {}],
      [["--backend", "redis"], { STATEWARD_DATA_DIR: "/d" }],
      [["--data-dir", "/d"], { STATEWARD_BACKEND: "redis" }],
    ] as const) {
      const message = configError([...argv], env).message;
      assert.match(message, /--data-dir \(STATEWARD_DATA_DIR\) is set with --backend redis/);
      assert.match(message, /Redis keeps its own/);
    }
    // The other persistence options are harmless there (they only matter with a data directory).
    assert.equal(resolveConfig(["--backend", "redis", "--fsync", "always"], {}).backend, "redis");
    assert.equal(resolveConfig(["--backend", "memory", "--data-dir", "/d"], {}).persistence.dataDir, "/d");
  });
});

describe("resolveConfig: observability options", () => {
  it("reads --metrics-port (0 = off) and refuses the gRPC port", () => {
    assert.equal(resolveConfig(["--metrics-port", "9464"], {}).metricsPort, 9464);
    assert.equal(resolveConfig([], { STATEWARD_METRICS_PORT: "9465" }).metricsPort, 9465);
    assert.match(configError(["--metrics-port", "70000"]).message, /--metrics-port.*STATEWARD_METRICS_PORT.*0 to 65535/);
    assert.match(configError(["--port", "9000", "--metrics-port", "9000"]).message, /--metrics-port.*a port of its own/);
  });

  it("reads --session-hash-key, refuses short keys and never repeats the key in errors", () => {
    const key = "0123456789abcdef-secret";
    assert.equal(resolveConfig([], { STATEWARD_SESSION_HASH_KEY: key }).sessionHashKey, key);
    assert.equal(resolveConfig(["--session-hash-key", key], {}).sessionHashKey, key);
    const message = configError([], { STATEWARD_SESSION_HASH_KEY: "short-key" }).message;
    assert.match(message, /STATEWARD_SESSION_HASH_KEY.*at least 16 characters/);
    assert.doesNotMatch(message, /short-key/);
  });

  it("reads --watch-max-backlog within its range", () => {
    assert.equal(resolveConfig(["--watch-max-backlog", "16"], {}).watchMaxBacklog, 16);
    assert.equal(resolveConfig([], { STATEWARD_WATCH_MAX_BACKLOG: "32" }).watchMaxBacklog, 32);
    assert.match(configError(["--watch-max-backlog", "0"]).message, /--watch-max-backlog.*from 1 to 1000000/);
  });
});

describe("resolveConfig: TLS, auth file and the remote-access rule", () => {
  const remote = ["--host", "0.0.0.0", "--allow-remote"];

  it("reads the TLS files and the auth file from flags and variables", () => {
    const config = resolveConfig(["--tls-cert", "s.pem", "--tls-key", "s.key", "--tls-client-ca", "ca.pem"], { STATEWARD_AUTH_FILE: "auth.json" });
    assert.deepEqual([config.tlsCert, config.tlsKey, config.tlsClientCa, config.authFile], ["s.pem", "s.key", "ca.pem", "auth.json"]);
    assert.equal(resolveConfig([], { STATEWARD_TLS_CERT: "a", STATEWARD_TLS_KEY: "b" }).tlsKey, "b");
  });

  it("refuses a certificate without its key, a key without its certificate, and a client CA without TLS", () => {
    assert.match(configError(["--tls-cert", "s.pem"]).message, /--tls-cert \(STATEWARD_TLS_CERT\) is set but --tls-key \(STATEWARD_TLS_KEY\) is not/);
    assert.match(configError(["--tls-key", "s.key"]).message, /--tls-key .* is set but --tls-cert .* is not/);
    assert.match(configError(["--tls-client-ca", "ca.pem"]).message, /--tls-client-ca .* needs --tls-cert/);
  });

  it("refuses a remote address without TLS or without an auth file, naming what is missing and how to add it", () => {
    const both = configError(remote).message;
    assert.match(both, /both are missing/);
    assert.match(both, /--tls-cert FILE --tls-key FILE/);
    assert.match(both, /--auth-file FILE/);
    assert.match(both, /stateward token create --name NAME/);
    assert.match(both, /--insecure-remote/);

    const noAuth = configError([...remote, "--tls-cert", "s.pem", "--tls-key", "s.key"]).message;
    assert.match(noAuth, /this one is missing\. Missing an auth file: add --auth-file FILE/);
    assert.doesNotMatch(noAuth, /Missing TLS/);

    const noTls = configError([...remote, "--auth-file", "auth.json"]).message;
    assert.match(noTls, /this one is missing\. Missing TLS: add --tls-cert FILE --tls-key FILE/);
    assert.doesNotMatch(noTls, /add --auth-file/);
  });

  it("lets --insecure-remote (or its variable) stand in for TLS and the auth file", () => {
    assert.equal(resolveConfig([...remote, "--insecure-remote"], {}).insecureRemote, true);
    assert.equal(resolveConfig(remote, { STATEWARD_INSECURE_REMOTE: "true" }).host, "0.0.0.0");
    assert.equal(resolveConfig([...remote, "--tls-cert", "s.pem", "--tls-key", "s.key", "--insecure-remote"], {}).tlsCert, "s.pem");
  });

  it("keeps loopback without TLS or auth the zero-configuration default", () => {
    const config = resolveConfig([], {});
    assert.deepEqual([config.tlsCert, config.authFile, config.insecureRemote], ["", "", false]);
  });
});

describe("resolveConfig: the Redis backend's options", () => {
  const PASSWORD = "hunter2-Secret";

  it("reads each option from its flag, its variable and the file, the flag winning, with DEFAULT_REDIS_OPTIONS as defaults", () => {
    const argv = [
      "--redis-url", "rediss://app@redis.example:6380/3",
      "--redis-cluster", "10.0.0.1:7000, [::1]:7001,redis-b.example:7002",
      "--redis-prefix", "team-a:",
      "--redis-wait-replicas", "2",
      "--redis-wait-timeout-ms", "500",
      "--redis-recheck-ms", "250",
      "--redis-command-timeout-ms", "750",
    ];
    assert.deepEqual(resolveConfig(argv, { STATEWARD_REDIS_PASSWORD: PASSWORD }).redis, {
      url: "rediss://app@redis.example:6380/3",
      cluster: ["10.0.0.1:7000", "[::1]:7001", "redis-b.example:7002"],
      prefix: "team-a:",
      password: PASSWORD,
      waitReplicas: 2,
      waitTimeoutMs: 500,
      recheckMs: 250,
      commandTimeoutMs: 750,
    });
    const env = {
      STATEWARD_REDIS_URL: "redis://127.0.0.1:7777",
      STATEWARD_REDIS_CLUSTER: "127.0.0.1:7000",
      STATEWARD_REDIS_PREFIX: "env:",
      STATEWARD_REDIS_WAIT_REPLICAS: "1",
      STATEWARD_REDIS_WAIT_TIMEOUT_MS: "60000",
      STATEWARD_REDIS_RECHECK_MS: "10",
      STATEWARD_REDIS_COMMAND_TIMEOUT_MS: "50",
    };
    assert.deepEqual(resolveConfig([], env).redis, {
      url: "redis://127.0.0.1:7777",
      cluster: ["127.0.0.1:7000"],
      prefix: "env:",
      password: "",
      waitReplicas: 1,
      waitTimeoutMs: 60_000,
      recheckMs: 10,
      commandTimeoutMs: 50,
    });
    assert.equal(resolveConfig(["--redis-prefix", "flag:"], env).redis.prefix, "flag:");
    const file = ['redis-url = "redis://file-host:6000/1"', 'redis-cluster = ""', 'redis-prefix = "file:"', "redis-recheck-ms = 20"].join("\n");
    const fromFile = resolveConfig(["--config", "s.toml"], { STATEWARD_REDIS_RECHECK_MS: "30" }, () => file).redis;
    assert.deepEqual(
      { url: fromFile.url, cluster: fromFile.cluster, prefix: fromFile.prefix, recheckMs: fromFile.recheckMs },
      { url: "redis://file-host:6000/1", cluster: [], prefix: "file:", recheckMs: 30 },
    );
    assert.deepEqual(resolveConfig([], {}).redis, DEFAULT_REDIS_OPTIONS);
    const docs = new Map(OPTION_DOCS.map((doc) => [doc.env, doc.default]));
    assert.equal(docs.get("STATEWARD_REDIS_URL"), DEFAULT_REDIS_OPTIONS.url);
    assert.equal(docs.get("STATEWARD_REDIS_PREFIX"), DEFAULT_REDIS_OPTIONS.prefix);
    assert.equal(docs.get("STATEWARD_REDIS_RECHECK_MS"), String(DEFAULT_REDIS_OPTIONS.recheckMs));
    assert.equal(docs.get("STATEWARD_REDIS_COMMAND_TIMEOUT_MS"), String(DEFAULT_REDIS_OPTIONS.commandTimeoutMs));
  });

  it("accepts redis:// and rediss:// URLs with a host, and refuses others naming --redis-url and the rule", () => {
    for (const url of ["redis://localhost", "redis://127.0.0.1:6379", "rediss://user:pw@redis.example:6380/15", "redis://[::1]:6379/0", "redis://h/", "REDIS://h"]) {
      assert.equal(resolveConfig(["--redis-url", url], {}).redis.url, url, url);
    }
    for (const [url, rule] of [
      ["http://127.0.0.1:6379", /must start with redis:\/\/ or rediss:\/\//],
      ["127.0.0.1:6379", /must start with redis:\/\/ or rediss:\/\//],
      ["redis://", /must be a URL|must name a host/],
      ["redis:///0", /must name a host/],
      ["redis://h:0", /port from 1 to 65535/],
      ["redis://h:65536", /must be a URL/],
      ["redis://h/16", /database number from 0 to 15/],
      ["redis://h/db", /database number from 0 to 15/],
      ["redis://h/0?timeout=1", /query or fragment/],
      ["not a url", /must start with redis:\/\/ or rediss:\/\//],
      ["redis://h:port", /must be a URL/],
    ] as const) {
      const message = configError(["--redis-url", url]).message;
      assert.match(message, /--redis-url/, url);
      assert.match(message, /STATEWARD_REDIS_URL/, url);
      assert.match(message, rule, url);
    }
  });

  it("never repeats the URL's password in an error, and counts it among the secret values", () => {
    for (const url of [`redis://app:${PASSWORD}@h/99`, `http://app:${PASSWORD}@h`, `redis://app:${PASSWORD}@`, `app:${PASSWORD}@h:6379`]) {
      for (const message of [configError(["--redis-url", url]).message, configError([], { STATEWARD_REDIS_URL: url }).message]) {
        assert.ok(!message.includes(PASSWORD), message);
        assert.match(message, /\*\*\*@/, message);
      }
      const file = `redis-url = ${JSON.stringify(url)}`;
      assert.throws(
        () => resolveConfig(["--config", "s.toml"], {}, () => file),
        (error: Error) => error instanceof ConfigError && !error.message.includes(PASSWORD) && /redis-url/.test(error.message),
      );
    }
    const encoded = resolveConfig(["--redis-url", `redis://app:${encodeURIComponent("p@ss w")}@h`], {});
    assert.deepEqual([...secretValues(encoded)].sort(), ["p%40ss%20w", "p@ss w"]);
    const both = resolveConfig(["--redis-url", "redis://app:urlpw@h"], { STATEWARD_REDIS_PASSWORD: PASSWORD });
    assert.deepEqual([...secretValues(both)].sort(), [PASSWORD, "urlpw"].sort());
  });

  it("reads --redis-cluster as host:port seeds (empty: none) and refuses a bad seed, naming the flag and the rule", () => {
    assert.deepEqual(resolveConfig(["--redis-cluster", ""], {}).redis.cluster, []);
    assert.deepEqual(resolveConfig(["--redis-cluster", " , "], {}).redis.cluster, []);
    assert.deepEqual(resolveConfig(["--redis-cluster", "a:1,b.example:65535"], {}).redis.cluster, ["a:1", "b.example:65535"]);
    for (const seeds of ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "h:port", "::1:7000", "[zz]:7000", "h:7000,h", "bad host:7000"]) {
      const message = configError(["--redis-cluster", seeds]).message;
      assert.match(message, /--redis-cluster/, seeds);
      assert.match(message, /STATEWARD_REDIS_CLUSTER/, seeds);
      assert.match(message, /comma-separated list of host:port \(each port 1 to 65535/, seeds);
    }
  });

  it("takes a --redis-prefix of 1 to 64 visible ASCII characters without braces", () => {
    assert.equal(resolveConfig(["--redis-prefix", "x"], {}).redis.prefix, "x");
    assert.equal(resolveConfig(["--redis-prefix", "p".repeat(64)], {}).redis.prefix, "p".repeat(64));
    for (const prefix of ["", "p".repeat(65), "a b:", "{tag}:", "a}", "é:", "tab\t"]) {
      const message = configError(["--redis-prefix", prefix]).message;
      assert.match(message, /--redis-prefix.*STATEWARD_REDIS_PREFIX.*1 to 64 visible ASCII characters, without spaces, \{ or \}/, JSON.stringify(prefix));
    }
  });

  it("checks the ranges of the numeric Redis options at both ends", () => {
    for (const [flag, min, max] of [
      ["--redis-wait-replicas", 0, 16],
      ["--redis-wait-timeout-ms", 1, 60_000],
      ["--redis-recheck-ms", 10, 60_000],
      ["--redis-command-timeout-ms", 50, 60_000],
    ] as const) {
      assert.doesNotThrow(() => resolveConfig([flag, String(min)], {}), flag);
      assert.doesNotThrow(() => resolveConfig([flag, String(max)], {}), flag);
      for (const value of [String(max + 1), "-1", "1.5", "x", ...(min > 0 ? [String(min - 1)] : [])]) {
        assert.match(configError([`${flag}=${value}`]).message, new RegExp(`${flag}.*must be an integer from ${min} to ${max}`), `${flag} ${value}`);
      }
    }
  });

  it("reads the password from STATEWARD_REDIS_PASSWORD only: no flag, no file key, and the value in no message", () => {
    assert.equal(resolveConfig([], { STATEWARD_REDIS_PASSWORD: PASSWORD }).redis.password, PASSWORD);
    assert.equal(resolveConfig([], { STATEWARD_REDIS_PASSWORD: "" }).redis.password, "");
    for (const argv of [["--redis-password", PASSWORD], [`--redis-password=${PASSWORD}`]]) {
      const message = configError(argv).message;
      assert.match(message, /--redis-password is not a flag: only the environment variable STATEWARD_REDIS_PASSWORD sets it/);
      assert.ok(!message.includes(PASSWORD), message);
    }
    for (const file of [`redis-password = ${JSON.stringify(PASSWORD)}`, "redis-password = 12345678"]) {
      assert.throws(
        () => resolveConfig(["--config", "s.toml"], {}, () => file),
        (error: Error) =>
          error instanceof ConfigError &&
          /Key "redis-password" .* is not allowed: only the environment variable STATEWARD_REDIS_PASSWORD sets it/.test(error.message) &&
          !error.message.includes(PASSWORD) &&
          !error.message.includes("12345678"),
      );
    }
    const doc = OPTION_DOCS.find((option) => option.env === "STATEWARD_REDIS_PASSWORD");
    assert.deepEqual(doc && { flag: doc.flag, placeholder: doc.placeholder, section: doc.section }, { flag: "", placeholder: "", section: "redis" });
    assert.ok(SECRET_OPTIONS.some((option) => option.key === "password" && option.env === "STATEWARD_REDIS_PASSWORD"));
    assert.deepEqual(secretValues(resolveConfig([], { STATEWARD_REDIS_PASSWORD: PASSWORD })), [PASSWORD]);
  });

  it("stateward --help lists the password as variable-only, shows no password, and serve's errors show none either", async function () {
    this.timeout(30_000);
    const cli = (args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> =>
      new Promise((resolve) => {
        execFile(
          process.execPath,
          ["--require", "tsx/cjs", path.resolve(__dirname, "../src/cli.ts"), ...args],
          { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 20_000 },
          (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), out: stdout + stderr }),
        );
      });
    const help = await cli(["serve", "--help"], { STATEWARD_REDIS_PASSWORD: PASSWORD, STATEWARD_REDIS_URL: `redis://u:${PASSWORD}@h` });
    assert.equal(help.code, 0);
    assert.match(help.out, /Redis backend \(--backend redis\):\n {2}--redis-url <url>\n/);
    assert.match(help.out, /\n {2}STATEWARD_REDIS_PASSWORD \(environment variable only\)\n .*\n {6}default \(empty: none\)\n/);
    assert.ok(!help.out.includes(PASSWORD));
    for (const [args, env] of [
      [["serve", "--redis-password", PASSWORD], {}],
      [["serve", "--redis-url", `redis://u:${PASSWORD}@h/42`], {}],
      [["serve", "--redis-url", `redis://u:${PASSWORD}@h`, "--redis-prefix", "{x}"], { STATEWARD_REDIS_PASSWORD: PASSWORD }],
    ] as const) {
      const result = await cli([...args], env);
      assert.equal(result.code, 2, result.out);
      assert.match(result.out, /--redis-/);
      assert.ok(!result.out.includes(PASSWORD), result.out);
    }
  });
});

describe("isLoopbackHost", () => {
  it("recognises only loopback addresses", () => {
    for (const host of ["127.0.0.1", "127.255.255.254", "::1", "LOCALHOST", "::ffff:127.0.0.1"]) assert.ok(isLoopbackHost(host), host);
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", "::ffff:10.0.0.1", "fe80::1%eth0"]) {
      assert.ok(!isLoopbackHost(host), host);
    }
  });
});

describe("OPTION_DOCS", () => {
  it("documents every option with its variable, default and description", () => {
    const flags = OPTION_DOCS.map((doc) => doc.flag);
    assert.deepEqual(flags, [
      "--config",
      "--backend",
      "--host",
      "--port",
      "--allow-remote",
      "--log-level",
      "--shutdown-grace-ms",
      "--shutdown-delay-ms",
      "--max-pipeline-batch",
      "--max-pipeline-in-flight",
      "--pipeline-poll-us",
      "--metrics-port",
      "--health-port",
      "--session-hash-key",
      "--watch-max-backlog",
      "--tls-cert",
      "--tls-key",
      "--tls-client-ca",
      "--auth-file",
      "--insecure-remote",
      "--default-ttl-seconds",
      "--max-ttl-seconds",
      "--default-lock-lease-ms",
      "--max-lock-lease-ms",
      "--max-wait-ms",
      "--max-waiters",
      "--max-item-bytes",
      "--shards",
      "--max-apps",
      "--max-memory",
      "--expiry-interval-ms",
      "--expiry-slice-budget-ms",
      "--data-dir",
      "--fsync",
      "--snapshot-log-ratio",
      "--snapshot-min-log-bytes",
      "--redis-url",
      "--redis-cluster",
      "--redis-prefix",
      "", // STATEWARD_REDIS_PASSWORD: the variable only
      "--redis-wait-replicas",
      "--redis-wait-timeout-ms",
      "--redis-recheck-ms",
      "--redis-command-timeout-ms",
    ]);
    for (const doc of OPTION_DOCS) {
      const name = doc.flag === "" ? "redis-password" : doc.flag.slice(2);
      assert.equal(doc.env, `STATEWARD_${name.toUpperCase().replace(/-/g, "_")}`);
      assert.ok(doc.default.length > 0, doc.flag);
      assert.ok(doc.description.length > 10, doc.flag);
    }
  });

  it("lists defaults that resolveConfig actually uses", () => {
    const byFlag = new Map(OPTION_DOCS.map((doc) => [doc.flag, doc.default]));
    const config = resolveConfig([], {});
    assert.equal(byFlag.get("--port"), String(config.port));
    assert.equal(byFlag.get("--host"), config.host);
    assert.equal(byFlag.get("--max-memory"), "1GiB");
    assert.equal(config.memory.maxMemoryBytes, 1024 ** 3);
    assert.equal(byFlag.get("--shards"), String(config.memory.shards));
    assert.equal(byFlag.get("--max-waiters"), String(config.limits.maxWaiters));
    assert.equal(byFlag.get("--backend"), config.backend);
  });

  it("groups the options in sections server, security, limits, memory, persistence, redis, in that order, each section's options together", () => {
    assert.deepEqual(Object.keys(OPTION_SECTIONS), ["server", "security", "limits", "memory", "persistence", "redis"]);
    const sections = OPTION_DOCS.map((doc) => doc.section);
    const order = sections.filter((section, i) => i === 0 || sections[i - 1] !== section);
    assert.deepEqual(order, ["server", "security", "limits", "memory", "persistence", "redis"], "each section once, in order");
    const bySection = (section: string): string[] => OPTION_DOCS.filter((doc) => doc.section === section).map((doc) => doc.flag);
    assert.ok(bySection("server").includes("--backend") && bySection("server").includes("--port"));
    assert.deepEqual(bySection("limits"), [
      "--default-ttl-seconds",
      "--max-ttl-seconds",
      "--default-lock-lease-ms",
      "--max-lock-lease-ms",
      "--max-wait-ms",
      "--max-waiters",
      "--max-item-bytes",
    ]);
    assert.deepEqual(bySection("memory"), ["--shards", "--max-apps", "--max-memory", "--expiry-interval-ms", "--expiry-slice-budget-ms"]);
    assert.deepEqual(bySection("persistence"), ["--data-dir", "--fsync", "--snapshot-log-ratio", "--snapshot-min-log-bytes"]);
    for (const title of Object.values(OPTION_SECTIONS)) assert.ok(title.length > 0);
  });
});
