/**
 * Real Redis servers for the tests: `redis-server` (Debian's, which `make test` installs when it is
 * missing) on a free loopback port with its own temp dir, a process-wide shared one, and a Redis
 * Cluster of masters joined by `redis-cli --cluster create`. Nothing here assumes a Redis on 6379.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { respCommand, RespError, type RespReply, type RespTarget } from "./resp-command";

/** A started `redis-server`. */
export interface RedisProcess {
  /** Its loopback port (free when it was picked; kept across {@link restart}). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, with `default:<password>@` when started with `requirePass`. */
  readonly url: string;
  /** Its temp working dir (`--dir`: AOF, RDB, nodes.conf, redis.log), removed by {@link stop}. */
  readonly dir: string;
  /** The pid of the current process (a new one after {@link restart}). */
  readonly pid: number;
  /** Runs `redis-cli -h 127.0.0.1 -p <port> -e [auth] <args>`: its stdout, trimmed; rejects on a failed command or an error reply. */
  cli(...args: string[]): Promise<string>;
  /** Sends `signal` (default SIGKILL) and resolves when the process has exited (at once when it has already). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts it again on the same port and dir (AOF and RDB files kept); resolves when PING answers
   * PONG and loading is done. A server still running is first stopped with SIGTERM.
   */
  restart(): Promise<void>;
  /** Idempotent: SIGTERM, SIGKILL after 3 s, then its dir is removed. */
  stop(): Promise<void>;
}

/** How a test's Redis runs; everything else is Redis's default, except `save ""` (no RDB snapshots). */
export interface RedisOptionsForTest {
  /** `appendonly yes`. */
  readonly appendonly?: boolean;
  readonly appendfsync?: "always" | "everysec" | "no";
  /** `maxmemory`, e.g. `"2mb"`. */
  readonly maxmemory?: string;
  /** `maxmemory-policy`, e.g. `"noeviction"`. */
  readonly maxmemoryPolicy?: string;
  /** `requirepass`: the default user's password ({@link RedisProcess.url} and `cli` use it). */
  readonly requirePass?: string;
  /** Full ACL rule lines, each `user <name> ...`, written to the config file as they are. */
  readonly aclUsers?: readonly string[];
  /** `cluster-enabled yes` (its bus port, port + 10000, is checked free too). */
  readonly cluster?: boolean;
  /** Further `redis-server` arguments, after the config file (`["--loglevel", "debug"]`). */
  readonly extraArgs?: readonly string[];
}

/**
 * Ports are picked below Linux's ephemeral range (32768 and up), bus port included, so that the
 * OS never hands one of them to another test's `listen(0)` or outgoing connection meanwhile; a
 * port another process takes first makes redis-server fail to bind, and a new one is picked.
 */
const PORT_LOW = 15_000;
const PORT_HIGH = 22_700;
const CLUSTER_BUS_OFFSET = 10_000;
const START_ATTEMPTS = 8;
const READY_TIMEOUT_MS = 10_000;
const POLL_MS = 10;
const STOP_GRACE_MS = 3_000;

/** Every server started by this process and not stopped yet, killed at process exit whatever the tests did. */
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const [child, dir] of live) {
      try {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    }
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function pickPort(cluster: boolean): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW));
    if ((await canBind(port)) && (!cluster || (await canBind(port + CLUSTER_BUS_OFFSET)))) return port;
  }
  throw new Error("no free loopback port for redis-server");
}

/** A value in redis.conf syntax (sdssplitargs): double-quoted, with `\\`, `\"` and line breaks escaped. */
function confValue(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
}

function configText(port: number, dir: string, options: RedisOptionsForTest): string {
  const lines = [
    `port ${port}`,
    "bind 127.0.0.1",
    `dir ${confValue(dir)}`,
    `logfile ${confValue(path.join(dir, "redis.log"))}`,
    'save ""',
    "daemonize no",
    `appendonly ${options.appendonly === true ? "yes" : "no"}`,
  ];
  if (options.appendfsync !== undefined) lines.push(`appendfsync ${options.appendfsync}`);
  if (options.maxmemory !== undefined) lines.push(`maxmemory ${confValue(options.maxmemory)}`);
  if (options.maxmemoryPolicy !== undefined) lines.push(`maxmemory-policy ${confValue(options.maxmemoryPolicy)}`);
  if (options.requirePass !== undefined) lines.push(`requirepass ${confValue(options.requirePass)}`);
  for (const rule of options.aclUsers ?? []) lines.push(rule);
  if (options.cluster === true) {
    lines.push("cluster-enabled yes", `cluster-config-file ${confValue(path.join(dir, "nodes.conf"))}`, "cluster-node-timeout 5000");
  }
  return `${lines.join("\n")}\n`;
}

