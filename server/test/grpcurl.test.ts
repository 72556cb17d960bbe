/**
 * The tools people already use (issue 12, items 1 and 11): grpcurl, which resolves descriptors
 * through Go's protoreflect, and grpc-health-probe, run as processes against a real server on
 * 127.0.0.1:0. The README's "Using grpcurl" section is run as written: every command in its
 * `console` blocks, with the output it shows. `make grpc-tools` (a prerequisite of `make test-ts`)
 * installs both tools into .tools/bin; a missing tool fails the suite, it is never skipped.
 */
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";

import { GRPCURL, HEALTH_PROBE, README_ADDRESS, REPO_ROOT, TOOL_ENV, sh, tool } from "./helpers/external-tools";
import { grpc, useServer, waitFor } from "./helpers/test-server";

/** A command left running (a Watch stream): its output so far, and a way to stop it as Ctrl-C does. */
interface Background {
  output(): string;
  /** SIGINT to its process group; resolves when it has exited. */
  interrupt(): Promise<void>;
}

function shInBackground(command: string): Background {
  const child: ChildProcess = spawn("bash", ["-c", command], { env: TOOL_ENV, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    output: () => output,
    interrupt: async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(-child.pid, "SIGINT");
      await exited;
    },
  };
}

/** Parses grpcurl's output of a stream: pretty-printed JSON objects one after the other. */
function jsonObjects(text: string): unknown[] {
  const objects: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) {
      objects.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return objects;
}

// ---- the README's section -------------------------------------------------------------------

/** One `$ ` command of the README with the output shown under it. */
interface ReadmeCommand {
  readonly command: string;
  readonly expected: string;
}

/** The "Using grpcurl" section of the README (up to the next `## ` heading). */
function readmeSection(): string {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf("\n## Using grpcurl\n");
  assert.ok(start >= 0, 'README.md has a "## Using grpcurl" section');
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The commands of the section's ```console blocks, in order: `$ ` lines (with `\` continuations) and their output. */
function readmeCommands(section: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  for (const block of section.matchAll(/^```console\n([\s\S]*?)^```$/gm)) {
    const lines = (block[1] ?? "").split("\n");
    let current: { command: string; expected: string[] } | undefined;
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i] ?? "";
      if (line.startsWith("$ ")) {
        if (current) commands.push({ command: current.command, expected: current.expected.join("\n") });
        let command = line.slice(2);
        while (command.endsWith("\\") && i + 1 < lines.length) {
          line = lines[++i] ?? "";
          command = `${command.slice(0, -1)}${line}`;
        }
        current = { command, expected: [] };
      } else {
        assert.ok(current, `a console block starts with a "$ " command line, not ${JSON.stringify(line)}`);
        current.expected.push(line);
      }
    }
    if (current) commands.push({ command: current.command, expected: current.expected.join("\n") });
  }
  return commands;
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/**
 * What may differ from run to run, made equal: the time a lock has been held, an event's time
 * (checked to be RFC 3339 first), and the runs of blanks grpcurl uses in its error details (tabs
 * there, spaces in the README).
 */
function normalized(text: string): string {
  return text
    .replace(/held \d+ ms/g, "held <n> ms")
    .replace(/"time": "([^"]*)"/g, (_match, time: string) => `"time": ${RFC3339.test(time) ? "<rfc3339>" : JSON.stringify(time)}`)
    .split("\n")
    .map((line) => line.replace(/[ \t]+/g, " ").trimEnd())
    .join("\n")
    .trim();
}

/** The exit status the output shows: 64 plus the gRPC code of a refusal (grpcurl's rule), else 0. */
function expectedExitCode(expected: string): number {
  const printed = /^ERROR:\n\s*Code: (\w+)/.exec(expected);
  if (printed?.[1] !== undefined) {
    // grpcurl prints Go's code names (InvalidArgument); grpc-js's enum says INVALID_ARGUMENT.
    const name = printed[1].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase() as keyof typeof grpc.status;
    const code = grpc.status[name];
    assert.equal(typeof code, "number", `a gRPC code named ${printed[1]}`);
    return 64 + code;
  }
  const [first] = expected.trimStart().startsWith("{") ? jsonObjects(expected) : [];
  const status = first as { code?: unknown; message?: unknown; details?: unknown } | undefined;
  if (typeof status?.code === "number" && typeof status.message === "string" && Array.isArray(status.details)) return 64 + status.code;
  return 0;
}

/** The lock ids an output shows (`"lockId": "…"`, 0 excepted); the same id in a later message is substituted with them. */
function lockIdsIn(text: string): string[] {
  return [...text.matchAll(/"lockId": "(\d+)"/g)].map((match) => match[1] ?? "").filter((id) => id !== "0");
}

