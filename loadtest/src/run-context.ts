/**
 * What the scenarios of one invocation share: the options, the progress line's settings, and the
 * servers the tool started (stopped at the end whatever happens).
 */
import type { CliOptions } from "./args";
import type { GcSource } from "./gc-timeline";
import type { ObservedPeer } from "./node-run";
import type { ProgressOptions } from "./progress-line";
import { DEFAULT_SERVER_CLI, REPO_ROOT, startEchoServer, startRedis, startStateward, type StartedTarget } from "./server-processes";
import type { SecurityMode, StatewardSecurity } from "./target-spec";
import { makeTlsTokenMaterial } from "./tls-token-material";

/** Memory budget of a Stateward server the tool starts: the resident scenario's 1 M sessions plus the mixed pool fit. */
export const DEFAULT_SERVER_ARGS: readonly string[] = ["--max-memory", "8GiB"];

/** A server to load: its addresses and, when known, the process to observe. */
export interface LoadTarget {
  readonly addresses: readonly string[];
  /** The observed process (started by the tool, or `--server-pid`). */
  readonly observed?: { readonly pid: number; readonly gc?: StartedTarget["gc"] };
  /** Its GC trace (servers the tool started with --trace-gc), or why there is none. */
  readonly gcSource: GcSource;
  /** True when the tool started it. */
  readonly owned: boolean;
  /** A `tls-token` Stateward server: what its clients present (absent: plaintext). */
  readonly security?: StatewardSecurity;
  /** Its backend process (redis-server behind a Stateward node over Redis): its CPU is reported too. */
  readonly peer?: ObservedPeer;
  /** Stops it if the tool started it. */
  stop(): Promise<void>;
}

/** How to start one particular Stateward server, beyond the options of the command line. */
export interface StatewardLaunch {
  /** `serve` flags after the command line's `--server-arg`s (e.g. `--backend redis --redis-url …`). */
  readonly serverArgs?: readonly string[];
  /** The CLI script (e.g. a reference build's); default `--server-cli` or this repository's. */
  readonly cli?: string;
  /** Its backend process, observed beside it. */
  readonly peer?: ObservedPeer;
  /** Longest wait for it to listen, ms (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Called with its pid once spawned, before it listens (e.g. to sample its memory during a replay). */
  readonly onSpawn?: (pid: number) => void;
  /** Every line of its output (its JSON log is on stderr). */
  readonly onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

/** Shared state of an invocation. */
export class RunContext {
  private readonly started: StartedTarget[] = [];

  constructor(
    readonly options: CliOptions,
    readonly progress: ProgressOptions,
  ) {}

  private own(target: StartedTarget, security?: StatewardSecurity, peer?: ObservedPeer): LoadTarget {
    this.started.push(target);
    return {
      addresses: [target.address],
      observed: { pid: target.process.pid, ...(target.gc === undefined ? {} : { gc: target.gc }) },
      gcSource: target.gc === undefined ? { unavailable: target.gcUnavailable ?? "the server was started without a GC trace" } : { tracker: target.gc },
      owned: true,
      ...(security === undefined ? {} : { security }),
      ...(peer === undefined ? {} : { peer }),
      stop: async () => {
        const index = this.started.indexOf(target);
        if (index >= 0) this.started.splice(index, 1);
        await target.process.stop();
      },
    };
  }

  private given(): LoadTarget {
    const pid = this.options.serverPid;
    return {
      addresses: this.options.addresses,
      ...(pid === undefined ? {} : { observed: { pid } }),
      gcSource: { unavailable: "the server was given by --address: the tool cannot read its --trace-gc output (it marks GC pauses only for servers it starts)" },
      owned: false,
      stop: async () => undefined,
    };
  }

  /**
   * A Stateward server: the one given by --address, or a new one, with the security of `security`
   * (default: --security). A `tls-token` server gets its own certificates, token and auth file,
   * deleted when it stops. `launch` starts a particular one (other flags, another build); it is
   * always started by the tool.
   */
  async stateward(security: SecurityMode = this.options.security, launch?: StatewardLaunch): Promise<LoadTarget> {
    if (launch === undefined && this.options.addresses.length > 0 && this.options.target === "stateward") {
      // The token and certificates are the tool's own: it cannot know those of a given server.
      if (security === "tls-token") throw new Error("a tls-token server is one the tool starts itself: not with --address");
      return this.given();
    }
    const cli = launch?.cli ?? this.options.serverCli ?? DEFAULT_SERVER_CLI;
    const material = security === "tls-token" ? await makeTlsTokenMaterial(cli, REPO_ROOT) : undefined;
    let started: StartedTarget;
    try {
      started = await startStateward({
        serverArgs: [...DEFAULT_SERVER_ARGS, ...(material?.serverArgs ?? []), ...this.options.serverArgs, ...(launch?.serverArgs ?? [])],
        nodeArgs: this.options.serverNodeArgs,
        cli,
        ...(launch?.startTimeoutMs === undefined ? {} : { startTimeoutMs: launch.startTimeoutMs }),
        ...(launch?.onSpawn === undefined ? {} : { onSpawn: launch.onSpawn }),
        ...(launch?.onLine === undefined ? {} : { onLine: launch.onLine }),
      });
    } catch (error) {
      material?.remove();
      throw error;
    }
    if (material === undefined) return this.own(started, undefined, launch?.peer);
    const process = started.process;
    const withCleanup: StartedTarget = {
      ...started,
      process: {
        ...process,
        stop: async () => {
          try {
            await process.stop();
          } finally {
            material.remove();
          }
        },
      },
    };
    return this.own(withCleanup, material.security, launch?.peer);
  }

  /**
   * A Redis server: the one given by --address (with --target redis), or a new redis-server;
   * `fresh`: always a new one.
   */
  async redis(fresh = false): Promise<LoadTarget> {
    if (!fresh && this.options.addresses.length > 0 && this.options.target === "redis") return this.given();
    return this.own(await startRedis());
  }

  /** The echo baseline server: the one given by --address (echo scenario), or a new one. */
  async echo(): Promise<LoadTarget> {
    if (this.options.addresses.length > 0 && this.options.scenario === "echo") return this.given();
    return this.own(await startEchoServer());
  }

  /**
   * A context with other load options for scenarios on servers already started (it starts and
   * stops none of its own: use it only with targets from this context).
   */
  withOptions(overrides: Partial<CliOptions>): RunContext {
    return new RunContext({ ...this.options, ...overrides }, this.progress);
  }

  /** Stops every server the tool started and has not stopped yet. */
  async stopAll(): Promise<void> {
    const targets = this.started.splice(0);
    await Promise.all(targets.map((target) => target.process.stop()));
  }
}
