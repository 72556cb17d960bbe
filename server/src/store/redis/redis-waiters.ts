import type { Clock, TimerHandle } from "../clock";
import type { GetResult, LockResult } from "../operations";
import type { BackendEvents, Cancellation, Completion } from "../session-backend";
import type { StoreError } from "../store-error";
import { tooManyWaiters } from "../waiter-limit";
import { REPLY } from "./lua-scripts";
import type { ScriptReply } from "./redis-connection";
import { getResultOf, lockResultOf, NOT_FOUND, num } from "./script-replies";

/** What a waiting call wants. */
export type WaiterKind = "r" | "w";

/** How a waiter asks Redis about itself (the backend runs the `waiter` script). */
export type WaiterMode = "poll" | "timeout" | "withdraw";

/** The backend's side of the waiters: running their script, releasing an unwanted grant. */
export interface WaiterDriver {
  /** Runs the waiter script for `waiter` in `mode`. */
  check(waiter: RedisWaiter, mode: WaiterMode): Promise<ScriptReply>;
}

/** Where a waiter is: its first script in flight, queued in Redis, or done with. */
type WaiterState = "starting" | "queued" | "answered" | "withdrawn";

/**
 * A Get or Lock waiting in a session's queue, which lives in Redis; this is the node's half: the
 * caller's completion, and a timer that ends the wait, notices a lease end, and re-checks Redis
 * now and then, so that a lost wake-up (pub/sub is at-most-once) costs at most the re-check
 * interval. Its own {@link Cancellation}.
 */
export class RedisWaiter implements Cancellation {
  /** Its number in the session's queue in Redis (-1 until queued). */
  queueNumber = -1;
  state: WaiterState = "starting";
  timer: TimerHandle | undefined;
  /** Clock time at which its last script was sent: the time its reply's durations count from. */
  sentAt = 0;
  /** A check of it is on its way to Redis (one at a time: two could queue it twice). */
  checking = false;

  constructor(
    readonly waiters: RedisWaiters,
    /** The node-local waiter number, in the queue entry and the wake-up messages. */
    readonly id: string,
    /** The session's key. */
    readonly key: string,
    readonly kind: WaiterKind,
    readonly completion: Completion<GetResult> | Completion<LockResult>,
    /** Clock time at which the wait ends. */
    readonly deadline: number,
    /** The lease a granted lock gets, in ms (0 for Get). */
    readonly leaseMs: number,
  ) {}

  cancel(): boolean {
    return this.waiters.withdraw(this);
  }
}

/**
 * The waiting calls of one node: answered by wake-up messages from the scripts of any node, by
 * their own timers, or refused at close. Every answer goes out once, guarded (a throwing
 * completion is reported and changes nothing here).
 */
