/**
 * The log of refused calls, bounded: a flood of bad credentials must not become a flood of log
 * lines. Up to {@link AuthFailureLogOptions.burst} lines per window; the rest are counted and
 * reported in one line when the next window opens. Lines name the principal (or "unknown"), the
 * reason, the method, the app and the peer's address; never a token or a session id.
 */
import type { Logger } from "../logger";
import type { Denial } from "./access-policy";

/** Where a refused call came from. */
export interface FailureContext {
  /** `Get`, `Pipeline`, `Watch`, `ServerReflectionInfo`, `GET /metrics`. */
  readonly method: string;
  /** The request's app, when the refusal is about one. */
  readonly app?: string;
  /** The client's address (`ip:port`), when known. */
  readonly peer?: string;
}

/** Rate of {@link AuthFailureLog}. */
export interface AuthFailureLogOptions {
  /** Lines per window; default 10. */
  readonly burst?: number;
  /** Window length, ms; default 10,000. */
  readonly windowMs?: number;
  /** Current time, ms (tests move it). Default `Date.now`. */
  readonly now?: () => number;
}

/** Logs refused calls at warn level, at a bounded rate. */
export class AuthFailureLog {
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    options: AuthFailureLogOptions = {},
  ) {
    this.burst = options.burst ?? 10;
    this.windowMs = options.windowMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Logs `denial`, or counts it when this window's lines are spent. */
  record(denial: Denial, context: FailureContext): void {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) {
        this.logger.warn({ suppressed: this.suppressed, windowMs: this.windowMs }, "further refused calls were not logged (rate limit of the authentication log)");
      }
      this.windowStart = now;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged >= this.burst) {
      this.suppressed++;
      return;
    }
    this.logged++;
    this.logger.warn(
      {
        principal: denial.principal ?? "unknown",
        reason: denial.reason,
        method: context.method,
        ...(context.app === undefined ? {} : { app: context.app }),
        ...(context.peer === undefined ? {} : { peer: context.peer }),
      },
      denial.kind === "unauthenticated" ? "call refused: not authenticated" : "call refused: permission denied",
    );
  }
}
