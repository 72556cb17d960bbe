/**
 * The deployment recipes in deploy/, checked without Docker or a running systemd: the
 * Containerfile's sources, pins, user, entry point, .proto files, configuration and health check;
 * the systemd unit's command and sandbox; and the LICENSE against every package's metadata.
 * (`make test-deploy` adds `systemd-analyze verify` and a rehearsal of the image's runtime stage.)
 */
import * as assert from "node:assert/strict";
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { OPTION_DOCS, resolveConfig } from "../src/config";
import { PROTO_ROOT } from "../src/grpc/reflection";
import { copiedTo, copiesOf, execForm, instructionsOf, readContainerfile, workdirOf, type Stage } from "./helpers/containerfile";

const REPO = path.resolve(__dirname, "../..");
const CONTAINERFILE = path.join(REPO, "deploy/Containerfile");
const UNIT = path.join(REPO, "deploy/stateward.service");

function repoPath(relative: string): string {
  return path.join(REPO, relative);
}

function isDirectory(relative: string): boolean {
  return existsSync(repoPath(relative)) && statSync(repoPath(relative)).isDirectory();
}

/** .dockerignore's patterns as regular expressions (`*`, `?` and `**`, no `!` exceptions). */
function ignorePatterns(): RegExp[] {
  const lines = readFileSync(repoPath(".dockerignore"), "utf8").split("\n").map((line) => line.trim());
  const patterns = lines.filter((line) => line !== "" && !line.startsWith("#"));
  assert.ok(patterns.every((pattern) => !pattern.startsWith("!")), "the check below does not handle ! exceptions");
  return patterns.map((pattern) => {
    const body = pattern
      .replace(/^\/+|\/+$/g, "")
      .split("/")
      .map((part) => (part === "**" ? ".*" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")))
      .join("/")
      .replace(/\.\*\//g, "(.*/)?");
    return new RegExp(`^${body}$`);
  });
}

/** True if `relative` or one of its parent directories matches a .dockerignore pattern. */
function ignored(relative: string, patterns: readonly RegExp[]): boolean {
  const parts = path.posix.normalize(relative).replace(/\/$/, "").split("/");
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    if (patterns.some((pattern) => pattern.test(prefix))) return true;
  }
  return false;
}

describe("deploy/Containerfile (checked statically; Docker is not needed)", () => {
  const file = readContainerfile(CONTAINERFILE);
  const build = file.stages.find((stage) => stage.name === "build");
  const runtime = file.stages[file.stages.length - 1];
  const stage = (which: Stage | undefined, name: string): Stage => {
    assert.ok(which !== undefined, `the ${name} stage`);
    return which;
  };
  const runtimeWorkdir = (): string => workdirOf(stage(runtime, "runtime"));
  /** Where the runtime stage puts a build-context path, or undefined if it does not copy it. */
  const runtimeDestination = (source: string): string | undefined => {
    const last = stage(runtime, "runtime");
    const copy = copiesOf(last).find((candidate) => candidate.from === undefined && candidate.sources.includes(source));
    return copy === undefined ? undefined : copiedTo(copy, source, isDirectory(source), runtimeWorkdir());
  };

  it("has a build stage and a runtime stage, both on one exact Node.js release of the official slim image", () => {
    assert.equal(file.stages.length, 2);
    stage(build, "build");
    const versions = file.stages.map((each) => {
      const match = /^docker\.io\/library\/node:(\d+)\.(\d+)\.(\d+)-[a-z]+-slim$/.exec(each.image);
      assert.ok(match !== null, `${each.image} is pinned to an exact node release (node:<major>.<minor>.<patch>-<debian>-slim)`);
      return each.image;
    });
    assert.equal(new Set(versions).size, 1, "both stages use the same image");
    const major = Number(/node:(\d+)/.exec(versions[0] ?? "")?.[1]);
    assert.ok(major >= 22 && major % 2 === 0, `an LTS line of Node.js (even major, 22 or later): ${major}`);
  });

  it("copies from the build context only files that exist and that .dockerignore does not exclude", () => {
    const patterns = ignorePatterns();
    let count = 0;
    for (const each of file.stages) {
      for (const copy of copiesOf(each).filter((candidate) => candidate.from === undefined)) {
        for (const source of copy.sources) {
          count++;
          assert.ok(existsSync(repoPath(source)), `line ${copy.line}: COPY source ${source} exists`);
          assert.ok(!ignored(source, patterns), `line ${copy.line}: COPY source ${source} is not excluded by .dockerignore`);
        }
      }
    }
    assert.ok(count > 10, "the COPY instructions were found");
    // And the context leaves out what must never be sent: local installs, build output, history.
    for (const excluded of [".git", "node_modules", "server/node_modules", "server/dist", "protocol/dist/index.js", "client/python/.venv"]) {
      assert.ok(ignored(excluded, patterns), `.dockerignore excludes ${excluded}`);
    }
  });

  it("build stage: gives npm ci every workspace manifest, and tsc every project the server's build reaches", () => {
    const copied = copiesOf(stage(build, "build")).flatMap((copy) => copy.sources);
    const rootManifest = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { workspaces: string[] };
    for (const workspace of rootManifest.workspaces) {
      assert.ok(copied.includes(`${workspace}/package.json`), `COPY ${workspace}/package.json before npm ci`);
    }
    assert.ok(copied.includes("package-lock.json"));
    // Every tsconfig reached from server/tsconfig.json (extends, references) must be in the stage.
    const reached = new Set<string>();
    const visit = (config: string): void => {
      const relative = path.relative(REPO, config);
      if (reached.has(relative)) return;
      reached.add(relative);
      const json = JSON.parse(readFileSync(config, "utf8")) as { extends?: string; references?: { path: string }[] };
      if (json.extends !== undefined) visit(path.resolve(path.dirname(config), json.extends));
      for (const reference of json.references ?? []) {
        const target = path.resolve(path.dirname(config), reference.path);
        visit(statSync(target).isDirectory() ? path.join(target, "tsconfig.json") : target);
      }
    };
    visit(repoPath("server/tsconfig.json"));
    for (const config of reached) {
      const inStage = copied.some((source) => source === config || (isDirectory(source) && config.startsWith(`${source.replace(/\/$/, "")}/`)));
      assert.ok(inStage, `${config} is copied into the build stage`);
    }
    const runs = instructionsOf(stage(build, "build"), "RUN").map((run) => run.args);
    assert.ok(runs.includes("npx tsc -b server"), "the build compiles the server project (and its references)");
  });

  it("runtime stage: copies from the build stage only what it copied in or compiled", () => {
    const buildStage = stage(build, "build");
    const copiedIn = copiesOf(buildStage).flatMap((copy) => copy.sources.map((source) => copiedTo(copy, source, isDirectory(source), workdirOf(buildStage))));
    const fromBuild = copiesOf(stage(runtime, "runtime")).filter((copy) => copy.from === "build");
    assert.ok(fromBuild.length > 0);
    for (const copy of fromBuild) {
      for (const source of copy.sources) {
        if (source.startsWith("/prod/")) {
          assert.ok(
            instructionsOf(buildStage, "RUN").some((run) => run.args.includes("/prod") && run.args.includes("npm ci --omit=dev")),
            "/prod is the build stage's production install",
          );
          continue;
        }
        const relative = path.posix.relative(workdirOf(buildStage), source);
        // Compiled output: the outDir of a project the build compiles, under a directory copied in.
        const compiled = /^(server|protocol)\/dist$/.test(relative) && copiedIn.includes(path.posix.join(workdirOf(buildStage), relative.split("/")[0] ?? ""));
        assert.ok(copiedIn.includes(source) || compiled, `line ${copy.line}: ${source} exists in the build stage`);
      }
    }
  });

  it("runs the stateward launcher as an unprivileged user, with CMD `serve`", () => {
    const last = stage(runtime, "runtime");
    const users = instructionsOf(last, "USER").map((user) => user.args);
    assert.ok(users.length > 0, "a USER instruction");
    const user = users[users.length - 1] ?? "";
    assert.ok(!/^(root|0)(:|$)/.test(user), `the server does not run as root (USER ${user})`);
    const [entrypoint] = instructionsOf(last, "ENTRYPOINT");
    assert.ok(entrypoint !== undefined);
    const program = execForm(entrypoint.args);
    assert.equal(program.length, 1);
    assert.equal(program[0], runtimeDestination("server/bin") === undefined ? undefined : path.posix.join(runtimeDestination("server/bin") ?? "", "stateward"));
    accessSync(repoPath("server/bin/stateward"), constants.X_OK);
    const [cmd] = instructionsOf(last, "CMD");
    assert.ok(cmd !== undefined);
    assert.equal(execForm(cmd.args)[0], "serve");
  });

  it("puts proto/ where server reflection looks for it, relative to the compiled server", () => {
    // reflection.ts computes PROTO_ROOT from its own directory, server/src/grpc or server/dist/grpc.
    const fromGrpcDir = path.relative(repoPath("server/src/grpc"), PROTO_ROOT);
    const distInImage = copiesOf(stage(runtime, "runtime")).find((copy) => copy.from === "build" && copy.sources.some((source) => source.endsWith("/server/dist")));
    assert.ok(distInImage !== undefined, "the compiled server is copied");
    const serverDist = path.posix.resolve(runtimeWorkdir(), distInImage.destination);
    const expected = path.posix.resolve(serverDist, "grpc", fromGrpcDir.split(path.sep).join("/"));
    assert.equal(runtimeDestination("proto"), expected);
  });

  it("configures the server with deploy/container.toml at the path CMD names, and the file resolves", () => {
    const [cmd] = instructionsOf(stage(runtime, "runtime"), "CMD");
    const args = execForm(cmd?.args ?? "[]");
    const configPath = args[args.indexOf("--config") + 1];
    assert.ok(args.includes("--config") && configPath !== undefined);
    assert.equal(runtimeDestination("deploy/container.toml"), configPath);
    // No STATEWARD_* in the image: they would silently win over a mounted configuration file.
    for (const env of instructionsOf(stage(runtime, "runtime"), "ENV")) assert.doesNotMatch(env.args, /STATEWARD_/);
    const config = resolveConfig(args.slice(1).map((arg) => (arg === configPath ? repoPath("deploy/container.toml") : arg)), {});
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.allowRemote, true);
    assert.notEqual(config.healthPort, 0);
  });

  it("checks health with GET /readyz on the configured health port, and EXPOSEs it with the gRPC port", () => {
    const config = resolveConfig(["--config", repoPath("deploy/container.toml")], {});
    const [healthcheck] = instructionsOf(stage(runtime, "runtime"), "HEALTHCHECK");
    assert.ok(healthcheck !== undefined, "a HEALTHCHECK");
    assert.match(healthcheck.args, /^(--[a-z-]+=\S+\s+)*CMD \[/);
    const command = execForm(healthcheck.args.slice(healthcheck.args.indexOf("[")));
    assert.equal(command[0], "node");
    assert.ok(command.join(" ").includes(`http://127.0.0.1:${config.healthPort}/readyz`), command.join(" "));
    const exposed = instructionsOf(stage(runtime, "runtime"), "EXPOSE").flatMap((expose) => expose.args.split(/\s+/));
    assert.ok(exposed.includes(String(config.port)), `EXPOSE ${config.port}`);
    assert.ok(exposed.includes(String(config.healthPort)), `EXPOSE ${config.healthPort}`);
  });
});

describe("deploy/stateward.service (checked statically; make test-deploy runs systemd-analyze)", () => {
  const text = readFileSync(UNIT, "utf8");
  const directives = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match === null) continue;
    const values = directives.get(match[1] ?? "") ?? [];
    values.push(match[2] ?? "");
    directives.set(match[1] ?? "", values);
  }
  const one = (key: string): string => {
    const values = directives.get(key);
    assert.ok(values !== undefined && values.length === 1, `${key}= once`);
    return values[0] ?? "";
  };

  it("starts the launcher from /opt/stateward with `serve --config`, which resolves with the example configuration", () => {
    const [program, command, flag, configPath, ...rest] = one("ExecStart").split(/\s+/);
    assert.equal(program, "/opt/stateward/server/bin/stateward");
    accessSync(repoPath("server/bin/stateward"), constants.X_OK);
    assert.deepEqual([command, flag, rest], ["serve", "--config", []]);
    assert.equal(configPath, "/etc/stateward/stateward.toml");
    assert.doesNotThrow(() => resolveConfig(["--config", repoPath("deploy/stateward.toml")], {}));
    assert.equal(one("EnvironmentFile"), "-/etc/stateward/stateward.env");
  });

  it("sandboxes the service", () => {
    const expected: Record<string, string> = {
      DynamicUser: "yes",
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      ProtectKernelTunables: "yes",
      ProtectKernelModules: "yes",
      ProtectKernelLogs: "yes",
      ProtectControlGroups: "yes",
      RestrictAddressFamilies: "AF_INET AF_INET6 AF_UNIX",
      CapabilityBoundingSet: "",
      SystemCallErrorNumber: "EPERM",
      Restart: "on-failure",
      LimitNOFILE: "65536",
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(one(key), value, key);
    assert.ok(directives.get("SystemCallFilter")?.includes("@system-service"), "SystemCallFilter=@system-service");
  });

  it("does not set MemoryDenyWriteExecute, and says why (V8 compiles code into executable memory)", () => {
    assert.equal(directives.has("MemoryDenyWriteExecute"), false);
    assert.match(text, /^# MemoryDenyWriteExecute=yes is deliberately NOT set: V8's JIT/m);
  });

  it("gives the graceful shutdown more time than the default grace period before SIGKILL", () => {
    const timeout = /^(\d+)s$/.exec(one("TimeoutStopSec"));
    assert.ok(timeout !== null, "TimeoutStopSec in seconds");
    const graceMs = resolveConfig([], {}).shutdownGraceMs;
    assert.ok(Number(timeout[1]) * 1000 > graceMs + 5000, `TimeoutStopSec ${timeout[1]} s leaves room for ${graceMs} ms of grace`);
    assert.equal(one("KillSignal"), "SIGTERM");
    assert.equal(one("RestartPreventExitStatus"), "2", "a configuration error (exit 2) is not restarted");
  });
});

describe("LICENSE and the packages' license metadata", () => {
  const license = readFileSync(repoPath("LICENSE"), "utf8");

  it("is the MIT license, copyright 2026 Stateward contributors", () => {
    assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 Stateward contributors\n\nPermission is hereby granted, free of charge,/);
    assert.match(license, /THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND/);
  });

  it("agrees with every package.json, pyproject.toml and Go module, and every copy of it is identical", () => {
    const skip = new Set(["node_modules", ".git", "dist", ".bench", ".tools"]);
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (skip.has(entry.name) || entry.name.startsWith(".venv")) continue;
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (["package.json", "pyproject.toml", "go.mod"].includes(entry.name) || /^LICEN[CS]E/.test(entry.name)) found.push(full);
      }
    };
    walk(REPO);
    const manifests = found.filter((file) => !/LICEN[CS]E/.test(path.basename(file)));
    assert.ok(manifests.length >= 7, `the manifests were found: ${manifests.join(", ")}`);
    for (const file of found) {
      const relative = path.relative(REPO, file);
      const content = readFileSync(file, "utf8");
      if (/^LICEN[CS]E/.test(path.basename(file))) {
        assert.equal(content, license, `${relative} is a copy of the root LICENSE`);
      } else if (file.endsWith("package.json")) {
        assert.equal((JSON.parse(content) as { license?: unknown }).license, "MIT", `${relative}: "license": "MIT"`);
      } else if (file.endsWith("pyproject.toml")) {
        assert.match(content, /^license = "MIT"$/m, `${relative}: license = "MIT" (SPDX)`);
        assert.doesNotMatch(content, /License :: (?!OSI Approved :: MIT License)/, `${relative}: no other license classifier`);
      } else {
        // go.mod has no license field: the Go tooling and pkg.go.dev detect the LICENSE file.
        assert.doesNotMatch(content, /licen[cs]e/i, `${relative} claims no other license`);
      }
    }
  });
});