function replaceAll(text: string, substitutions: ReadonlyMap<string, string>): string {
  let result = text;
  for (const [from, to] of substitutions) result = result.split(from).join(to);
  return result;
}

describe("grpcurl and grpc-health-probe against a real server (issue 12)", function () {
  before(function () {
    for (const binary of [GRPCURL, HEALTH_PROBE]) {
      assert.ok(existsSync(binary), `${path.relative(REPO_ROOT, binary)} is missing: run \`make grpc-tools\` (make test-ts does)`);
    }
  });

  const t = useServer();

  it('runs the README\'s "Using grpcurl" commands as written and prints what the README shows', async function () {
    this.timeout(60_000);
    const section = readmeSection();
    const commands = readmeCommands(section);
    // The section shows the whole round trip and both tools.
    const shown = commands.map((c) => c.command).join("\n");
    for (const needed of [" list", "describe ", "/Set", "/Get", "/Lock", "/Release", "/Pipeline", "/Watch", "/Remove", "-emit-defaults", "-format-error", "grpc-health-probe "]) {
      assert.ok(shown.includes(needed), `the README's grpcurl section runs a command with "${needed}"`);
    }
    // Its install lines name the versions mk/grpc-tools.mk pins.
    const pins = readFileSync(path.join(REPO_ROOT, "mk", "grpc-tools.mk"), "utf8");
    for (const [variable, module] of [
      ["GRPCURL_VERSION", "github.com/fullstorydev/grpcurl/cmd/grpcurl"],
      ["GRPC_HEALTH_PROBE_VERSION", "github.com/grpc-ecosystem/grpc-health-probe"],
    ] as const) {
      const version = new RegExp(`^${variable} := (\\S+)$`, "m").exec(pins)?.[1];
      assert.ok(version !== undefined, `mk/grpc-tools.mk pins ${variable}`);
      assert.ok(section.includes(`go install ${module}@${version}`), `the README installs ${module}@${version}`);
    }

    const substitutions = new Map<string, string>([[README_ADDRESS, t().server.address]]);
    const watches: { readonly run: Background; readonly expected: string; readonly command: string }[] = [];
    try {
      for (const { command, expected } of commands) {
        assert.ok(command.includes(README_ADDRESS), `the command names the server's address: ${command}`);
        const actualCommand = replaceAll(command, substitutions);
        if (command.includes("/Watch")) {
          // A stream that runs until interrupted: it goes on while the next commands run, as in a
          // second terminal, and its output is compared once they are done.
          const before = t().server.watchers();
          const run = shInBackground(actualCommand);
          await waitFor(() => t().server.watchers() > before, `the Watch of ${command} to subscribe`, 10_000);
          watches.push({ run, expected, command });
          continue;
        }
        const result = await sh(actualCommand);
        // The README's lock id stands for whatever id this server granted.
        const readmeIds = lockIdsIn(expected);
        const grantedIds = lockIdsIn(result.output);
        assert.equal(grantedIds.length, readmeIds.length, `lock ids in the output of ${command}:\n${result.output}`);
        readmeIds.forEach((id, i) => substitutions.set(id, grantedIds[i] ?? ""));
        assert.equal(normalized(result.output), normalized(replaceAll(expected, substitutions)), `the output of: ${command}`);
        assert.equal(result.code, expectedExitCode(expected), `the exit status of: ${command}\n${result.output}`);
      }
      for (const { run, expected, command } of watches) {
        await waitFor(() => jsonObjects(run.output()).length >= jsonObjects(expected).length, `the events of ${command}`, 10_000);
        await run.interrupt();
        assert.equal(normalized(run.output()), normalized(expected), `the output of: ${command}`);
      }
    } finally {
      for (const { run } of watches) await run.interrupt();
    }
  });

  it("describes the service and its messages with every type resolved, imports included", async () => {
    const address = t().server.address;
    const service = await tool(GRPCURL, ["-plaintext", address, "describe", "stateward.v1.SessionState"]);
    assert.equal(service.code, 0, service.output);
    assert.match(service.output, /^stateward\.v1\.SessionState is a service:\n/);
    for (const [method, input, output] of [
      ["Get", "GetRequest", "GetResponse"],
      ["Lock", "LockRequest", "LockResponse"],
      ["Set", "SetRequest", "SetResponse"],
      ["Release", "ReleaseRequest", "ReleaseResponse"],
      ["Expire", "ExpireRequest", "ExpireResponse"],
      ["Remove", "RemoveRequest", "RemoveResponse"],
      ["Pipeline", "stream .stateward.v1.PipelineRequest", "stream .stateward.v1.PipelineResponse"],
      ["Watch", "WatchRequest", "stream .stateward.v1.SessionEvent"],
    ] as const) {
      const qualified = (name: string): string => (name.startsWith("stream ") ? name : `.stateward.v1.${name}`);
      assert.ok(
        service.output.includes(`rpc ${method} ( ${qualified(input)} ) returns ( ${qualified(output)} );`),
        `rpc ${method} in:\n${service.output}`,
      );
    }

    const set = await tool(GRPCURL, ["-plaintext", address, "describe", "stateward.v1.SetRequest"]);
    assert.equal(set.code, 0, set.output);
    for (const field of [
      "string app = 1;",
      "string session_id = 2;",
      "bytes data = 3;",
      "uint32 ttl_seconds = 4;",
      "uint64 lock_id = 5;",
      "bool keep_lock = 6;",
      "uint64 expected_version = 7;",
      "bool only_if_absent = 8;",
    ]) {
      assert.ok(set.output.includes(field), `${field} in:\n${set.output}`);
    }
    // The comments of the .proto come along (the descriptors carry their source info).
    assert.match(set.output, /\/\/ The new data; at most --max-item-bytes/);

    // What clients need to read a refusal: the reasons (errors.proto, which the service's file
    // does not import) and the ErrorInfo message of the details.
    const reasons = await tool(GRPCURL, ["-plaintext", address, "describe", "stateward.v1.ErrorReason"]);
    assert.equal(reasons.code, 0, reasons.output);
    assert.match(reasons.output, /^stateward\.v1\.ErrorReason is an enum:/);
    assert.match(reasons.output, /ITEM_TOO_LARGE = 2;/);
    const errorInfo = await tool(GRPCURL, ["-plaintext", address, "describe", "google.rpc.ErrorInfo"]);
    assert.equal(errorInfo.code, 0, errorInfo.output);
    assert.match(errorInfo.output, /map<string, string> metadata = 3;/);
    const health = await tool(GRPCURL, ["-plaintext", address, "describe", "grpc.health.v1.Health"]);
    assert.equal(health.code, 0, health.output);
    assert.match(health.output, /rpc Check \( \.grpc\.health\.v1\.HealthCheckRequest \)/);
  });

  it("runs a Pipeline batch from JSON: results by correlation id, a refused operation with its reason and metadata", async () => {
    const request = {
      operations: [
        { id: "1", set: { app: "batch", session_id: "a", data: Buffer.from("one").toString("base64") } },
        { id: "2", lock: { app: "batch", session_id: "b", create: true } },
        { id: "3", expire: { app: "batch", session_id: "a", ttl_seconds: 99_999_999 } },
        { id: "18446744073709551615", get: { app: "batch", session_id: "a" } },
      ],
    };
    const run = await tool(GRPCURL, ["-plaintext", "-d", JSON.stringify(request), t().server.address, "stateward.v1.SessionState/Pipeline"]);
    assert.equal(run.code, 0, run.output);
    type Result = { id: string } & Record<string, unknown>;
    const results = new Map<string, Result>();
    for (const message of jsonObjects(run.output) as { results: Result[] }[]) for (const result of message.results) results.set(result.id, result);
    assert.deepEqual([...results.keys()].sort(), ["1", "18446744073709551615", "2", "3"]);
    assert.deepEqual(results.get("1")?.set, { version: "1", written: true });
    const lock = results.get("2")?.lock as { outcome: string; version: string; lockId: string } | undefined;
    assert.equal(lock?.outcome, "OUTCOME_OK");
    assert.match(lock.lockId, /^[1-9]\d*$/);
    assert.deepEqual(results.get("3")?.error, {
      code: grpc.status.INVALID_ARGUMENT,
      message: "ttl_seconds must be at most 31536000 (--max-ttl-seconds); got 99999999",
      reason: "INVALID_FIELD",
      metadata: { field: "ttl_seconds", limit: "31536000" },
    });
    const get = results.get("18446744073709551615")?.get as { outcome: string; data: string } | undefined;
    assert.equal(get?.outcome, "OUTCOME_OK");
    assert.equal(Buffer.from(get.data, "base64").toString(), "one");
  });

  it("grpc-health-probe: SERVING for the server and for stateward.v1.SessionState; an unknown service fails", async () => {
    const address = t().server.address;
    const server = await tool(HEALTH_PROBE, ["-addr", address]);
    assert.deepEqual(server, { code: 0, output: "status: SERVING\n" });
    const service = await tool(HEALTH_PROBE, ["-addr", address, "-service", "stateward.v1.SessionState"]);
    assert.deepEqual(service, { code: 0, output: "status: SERVING\n" });
    const unknown = await tool(HEALTH_PROBE, ["-addr", address, "-service", "stateward.v1.Nope"]);
    // grpc-health-probe's exit status 3: the health RPC failed (NOT_FOUND for an unknown service).
    assert.equal(unknown.code, 3, unknown.output);
    assert.match(unknown.output, /NotFound/);
  });
});