function logTail(dir: string): string {
  try {
    return readFileSync(path.join(dir, "redis.log"), "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "(no redis.log)";
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when `child` has exited; it keeps the event loop alive meanwhile (see {@link launch}). */
function waitExit(child: ChildProcess): Promise<void> {
  if (exited(child)) return Promise.resolve();
  child.ref();
  return new Promise((resolve) =>
    child.once("exit", () => {
      child.unref();
      resolve();
    }),
  );
}

/**
 * Polls until the server answers PING with PONG and INFO says it is not loading (an AOF or RDB
 * after a restart); rejects when the process exits first or after {@link READY_TIMEOUT_MS}.
 */
async function waitReady(child: ChildProcess, target: RespTarget, dir: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "";
  while (Date.now() < deadline) {
    if (exited(child)) throw new StartFailed(`redis-server exited (${String(child.exitCode ?? child.signalCode)}) before it was ready:\n${logTail(dir)}`);
    try {
      if ((await respCommand(target, ["PING"], 1_000)) === "PONG") {
        const info = await respCommand(target, ["INFO", "persistence"], 1_000);
        if (typeof info === "string" && /^loading:0\r?$/m.test(info)) return;
        last = "still loading";
      }
    } catch (error) {
      // LOADING (Redis refuses PING while it loads) and ECONNREFUSED (not listening yet) mean "not yet";
      // an auth refusal (ACL rules that turn the default user off) means it is up and has loaded.
      last = error instanceof Error ? error.message : String(error);
      if (error instanceof RespError && /^(NOAUTH|WRONGPASS|NOPERM)/.test(error.message)) return;
      if (error instanceof RespError && !/^LOADING/.test(error.message)) throw error;
    }
    await delay(POLL_MS);
  }
  throw new Error(`redis-server on port ${target.port} not ready within ${READY_TIMEOUT_MS} ms (${last}):\n${logTail(dir)}`);
}

class StartFailed extends Error {}

function launch(confPath: string, dir: string, extraArgs: readonly string[]): ChildProcess {
  const child = spawn("redis-server", [confPath, ...extraArgs], { cwd: dir, stdio: "ignore" });
  // A running server does not keep the test process alive (mocha waits for an empty event loop):
  // the exit hook kills whatever is still running then.
  child.unref();
  live.set(child, dir);
  child.once("exit", () => live.delete(child));
  child.once("error", () => live.delete(child));
  return child;
}

class RedisServerProcess implements RedisProcess {
  private child: ChildProcess;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly confPath: string,
    private readonly options: RedisOptionsForTest,
    child: ChildProcess,
  ) {
    this.child = child;
  }

  get url(): string {
    const auth = this.options.requirePass !== undefined ? `default:${encodeURIComponent(this.options.requirePass)}@` : "";
    return `redis://${auth}127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Where {@link respCommand} reaches it. */
  get target(): RespTarget {
    return { port: this.port, password: this.options.requirePass };
  }

  cli(...args: string[]): Promise<string> {
    // The password goes through REDISCLI_AUTH, not -a: it stays out of the process list.
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.REDISCLI_AUTH;
    if (this.options.requirePass !== undefined) env.REDISCLI_AUTH = this.options.requirePass;
    const argv = ["-h", "127.0.0.1", "-p", String(this.port), "-e", ...args];
    return new Promise((resolve, reject) => {
      execFile("redis-cli", argv, { env, timeout: 15_000 }, (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`redis-cli ${args.join(" ")} (port ${this.port}) failed: ${`${stdout}${stderr}`.trim() || error.message}`));
          return;
        }
        resolve(stdout.trim());
      });
    });
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (exited(this.child)) return;
    const done = waitExit(this.child);
    this.child.kill(signal);
    await done;
  }

  async restart(): Promise<void> {
    if (this.stopping !== undefined) throw new Error(`redis-server on port ${this.port} was stopped; it cannot restart`);
    await this.terminate();
    this.child = launch(this.confPath, this.dir, this.options.extraArgs ?? []);
    await waitReady(this.child, this.target, this.dir);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.terminate();
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    })();
    return this.stopping;
  }

  /** SIGTERM, then SIGKILL when it has not exited after {@link STOP_GRACE_MS}. */
  private async terminate(): Promise<void> {
    if (exited(this.child)) return;
    const done = waitExit(this.child);
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), STOP_GRACE_MS);
    await done;
    clearTimeout(timer);
  }
}

/** Starts a `redis-server` on a free loopback port with its own temp dir; resolves when it answers. */
export async function startRedis(options: RedisOptionsForTest = {}): Promise<RedisProcess> {
  return startRedisProcess(options);
}

async function startRedisProcess(options: RedisOptionsForTest): Promise<RedisServerProcess> {
  installExitHook();
  const dir = mkdtempSync(path.join(os.tmpdir(), "stateward-redis-"));
  const confPath = path.join(dir, "redis.conf");
  let lastFailure = "";
  try {
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const port = await pickPort(options.cluster === true);
      writeFileSync(confPath, configText(port, dir, options), { mode: 0o600 });
      const child = launch(confPath, dir, options.extraArgs ?? []);
      const server = new RedisServerProcess(port, dir, confPath, options, child);
      try {
        await waitReady(child, server.target, dir);
        return server;
      } catch (error) {
        await server.kill();
        lastFailure = error instanceof Error ? error.message : String(error);
        // Only a port taken between the check and the bind is worth another attempt.
        if (!(error instanceof StartFailed) || !/Address already in use/.test(lastFailure)) throw error;
        rmSync(path.join(dir, "redis.log"), { force: true });
      }
    }
    throw new Error(`redis-server did not start after ${START_ATTEMPTS} attempts: ${lastFailure}`);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    throw error;
  }
}

let shared: Promise<RedisProcess> | undefined;

/**
 * One Redis per test process, started on first use and killed when the process exits (tests give
 * each suite its own key prefix; do not stop it).
 */
export function sharedRedis(): Promise<RedisProcess> {
  shared ??= startRedis();
  shared.catch(() => (shared = undefined));
  return shared;
}

/** A Redis Cluster of masters only, on loopback. */
export interface RedisCluster {
  /** The masters. */
  readonly nodes: readonly RedisProcess[];
  /** `127.0.0.1:p1,127.0.0.1:p2,...`, as `--redis-cluster` takes them. */
  readonly seeds: string;
  /** CLUSTER KEYSLOT of `key`. */
  slotOf(key: string): Promise<number>;
  /** The master that serves `slot` now. */
  ownerOf(slot: number): Promise<RedisProcess>;
  /**
   * Moves one slot to `to` the way `redis-cli --cluster reshard` does: CLUSTER SETSLOT IMPORTING
   * on `to` and MIGRATING on the owner, MIGRATE of its keys one per batch (calling
   * `betweenBatches` after each, so that a test can act mid-move), then SETSLOT NODE on `to`, the
   * old owner and every other master; resolves when every master agrees on the slots.
   */
  moveSlot(slot: number, to: RedisProcess, betweenBatches?: () => Promise<void>): Promise<void>;
  /** Stops every node (see {@link RedisProcess.stop}). */
  stop(): Promise<void>;
}

/** Each master's node id and its slots (`0-5460`, `5461`), from CLUSTER NODES; migration marks (`[...]`) left out. */
function mastersOf(nodesText: string): Map<string, { port: number; slots: string[] }> {
  const masters = new Map<string, { port: number; slots: string[] }>();
  for (const line of nodesText.split("\n")) {
    const fields = line.trim().split(" ");
    const [id, address, flags] = fields;
    if (id === undefined || address === undefined || flags === undefined || !flags.split(",").includes("master")) continue;
    const port = Number(/:(\d+)@/.exec(address)?.[1]);
    masters.set(id, { port, slots: fields.slice(8).filter((slot) => !slot.startsWith("[")) });
  }
  return masters;
}

function covers(slots: readonly string[], slot: number): boolean {
  return slots.some((range) => {
    const [low, high] = range.split("-").map(Number);
    return low !== undefined && slot >= low && slot <= (high ?? low);
  });
}

async function clusterNodes(node: RedisServerProcess): Promise<string> {
  return String(await respCommand(node.target, ["CLUSTER", "NODES"]));
}

/** Polls until every node says cluster_state:ok, knows every master and all agree on who serves which slots. */
async function waitClusterAgreement(nodes: readonly RedisServerProcess[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const views: string[] = [];
      let ok = true;
      for (const node of nodes) {
        const info = String(await respCommand(node.target, ["CLUSTER", "INFO"]));
        if (!/^cluster_state:ok\r?$/m.test(info)) {
          ok = false;
          last = `port ${node.port}: cluster_state not ok`;
          break;
        }
        const masters = mastersOf(await clusterNodes(node));
        views.push(JSON.stringify([...masters.entries()].sort(([a], [b]) => a.localeCompare(b))));
        if (masters.size !== nodes.length) {
          ok = false;
          last = `port ${node.port} knows ${masters.size} masters`;
          break;
        }
      }
      if (ok && views.every((view) => view === views[0])) return;
      if (ok) last = "the nodes disagree on the slots";
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await delay(POLL_MS * 5);
  }
  throw new Error(`the Redis Cluster did not settle within 20 s: ${last}`);
}

/**
 * Starts `masters` (default 3, the least `redis-cli --cluster create` takes) `redis-server
 * --cluster-enabled yes` on free ports, joins them with `redis-cli --cluster create ...
 * --cluster-replicas 0 --cluster-yes`, and resolves when every node reports cluster_state:ok and
 * all agree on the slots.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const started = await Promise.allSettled(Array.from({ length: masters }, () => startRedisProcess({ cluster: true })));
  const nodes = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    const failed = started.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await new Promise<void>((resolve, reject) => {
      execFile("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"], { timeout: 30_000 }, (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`redis-cli --cluster create failed: ${stdout}${stderr}`));
        else resolve();
      });
    });
    await waitClusterAgreement(nodes);
  } catch (error) {
    await stop();
    throw error;
  }

  const ownerOf = async (slot: number): Promise<RedisServerProcess> => {
    let lastError: unknown;
    for (const node of nodes) {
      try {
        for (const master of mastersOf(await clusterNodes(node)).values()) {
          if (!covers(master.slots, slot)) continue;
          const owner = nodes.find((candidate) => candidate.port === master.port);
          if (owner !== undefined) return owner;
        }
        throw new Error(`no master serves slot ${slot}`);
      } catch (error) {
        lastError = error; // That node is down: ask the next one.
      }
    }
    throw lastError instanceof Error ? lastError : new Error(`no node answered for slot ${slot}`);
  };

  const moveSlot = async (slot: number, to: RedisProcess, betweenBatches?: () => Promise<void>): Promise<void> => {
    const target = nodes.find((node) => node.port === to.port);
    if (target === undefined) throw new Error(`port ${to.port} is not a node of this cluster`);
    const source = await ownerOf(slot);
    if (source === target) return;
    const idOf = async (node: RedisServerProcess): Promise<string> => String(await respCommand(node.target, ["CLUSTER", "MYID"]));
    const sourceId = await idOf(source);
    const targetId = await idOf(target);
    await respCommand(target.target, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceId]);
    await respCommand(source.target, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetId]);
    for (;;) {
      const keys = (await respCommand(source.target, ["CLUSTER", "GETKEYSINSLOT", String(slot), "1"])) as RespReply[];
      if (keys.length === 0) break;
      await respCommand(source.target, ["MIGRATE", "127.0.0.1", String(target.port), "", "0", "5000", "KEYS", ...keys.map(String)]);
      if (betweenBatches !== undefined) await betweenBatches();
    }
    // The new owner first, then the old one, then the rest, as redis-cli does.
    const order = [target, source, ...nodes.filter((node) => node !== target && node !== source)];
    for (const node of order) await respCommand(node.target, ["CLUSTER", "SETSLOT", String(slot), "NODE", targetId]);
    await waitClusterAgreement(nodes);
  };

  return {
    nodes,
    seeds: nodes.map((node) => `127.0.0.1:${node.port}`).join(","),
    slotOf: async (key) => {
      let lastError: unknown;
      for (const node of nodes) {
        try {
          return Number(await respCommand(node.target, ["CLUSTER", "KEYSLOT", key]));
        } catch (error) {
          lastError = error; // That node is down: ask the next one.
        }
      }
      throw lastError instanceof Error ? lastError : new Error("no node answered CLUSTER KEYSLOT");
    },
    ownerOf,
    moveSlot,
    stop,
  };
}
