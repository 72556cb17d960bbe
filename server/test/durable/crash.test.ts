/**
 * The crash test of the memory backend's durability (--data-dir): a real server process under
 * concurrent write load over both transports is killed with SIGKILL at random moments and restarted
 * on the same directory, many rounds. A model of every acknowledged change is checked after each
 * restart; calls in flight at the kill may have happened or not, and only their keys may be in
 * either state. Also: expiry across a restart, in real time.
 *
 * The randomness is seeded (STATEWARD_CRASH_SEED=<n> repeats a run's choices; the timing of a real
 * process is not repeatable) and every failure names the seed.
 */
import * as assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServerProcess, type ServerProcess } from "../fault/server-process";
import { connectWith, Outcome, sleep, type Connection, type Transport } from "../helpers/test-server";
import { seededRandom } from "../helpers/seeded-random";

/** A held lock as the model knows it. The lease ended somewhere in [earliest, latest] (ms since epoch). */
interface HeldLock {
  /** The lock id; 0n while unknown (a Lock whose answer never came), then any id above `floor`. */
  readonly id: bigint;
  readonly floor: bigint;
  readonly leaseEarliest: number;
  readonly leaseLatest: number;
}

/** One possible state of a key. */
type KeyState =
  | { readonly kind: "absent" }
  | { readonly kind: "present"; readonly version: bigint; readonly data: string; readonly ttl: number; readonly lock?: HeldLock };

const ABSENT: KeyState = { kind: "absent" };

const APP = "crash";
/** Long ttls: expiry must not interfere with what the test checks. */
const TTLS = [3600, 7200, 86_400];
/** Long enough that no lease taken in a mode's rounds ends before the mode is over (normally). */
const LEASE_MS = 60_000;
/** Clock and scheduling slack around lease ends, ms. */
const LEASE_SLACK_MS = 3000;
/** A call that has not answered by then is a failure (or, once the server is killed, an unknown outcome). */
const CALL_TIMEOUT_MS = 10_000;
const WORKERS_PER_TRANSPORT = 4;
const KEYS_PER_WORKER = 6;
const ROUNDS = 12;

function describeState(s: KeyState): string {
  if (s.kind === "absent") return "absent";
  const lock = s.lock === undefined ? "" : ` locked(${s.lock.id === 0n ? `>${s.lock.floor}` : s.lock.id}, lease ${s.lock.leaseEarliest}..${s.lock.leaseLatest})`;
  return `v${s.version} ttl ${s.ttl} data ${s.data.length}B${lock}`;
}

/** The states a key may be in at `now`, given that a lease may have ended meanwhile. */
function possibleNow(candidates: readonly KeyState[], now: number): KeyState[] {
  const out: KeyState[] = [];
  for (const c of candidates) {
    if (c.kind === "present" && c.lock !== undefined) {
      const unlocked: KeyState = { kind: "present", version: c.version, data: c.data, ttl: c.ttl };
      if (now > c.lock.leaseLatest + LEASE_SLACK_MS) out.push(unlocked);
      else if (now > c.lock.leaseEarliest - LEASE_SLACK_MS) out.push(c, unlocked);
      else out.push(c);
    } else out.push(c);
  }
  return out;
}

/** The crash-test run of one fsync mode: the server, the model, the load and the checks. */
class CrashRun {
  private readonly random: () => number;
  /** Every key's possible states: one when known, two while an unknown outcome is unresolved. */
  private readonly model = new Map<string, KeyState[]>();
  /** The greatest lock id any response has shown. */
  private maxLockId = 0n;
  private killing = false;
  private server: ServerProcess | undefined;
  private connections: Connection[] = [];
  private readonly failures: string[] = [];
  private dataCounter = 0;
  /** What was done, for the test's output. */
  readonly stats = { acknowledged: 0, unknown: 0, resolvedAfter: 0, resolvedBefore: 0, lockChecks: 0, snapshotRounds: 0 };