export class RedisWaiters {
  private readonly byId = new Map<string, RedisWaiter>();
  private nextId = 1;
  private driver: WaiterDriver | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly recheckMs: number,
    private readonly maxWaiters: number,
    private readonly events: BackendEvents,
  ) {}

  /** Sets who runs the waiters' script (the backend, once it is built). */
  attach(driver: WaiterDriver): void {
    this.driver = driver;
  }

  /** Calls waiting on this node. */
  get count(): number {
    let n = 0;
    for (const waiter of this.byId.values()) if (waiter.state === "queued") n++;
    return n;
  }

  /** A new waiter, registered before its first script runs (a wake-up may beat the script's reply). */
  create(key: string, kind: WaiterKind, completion: Completion<GetResult> | Completion<LockResult>, waitMs: number, leaseMs: number): RedisWaiter {
    const waiter = new RedisWaiter(this, String(this.nextId++), key, kind, completion, this.clock.now() + waitMs, leaseMs);
    this.byId.set(waiter.id, waiter);
    return waiter;
  }

  /**
   * The reply of a waiter's script (its first attempt, or a check): an answer, or "still queued"
   * (then the timer is armed again), for a waiter that may have been answered or withdrawn meanwhile.
   */
  settle(waiter: RedisWaiter, reply: ScriptReply): void {
    const code = num(reply, 0);
    if (waiter.state === "answered") return;
    if (waiter.state === "withdrawn") {
      // Withdrawn while its first script was in flight: undo what that script did.
      if (code === REPLY.QUEUED) waiter.queueNumber = num(reply, 1);
      if (code === REPLY.QUEUED || (code === REPLY.OK && waiter.kind === "w")) void this.undo(waiter);
      this.forget(waiter);
      return;
    }
    if (code === REPLY.QUEUE_FULL) {
      this.fail(waiter, tooManyWaiters(num(reply, 1), this.maxWaiters));
      return;
    }
    if (code === REPLY.QUEUED) {
      const first = waiter.state === "starting";
      waiter.state = "queued";
      waiter.queueNumber = num(reply, 1);
      if (first) this.tellWaiting(waiter);
      this.arm(waiter, num(reply, 2));
      return;
    }
    if (waiter.kind === "r") {
      this.answer(waiter, getResultOf(reply));
    } else {
      this.grantOrAnswer(waiter, lockResultOf(reply));
    }
  }

  /** A wake-up message from a script: `r`, `w` or `g` for one of this node's waiters. */
  wake(message: Buffer): void {
    const header = message.indexOf(10);
    const head = (header < 0 ? message : message.subarray(0, header)).toString("latin1").split(" ");
    const body = header < 0 ? Buffer.alloc(0) : message.subarray(header + 1);
    if (head[0] === "r") {
      // Every reader of this node that one release served: each gets its own copy of the data.
      for (const id of (head[1] ?? "").split(",")) {
        const reader = this.live(id);
        if (reader !== undefined) this.answer(reader, { outcome: "ok", version: Number(head[2]), ttlSeconds: Number(head[3]), data: Buffer.from(body) });
      }
      return;
    }
    const waiter = this.live(head[1] ?? "");
    // An unknown waiter was withdrawn; its withdrawal released any lock granted to it.
    if (waiter === undefined) return;
    const data = Buffer.from(body);
    switch (head[0]) {
      case "w":
        this.grantOrAnswer(waiter, {
          outcome: "ok",
          lockId: Number(head[2]),
          version: Number(head[3]),
          ttlSeconds: Number(head[4]),
          created: false,
          leaseMs: Number(head[5]),
          data,
        });
        return;
      case "g":
        this.answer(waiter, NOT_FOUND);
        return;
      case "t":
        // Its turn came after its wait was over: asked again now, it is answered as a wait that ended.
        this.check(waiter);
        return;
    }
  }

  /** The waiter `id` if it still waits for an answer. */
  private live(id: string): RedisWaiter | undefined {
    const waiter = this.byId.get(id);
    return waiter === undefined || waiter.state === "answered" || waiter.state === "withdrawn" ? undefined : waiter;
  }

  /** Checks every queued waiter against Redis now (after a reconnect: wake-ups may have been lost). */
  recheckAll(): void {
    for (const waiter of this.byId.values()) if (waiter.state === "queued") this.check(waiter);
  }

  /**
   * Fails a waiter whose script failed (Redis unreachable, a WAIT not confirmed). The script may
   * have run all the same, so its queue entry, or a lock granted to it, is undone as far as Redis
   * lets us (if not, the entry ends with its wait, a grant with its lease).
   */
  fail(waiter: RedisWaiter, error: unknown): void {
    if (waiter.state === "answered") return;
    const withdrawn = waiter.state === "withdrawn";
    this.finish(waiter, "answered");
    void this.undo(waiter);
    if (withdrawn) return;
    try {
      waiter.completion.reject(error);
    } catch (thrown) {
      this.events.onCallbackError?.(thrown);
    }
  }

  /**
   * Refuses every waiter with `error` (the backend closes), and takes their entries (and any lock
   * granted to them) out of Redis, so that other nodes do not hand a lock to a node that is gone.
   * Resolves when those withdrawals are done.
   */
  async close(error: StoreError): Promise<void> {
    const undone: Promise<void>[] = [];
    for (const waiter of [...this.byId.values()]) {
      if (waiter.state === "answered") continue;
      const withdrawn = waiter.state === "withdrawn";
      this.finish(waiter, "answered");
      undone.push(this.undo(waiter));
      if (withdrawn) continue;
      try {
        waiter.completion.reject(error);
      } catch (thrown) {
        this.events.onCallbackError?.(thrown);
      }
    }
    this.byId.clear();
    await Promise.all(undone);
  }

  /** Cancellation.cancel: the caller is gone. The queue entry (or a lock granted meanwhile) is undone in Redis. */
  withdraw(waiter: RedisWaiter): boolean {
    if (waiter.state === "answered") return false;
    if (waiter.state === "withdrawn") return true;
    const queued = waiter.state === "queued";
    this.clearTimer(waiter);
    waiter.state = "withdrawn";
    // A waiter still starting is undone when its first reply arrives (see settle).
    if (queued) void this.undo(waiter).finally(() => this.forget(waiter));
    return true;
  }

  private grantOrAnswer(waiter: RedisWaiter, result: LockResult): void {
    if (result.outcome === "ok") {
      const completion = waiter.completion as Completion<LockResult>;
      let active = true;
      try {
        active = completion.isActive === undefined || completion.isActive();
      } catch (error) {
        this.events.onCallbackError?.(error);
        active = false;
      }
      if (!active) {
        // Nobody would release this lock: give it back, and tell the caller's side.
        this.finish(waiter, "answered");
        void this.undo(waiter);
        try {
          completion.dropped?.();
        } catch (error) {
          this.events.onCallbackError?.(error);
        }
        return;
      }
    }
    this.answer(waiter, result);
  }

  private answer(waiter: RedisWaiter, result: GetResult | LockResult): void {
    this.finish(waiter, "answered");
    try {
      (waiter.completion as Completion<GetResult | LockResult>).resolve(result);
    } catch (error) {
      this.events.onCallbackError?.(error);
    }
  }

  private tellWaiting(waiter: RedisWaiter): void {
    try {
      waiter.completion.waiting?.();
    } catch (error) {
      this.events.onCallbackError?.(error);
    }
  }

  /**
   * Arms the waiter's timer: its deadline, just after the lease ends (`leaseLeftMs` counted from
   * when its script was sent), or the re-check, whichever is first; at once if one has passed
   * while the script was on its way.
   */
  private arm(waiter: RedisWaiter, leaseLeftMs: number): void {
    this.clearTimer(waiter);
    const now = this.clock.now();
    const at = Math.min(waiter.deadline, waiter.sentAt + Math.max(0, leaseLeftMs), now + this.recheckMs);
    if (at <= now) {
      setImmediate(() => this.check(waiter));
      return;
    }
    waiter.timer = this.clock.setTimeout(() => {
      waiter.timer = undefined;
      this.check(waiter);
    }, at - now);
  }

  private check(waiter: RedisWaiter): void {
    const driver = this.driver;
    if (driver === undefined || waiter.state !== "queued" || waiter.checking) return;
    const mode: WaiterMode = this.clock.now() >= waiter.deadline ? "timeout" : "poll";
    waiter.checking = true;
    driver.check(waiter, mode).then(
      (reply) => {
        waiter.checking = false;
        this.settle(waiter, reply);
      },
      (error: unknown) => {
        waiter.checking = false;
        // Redis away: a waiter whose time is up fails; the others try again at the next re-check.
        if (mode === "timeout") this.fail(waiter, error);
        else if (waiter.state === "queued") this.arm(waiter, this.recheckMs);
      },
    );
  }

  private async undo(waiter: RedisWaiter): Promise<void> {
    try {
      await this.driver?.check(waiter, "withdraw");
    } catch {
      // Redis away: the entry ends with its deadline, a grant with its lease.
    }
  }

  private finish(waiter: RedisWaiter, state: WaiterState): void {
    this.clearTimer(waiter);
    waiter.state = state;
    this.forget(waiter);
  }

  private forget(waiter: RedisWaiter): void {
    if (this.byId.get(waiter.id) === waiter) this.byId.delete(waiter.id);
  }

  private clearTimer(waiter: RedisWaiter): void {
    if (waiter.timer !== undefined) this.clock.clearTimeout(waiter.timer);
    waiter.timer = undefined;
  }
}
