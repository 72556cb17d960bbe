/**
 * The configuration file (`--config`, `STATEWARD_CONFIG`): TOML with the flags' names as keys,
 * below flags and variables and above the defaults; every mistake stops the start with a message
 * naming the key and the file. Real files in a temporary directory.
 */
import * as assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, resolveConfig } from "../src/config";
import { configFileExposure } from "../src/config-file-exposure";

describe("the configuration file", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "stateward-config-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let count = 0;
  /** Writes `text` to a new file and returns its path. */
  function file(text: string): string {
    const name = path.join(dir, `config-${++count}.toml`);
    writeFileSync(name, text);
    return name;
  }

  function errorOf(argv: string[], env: Record<string, string> = {}): string {
    try {
      resolveConfig(argv, env);
    } catch (error) {
      assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
      return error.message;
    }
    assert.fail(`resolveConfig(${JSON.stringify(argv)}) should have failed`);
  }

  describe("values", () => {
    it("reads each kind of option under its flag's name: integers, sizes as integers or strings, strings, booleans", () => {
      const config = resolveConfig(
        [
          "--config",
          file(
            [
              "port = 5000",
              'max-item-bytes = "2MiB"',
              "max-memory = 268435456",
              'log-level = "debug"',
              'host = "0.0.0.0"',
              "allow-remote = true",
              'tls-cert = "/etc/stateward/server.pem"',
              'tls-key = "/etc/stateward/server.key"',
              "insecure-remote = false",
              'auth-file = "/etc/stateward/auth.json"',
              "shards = 4",
              "metrics-port = 9464",
              "health-port = 8080",
              'session-hash-key = "0123456789abcdef"',
            ].join("\n"),
          ),
        ],
        {},
      );
      assert.equal(config.port, 5000);
      assert.equal(config.limits.maxItemBytes, 2 * 1024 * 1024);
      assert.equal(config.memory.maxMemoryBytes, 256 * 1024 * 1024);
      assert.equal(config.logLevel, "debug");
      assert.equal(config.host, "0.0.0.0");
      assert.equal(config.allowRemote, true);
      assert.deepEqual([config.tlsCert, config.tlsKey, config.authFile, config.insecureRemote], ["/etc/stateward/server.pem", "/etc/stateward/server.key", "/etc/stateward/auth.json", false]);
      assert.equal(config.memory.shards, 4);
      assert.equal(config.metricsPort, 9464);
      assert.equal(config.healthPort, 8080);
      assert.equal(config.sessionHashKey, "0123456789abcdef");
      assert.ok(Object.isFrozen(config) && Object.isFrozen(config.limits) && Object.isFrozen(config.memory));
    });

    it("is named by --config or by STATEWARD_CONFIG, the flag winning; configFile says which file was read", () => {
      const a = file("port = 5001");
      const b = file("port = 5002");
      assert.equal(resolveConfig(["--config", a], {}).port, 5001);
      assert.equal(resolveConfig([], { STATEWARD_CONFIG: b }).port, 5002);
      assert.equal(resolveConfig(["--config", a], { STATEWARD_CONFIG: b }).configFile, a);
      assert.equal(resolveConfig(["--config", a], { STATEWARD_CONFIG: b }).port, 5001);
      assert.equal(resolveConfig([], { STATEWARD_CONFIG: "" }).configFile, "", "an empty variable is unset");
      assert.equal(resolveConfig([], {}).configFile, "");
    });

    it("ranks flags over variables over the file over the defaults, option by option", () => {
      const config = file(["port = 5000", "max-waiters = 7", "shards = 3", 'log-level = "warn"'].join("\n"));
      const resolved = resolveConfig(["--config", config, "--port", "6000"], { STATEWARD_PORT: "5500", STATEWARD_MAX_WAITERS: "9" });
      assert.equal(resolved.port, 6000, "the flag beats the variable and the file");
      assert.equal(resolved.limits.maxWaiters, 9, "the variable beats the file");
      assert.equal(resolved.memory.shards, 3, "the file beats the default");
      assert.equal(resolved.logLevel, "warn");
      assert.equal(resolved.shutdownGraceMs, 10_000, "the default where nobody says");
    });

    it("lets --no-allow-remote beat allow-remote = true in the file", () => {
      const config = file('host = "0.0.0.0"\nallow-remote = true\ninsecure-remote = true\n');
      assert.equal(resolveConfig(["--config", config], {}).allowRemote, true);
      assert.match(errorOf(["--config", config, "--no-allow-remote"]), /Refusing to listen on non-loopback address "0\.0\.0\.0"/);
      assert.equal(resolveConfig(["--config", config, "--host", "127.0.0.1", "--no-allow-remote"], {}).allowRemote, false);
    });

    it("checks the options together whatever their source: a file value and a flag that disagree are refused", () => {
      assert.match(
        errorOf(["--config", file("max-ttl-seconds = 60"), "--default-ttl-seconds", "120"]),
        /--default-ttl-seconds \(STATEWARD_DEFAULT_TTL_SECONDS\) is 120 but must not exceed --max-ttl-seconds \(STATEWARD_MAX_TTL_SECONDS\), which is 60/,
      );
      assert.match(errorOf(["--config", file("health-port = 42424")]), /--health-port .* the same as --port/);
    });
  });

  describe("errors name the key and the file", () => {
    it("refuses an unknown key, suggesting the option it most likely meant", () => {
      const typo = file("max-item-byte = 10");
      const message = errorOf(["--config", typo]);
      assert.match(message, new RegExp(`Unknown key "max-item-byte" in configuration file ${JSON.stringify(typo).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
      assert.match(message, /did you mean max-item-bytes\?/);
      assert.match(errorOf(["--config", file("max_waiters = 3")]), /"max_waiters".*did you mean max-waiters\?/);
      assert.match(errorOf(["--config", file('"--port" = 3')]), /"--port".*did you mean port\?/);
      assert.doesNotMatch(errorOf(["--config", file("colour = 3")]), /did you mean/);
    });

    it("refuses sections, saying that options are top-level keys", () => {
      const sectioned = file("[server]\nport = 5000\n");
      assert.match(errorOf(["--config", sectioned]), /Unknown section \[server\] in configuration file ".*config-\d+\.toml": the file has no sections.*top-level key/);
    });

    it("refuses a value of the wrong type, saying the type expected and the type found", () => {
      const cases: [string, RegExp][] = [
        ['port = "5000"', /Wrong type for key "port" in configuration file ".*" \(flag --port\): expected an integer, got a string \("5000"\)/],
        ["port = 5000.0", /key "port".*expected an integer, got a float/],
        ["allow-remote = 1", /key "allow-remote".*expected a boolean \(true or false\), got an integer \(1\)/],
        ['allow-remote = "yes"', /key "allow-remote".*expected a boolean/],
        ["log-level = 3", /key "log-level".*expected a string, got an integer/],
        ["max-item-bytes = 1.5", /key "max-item-bytes".*expected an integer or a string with a unit \(e\.g\. "512MiB"\), got a float \(1\.5\)/],
        ["max-memory = [1]", /key "max-memory".*got an array\./],
        ["max-memory = [{ a = 1 }]", /key "max-memory".*got an array\./],
        ["shards = 1979-05-27", /key "shards".*got a date-time/],
        ["host = { a = 1 }", /key "host".*expected a string, got a table\./],
      ];
      for (const [text, pattern] of cases) assert.match(errorOf(["--config", file(text)]), pattern, text);
    });

    it("refuses a value out of range with the option's rule, naming the key, the file, the flag and the variable", () => {
      const message = errorOf(["--config", file("port = 70000")]);
      assert.match(message, /Invalid value 70000 from key "port" in configuration file ".*config-\d+\.toml" \(flag --port, environment variable STATEWARD_PORT\): must be an integer from 0 to 65535\./);
      assert.match(errorOf(["--config", file("port = -1")]), /Invalid value -1 from key "port"/);
      assert.match(errorOf(["--config", file('max-memory = "1GB"')]), /Invalid value "1GB" from key "max-memory".*suffix/);
      assert.match(errorOf(["--config", file('log-level = "loud"')]), /Invalid value "loud" from key "log-level".*one of fatal/);
    });

    it("never repeats the session hash key, whatever is wrong with it", () => {
      for (const text of ['session-hash-key = "short-secret"', "session-hash-key = 123456789"]) {
        const message = errorOf(["--config", file(text)]);
        assert.match(message, /session-hash-key/);
        assert.doesNotMatch(message, /short-secret|123456789/, text);
      }
    });

    it("refuses `config` inside the file", () => {
      assert.match(errorOf(["--config", file('config = "other.toml"')]), /Key "config" in configuration file ".*" is not allowed: --config names the file itself/);
    });

    it("reports a TOML syntax error with its line and column", () => {
      const broken = file('port = 5000\nhost = "127.0.0.1\n');
      assert.match(errorOf(["--config", broken]), /The configuration file ".*config-\d+\.toml" is not valid TOML \(line 2, column \d+\)/);
      assert.match(errorOf(["--config", file("port = 1\nport = 2\n")]), /not valid TOML \(line 2/);
    });

    it("never prints the lines around a syntax error, where a secret may stand", () => {
      const secret = "TOPSECRETKEY-0123456789abcdef";
      for (const text of [`session-hash-key = "${secret}"\nport = 50x\n`, `port = 50x\nsession-hash-key = "${secret}"\n`, `session-hash-key = "${secret}"\nsession-hash-key = "${secret}"\n`]) {
        const message = errorOf(["--config", file(text)]);
        assert.match(message, /not valid TOML \(line \d+, column \d+\): \S/, text);
        assert.ok(!message.includes(secret), `the key is not in: ${message}`);
        assert.ok(!message.includes("\n"), `one line: ${message}`);
      }
    });

    it("warns, without the value, when a file that sets a secret is readable by other users", () => {
      const secret = "a-hash-key-of-some-length-0123";
      const exposed = file(`session-hash-key = "${secret}"\n`);
      chmodSync(exposed, 0o644);
      const warning = configFileExposure(exposed);
      assert.match(warning ?? "", /sets session-hash-key and is readable by other users \(mode 644\): chmod 600 it/);
      assert.ok(!(warning ?? "").includes(secret));
      chmodSync(exposed, 0o600);
      assert.equal(configFileExposure(exposed), undefined, "private file");
      const noSecret = file("port = 50051\n");
      chmodSync(noSecret, 0o644);
      assert.equal(configFileExposure(noSecret), undefined, "no secret in it");
      assert.equal(configFileExposure(""), undefined, "no file");
    });

    it("reports a file that cannot be read, and where its name came from", () => {
      const missing = path.join(dir, "missing.toml");
      assert.match(errorOf(["--config", missing]), /Cannot read the configuration file ".*missing\.toml" \(from --config\): ENOENT/);
      assert.match(errorOf([], { STATEWARD_CONFIG: missing }), /\(from STATEWARD_CONFIG\): ENOENT/);
      assert.match(errorOf(["--config", dir]), /Cannot read the configuration file .*EISDIR/);
      assert.match(errorOf(["--config", ""]), /--config.*must be the path of a file/);
    });
  });
});

describe("the README's configuration file example", () => {
  it("resolves (it is the same TOML a user would copy)", () => {
    const readme = readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### The configuration file"));
    const example = /```toml\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(example !== undefined, "a toml block under \"The configuration file\"");
    const config = resolveConfig(["--config", "README.md#toml"], {}, () => example);
    assert.equal(config.memory.maxMemoryBytes, 4 * 1024 ** 3);
    assert.equal(config.authFile, "/etc/stateward/auth.json");
    assert.equal(config.host, "0.0.0.0");
  });
});