describe("deploy/stateward.toml, the example configuration", () => {
  const example = readFileSync(repoPath("deploy/stateward.toml"), "utf8");
  /** `# key = value` lines: the options, commented out with their defaults. */
  const optionLines = example.split("\n").filter((line) => /^# [a-z][a-z0-9-]* = /.test(line));
  const keyOf = (line: string): string => line.slice(2, line.indexOf(" = "));

  it("lists every option but --config once, commented out", () => {
    const keys = optionLines.map(keyOf);
    // An option without a flag (STATEWARD_REDIS_PASSWORD) is not a file key either.
    const options = OPTION_DOCS.map((doc) => doc.flag.slice(2)).filter((flag) => flag !== "config" && flag !== "");
    assert.deepEqual([...keys].sort(), [...options].sort(), "the example's keys are exactly the options");
    assert.equal(new Set(keys).size, keys.length, "each key once");
    assert.ok(example.split("\n").every((line) => line === "" || line.startsWith("#")), "everything is commented out");
  });

  it("resolves to the defaults as shipped, and also with every option uncommented (so the values shown are the defaults)", () => {
    const defaults = resolveConfig([], {});
    const asShipped = resolveConfig(["--config", repoPath("deploy/stateward.toml")], {});
    assert.deepEqual({ ...asShipped, configFile: "" }, defaults);
    const uncommented = optionLines.map((line) => line.slice(2)).join("\n");
    const resolved = resolveConfig(["--config", "uncommented.toml"], {}, () => uncommented);
    assert.deepEqual({ ...resolved, configFile: "" }, defaults);
  });
});