  constructor(
    readonly seed: number,
    private readonly dir: string,
    private readonly fsync: string,
  ) {
    this.random = seededRandom(seed);
    for (let w = 0; w < WORKERS_PER_TRANSPORT * 2; w++) for (let k = 0; k < KEYS_PER_WORKER; k++) this.model.set(`w${w}-k${k}`, [ABSENT]);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  private newData(key: string): string {
    // Sizes from empty to a few KiB, so that records of the log differ in length and a kill
    // lands anywhere in one.
    const length = this.random() < 0.2 ? 0 : Math.floor(this.random() * 3000);
    const head = `${key}#${++this.dataCounter}:`;
    return (head + "abcdefghijklmnopqrstuvwxyz0123456789".repeat(Math.ceil(length / 36) + 1)).slice(0, Math.max(head.length, length));
  }

  private fail(message: string): never {
    throw new assert.AssertionError({ message: `[seed ${this.seed}, --fsync ${this.fsync}] ${message}` });
  }

  private noteLockId(id: bigint): void {
    if (id > this.maxLockId) this.maxLockId = id;
  }

  async start(): Promise<void> {
    const flags = ["--data-dir", this.dir, "--fsync", this.fsync];
    // Half the rounds snapshot often (the smallest minimum log size), so kills also land during a
    // snapshot and replay starts from one.
    if (this.random() < 0.5) {
      flags.push("--snapshot-min-log-bytes", "4096");
      this.stats.snapshotRounds++;
    }
    this.server = await startServerProcess(flags);
    const address = this.server.address;
    this.connections = [];
    for (const transport of ["unary", "pipeline"] as Transport[]) for (let i = 0; i < 2; i++) this.connections.push(connectWith(transport, address));
    this.killing = false;
  }

  /** Closes the clients and kills the server (SIGKILL unless told otherwise). Idempotent. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.killing = true;
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await (signal === "SIGKILL" ? server.kill() : server.stop());
    for (const c of this.connections.splice(0)) c.close();
  }

  /** The connection worker `w` uses: workers 0..3 unary, 4..7 pipeline, two workers per connection. */
  private connectionOf(w: number): Connection {
    return this.connections[Math.floor(w / 2)] as Connection;
  }

  /**
   * One worker: operates on its own keys one call at a time (so each key has at most one call in
   * flight and the model knows the state before it) until the server is killed.
   */
  private async worker(w: number): Promise<void> {
    const conn = this.connectionOf(w);
    const keys = [...this.model.keys()].filter((k) => k.startsWith(`w${w}-`));
    while (!this.killing) {
      const key = this.pick(keys);
      const candidates = this.model.get(key) as KeyState[];
      const before = candidates[0] as KeyState;
      // A key in doubt, or a lock near its lease end (its state is uncertain then), is left alone
      // for the checks after the next restart to resolve.
      if (candidates.length !== 1 || (before.kind === "present" && before.lock !== undefined && Date.now() > before.lock.leaseEarliest - 15_000)) {
        await sleep(5);
        continue;
      }
      await this.operate(conn, key, before);
    }
  }

  private async operate(conn: Connection, key: string, before: KeyState): Promise<void> {
    const roll = this.random();
    const sentAt = Date.now();
    const floor = this.maxLockId;
    const opts = { deadlineMs: CALL_TIMEOUT_MS };
    const held = before.kind === "present" ? before.lock : undefined;
    let op: string;
    let predicted: KeyState;
    let call: Promise<KeyState>;
    if (roll < 0.45) {
      // Set: unlocked, or by the holder with its lock id (keeping the lock or releasing it).
      const data = this.newData(key);
      const ttl = this.random() < 0.3 && before.kind === "present" ? 0 : this.pick(TTLS);
      const keepLock = held !== undefined && this.random() < 0.6;
      const version = before.kind === "present" ? before.version + 1n : 1n;
      const newTtl = ttl !== 0 ? ttl : before.kind === "present" ? before.ttl : 1200;
      predicted = { kind: "present", version, data, ttl: newTtl, ...(keepLock && held !== undefined ? { lock: held } : {}) };
      op = held === undefined ? "Set" : keepLock ? "Set(lock, keep)" : "Set(lock)";
      const expected = predicted;
      call = conn.call.set({ app: APP, sessionId: key, data, ttlSeconds: ttl, lockId: held?.id ?? 0n, keepLock }, opts).then((r) => {
        if (r.version !== version || !r.written) this.fail(`${op} on ${key} answered v${r.version} written ${r.written}, expected v${version}`);
        return expected;
      });
    } else if (roll < 0.65 && held === undefined) {
      // Lock (creating the session if it is missing).
      const ttl = this.pick(TTLS);
      const after: KeyState =
        before.kind === "present" ? { ...before, lock: { id: 0n, floor, leaseEarliest: sentAt + LEASE_MS, leaseLatest: Number.MAX_SAFE_INTEGER } } : { kind: "present", version: 1n, data: "", ttl, lock: { id: 0n, floor, leaseEarliest: sentAt + LEASE_MS, leaseLatest: Number.MAX_SAFE_INTEGER } };
      predicted = after;
      op = "Lock";
      call = conn.call.lock({ app: APP, sessionId: key, create: true, leaseMs: LEASE_MS, ttlSeconds: ttl }, opts).then((r) => {
        const got = Buffer.from(r.data).toString();
        if (r.outcome !== Outcome.OUTCOME_OK) this.fail(`Lock on ${key} (${describeState(before)}) answered outcome ${r.outcome}`);
        if (after.kind !== "present" || r.version !== after.version || got !== after.data || r.created !== (before.kind === "absent") || r.ttlSeconds !== after.ttl)
          this.fail(`Lock on ${key} answered v${r.version} created ${r.created} ttl ${r.ttlSeconds} data ${got.length}B, expected ${describeState(after)}`);
        // Fencing: a lock granted after another's answer arrived has a greater id.
        if (r.lockId <= floor) this.fail(`Lock on ${key} granted lock id ${r.lockId}, not above ${floor} acknowledged before it was sent`);
        this.noteLockId(r.lockId);
        return { ...after, lock: { id: r.lockId, floor, leaseEarliest: sentAt + LEASE_MS, leaseLatest: Date.now() + LEASE_MS } };
      });
    } else if (roll < 0.8) {
      const ttl = this.pick(TTLS);
      predicted = before.kind === "present" ? { ...before, ttl } : ABSENT;
      op = "Expire";
      const expected = predicted;
      call = conn.call.expire({ app: APP, sessionId: key, ttlSeconds: ttl }, opts).then((r) => {
        if (r.found !== (before.kind === "present") || (r.found && r.ttlSeconds !== ttl)) this.fail(`Expire on ${key} (${describeState(before)}) answered found ${r.found} ttl ${r.ttlSeconds}`);
        return expected;
      });
    } else {
      predicted = ABSENT;
      op = held === undefined ? "Remove" : "Remove(lock)";
      call = conn.call.remove({ app: APP, sessionId: key, lockId: held?.id ?? 0n }, opts).then((r) => {
        if (r.removed !== (before.kind === "present")) this.fail(`Remove on ${key} (${describeState(before)}) answered removed ${r.removed}`);
        return ABSENT;
      });
    }
    try {
      const after = await call;
      this.model.set(key, [after]);
      this.stats.acknowledged++;
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      if (!this.killing) this.fail(`${op} on ${key} failed before the kill: ${String(error)}`);
      // No answer: the change may or may not have been made (and logged) before the kill. A lock
      // taken then was granted before now, so its lease ends before now + LEASE_MS.
      const after: KeyState =
        predicted.kind === "present" && predicted.lock !== undefined && predicted.lock.id === 0n
          ? { ...predicted, lock: { ...predicted.lock, leaseLatest: Date.now() + LEASE_MS } }
          : predicted;
      this.model.set(key, [before, after]);
      this.stats.unknown++;
    }
  }

  /** Write load for `ms`, then SIGKILL while calls are in flight. */
  async loadAndKill(ms: number): Promise<void> {
    const workers = Array.from({ length: WORKERS_PER_TRANSPORT * 2 }, (_, w) => this.worker(w));
    const settled = Promise.allSettled(workers);
    // The kill is the test's subject: a fixed random moment of the load, not a readiness wait.
    await Promise.race([sleep(ms), settled]);
    await this.kill();
    for (const result of await settled) if (result.status === "rejected") throw result.reason;
  }

  /**
   * After a restart: every key is in one of its possible states, held locks are held by their ids
   * (a Set with the id and keepLock succeeds and shows the version), and a new lock id exceeds
   * every one seen.
   */
  async verify(): Promise<void> {
    let i = 0;
    for (const [key, candidates] of this.model) {
      const conn = this.connections[i++ % this.connections.length] as Connection;
      const now = Date.now();
      const possible = possibleNow(candidates, now);
      const r = await conn.call.get({ app: APP, sessionId: key }, { deadlineMs: CALL_TIMEOUT_MS });
      const got = Buffer.from(r.data).toString();
      if (r.outcome === Outcome.OUTCOME_LOCKED) this.noteLockId(r.lockId);
      const matching = possible.filter((c) => {
        if (r.outcome === Outcome.OUTCOME_NOT_FOUND) return c.kind === "absent";
        if (c.kind !== "present" || r.ttlSeconds !== c.ttl) return false;
        if (r.outcome === Outcome.OUTCOME_OK) return c.lock === undefined && r.version === c.version && got === c.data;
        if (r.outcome !== Outcome.OUTCOME_LOCKED || c.lock === undefined) return false;
        return c.lock.id === 0n ? r.lockId > c.lock.floor : r.lockId === c.lock.id;
      });
      const observed =
        r.outcome === Outcome.OUTCOME_OK
          ? `OK v${r.version} ttl ${r.ttlSeconds} data ${got.length}B`
          : r.outcome === Outcome.OUTCOME_LOCKED
            ? `LOCKED by ${r.lockId} ttl ${r.ttlSeconds}`
            : `outcome ${r.outcome}`;
      if (matching.length === 0) this.fail(`after the restart ${key} is ${observed}; it may only be: ${possible.map(describeState).join(" | ")}`);
      if (candidates.length > 1) {
        if (matching.includes(candidates[0] as KeyState) && matching.length === 1) this.stats.resolvedBefore++;
        else this.stats.resolvedAfter++;
      }
      const first = matching[0] as KeyState;
      if (r.outcome !== Outcome.OUTCOME_LOCKED || first.kind !== "present") {
        // Absent or unlocked: the observation shows the whole state.
        this.model.set(key, [first]);
        continue;
      }
      const locks = matching.map((c) => (c.kind === "present" ? c.lock : undefined)).filter((l): l is HeldLock => l !== undefined);
      const lock: HeldLock = {
        id: r.lockId,
        floor: 0n,
        leaseEarliest: Math.min(...locks.map((l) => l.leaseEarliest)),
        leaseLatest: Math.max(...locks.map((l) => l.leaseLatest)),
      };
      if (Date.now() > lock.leaseEarliest - LEASE_SLACK_MS) {
        // The lease may end any moment: a Set with the id could rightly fail; keep what is known.
        this.model.set(key, matching.map((c) => (c.kind === "present" ? { ...c, lock } : c)));
        continue;
      }
      // The holder from before the crash still writes with its lock id; the answer's version says
      // which of the possible versions the session had.
      const data = this.newData(key);
      const w = await conn.call.set({ app: APP, sessionId: key, data, lockId: r.lockId, keepLock: true }, { deadlineMs: CALL_TIMEOUT_MS });
      const had = matching.filter((c) => c.kind === "present" && c.version + 1n === w.version);
      if (had.length === 0) this.fail(`Set with lock id ${r.lockId} on ${key} after the restart answered v${w.version}; it may only have been: ${matching.map(describeState).join(" | ")}`);
      this.stats.lockChecks++;
      this.model.set(key, [{ kind: "present", version: w.version, data, ttl: first.ttl, lock }]);
    }
    // Fencing across the restart: the next lock id exceeds every one issued before. The probe
    // keys join the model and are checked in the rounds after.
    const probe = `probe-${this.model.size}`;
    const before = this.maxLockId;
    const sentAt = Date.now();
    const l = await (this.connections[0] as Connection).call.lock({ app: APP, sessionId: probe, create: true, leaseMs: LEASE_MS, ttlSeconds: 3600 }, { deadlineMs: CALL_TIMEOUT_MS });
    if (l.outcome !== Outcome.OUTCOME_OK || !l.created) this.fail(`the probe Lock on ${probe} answered outcome ${l.outcome} created ${l.created}`);
    if (l.lockId <= before) this.fail(`the first lock id after the restart is ${l.lockId}, not above ${before} issued before`);
    this.noteLockId(l.lockId);
    this.model.set(probe, [{ kind: "present", version: 1n, data: "", ttl: 3600, lock: { id: l.lockId, floor: 0n, leaseEarliest: sentAt + LEASE_MS, leaseLatest: Date.now() + LEASE_MS } }]);
  }

  /** The random kill moment of a round: 100 to 600 ms into the load. */
  nextLoadMs(): number {
    return 100 + Math.floor(this.random() * 500);
  }
}

describe("durability: crash (SIGKILL under load, --data-dir)", function () {
  let dir: string;
  let run: CrashRun | undefined;
  /** A server a test started by itself, killed in teardown whatever happened. */
  let extra: ServerProcess | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "stateward-crash-"));
  });
  afterEach(async () => {
    await run?.kill();
    run = undefined;
    await extra?.kill();
    extra = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const fsync of ["always", "everysec"]) {
    it(`every acknowledged change survives SIGKILL at random moments, ${ROUNDS} rounds (--fsync ${fsync})`, async function () {
      this.timeout(80_000);
      const seed = process.env.STATEWARD_CRASH_SEED !== undefined ? Number(process.env.STATEWARD_CRASH_SEED) : Math.floor(Math.random() * 2 ** 31);
      const current = new CrashRun(seed, dir, fsync);
      run = current;
      const started = Date.now();
      try {
        await current.start();
        for (let round = 0; round < ROUNDS; round++) {
          await current.loadAndKill(current.nextLoadMs());
          await current.start();
          await current.verify();
        }
      } catch (error) {
        // The seed repeats the run's choices (STATEWARD_CRASH_SEED); say it whatever failed.
        if (error instanceof Error && !error.message.includes(`seed ${seed}`)) error.message = `[seed ${seed}, --fsync ${fsync}] ${error.message}`;
        throw error;
      }
      const s = current.stats;
      console.log(
        `      crash --fsync ${fsync}: seed ${seed}, ${ROUNDS} rounds in ${((Date.now() - started) / 1000).toFixed(1)} s, ${s.acknowledged} acknowledged changes, ` +
          `${s.unknown} unknown at a kill (${s.resolvedAfter} made, ${s.resolvedBefore} not), ${s.lockChecks} held locks written after a restart, ${s.snapshotRounds} rounds snapshotting often`,
      );
      assert.ok(s.acknowledged > ROUNDS * 10, `only ${s.acknowledged} changes were acknowledged`);
      assert.ok(s.lockChecks > 0, "no held lock was checked after a restart");
    });
  }

  it("a session whose deadline passed while the server was down is gone after the restart; a long one is there (real time)", async function () {
    this.timeout(30_000);
    const start = async (): Promise<ServerProcess> => {
      const started = await startServerProcess(["--data-dir", dir, "--fsync", "everysec"]);
      extra = started;
      return started;
    };
    let server = await start();
    const a = connectWith("unary", server.address);
    try {
      await a.call.set({ app: APP, sessionId: "short", data: Buffer.from("s"), ttlSeconds: 1 });
      await a.call.set({ app: APP, sessionId: "long", data: Buffer.from("l"), ttlSeconds: 3600 });
      assert.equal((await a.call.get({ app: APP, sessionId: "short" })).outcome, Outcome.OUTCOME_OK);
    } finally {
      a.close();
    }
    // The Get slid the short deadline to at most now + 1 s.
    const shortDeadline = Date.now() + 1000;
    await server.kill();
    // Down while the short deadline passes (time passing is the subject here, not readiness).
    await sleep(Math.max(0, shortDeadline - Date.now()) + 300);
    server = await start();
    const b = connectWith("pipeline", server.address);
    try {
      assert.equal((await b.call.get({ app: APP, sessionId: "short" })).outcome, Outcome.OUTCOME_NOT_FOUND);
      const long = await b.call.get({ app: APP, sessionId: "long" });
      assert.equal(long.outcome, Outcome.OUTCOME_OK);
      assert.equal(Buffer.from(long.data).toString(), "l");
      assert.equal(long.ttlSeconds, 3600);
    } finally {
      b.close();
      await server.stop();
    }
  });
});
