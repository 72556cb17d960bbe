/**
 * Whether the server takes calls: the one state behind both the gRPC health service
 * (grpc.health.v1) and the HTTP readiness check (`/readyz`), so that they never disagree.
 *
 * It only moves forward: starting (not bound yet), serving (the gRPC port accepts calls), stopping
 * (a shutdown began: calls are drained, new ones refused). A stopped server never serves again.
 */

/** The phases of a server's life, in order. */
export type ServingPhase = "starting" | "serving" | "stopping";

/** The serving phase of one server, with change notifications. */
export class ServingState {
  #phase: ServingPhase = "starting";
  readonly #listeners: ((phase: ServingPhase) => void)[] = [];

  /** The current phase. */
  get phase(): ServingPhase {
    return this.#phase;
  }

  /** True while serving: what a load balancer's readiness check asks. */
  get ready(): boolean {
    return this.#phase === "serving";
  }

  /** The gRPC port is bound: starting → serving. Does nothing once stopping. */
  serve(): void {
    if (this.#phase === "starting") this.#enter("serving");
  }

  /** A shutdown began: → stopping, for good. Idempotent. */
  stop(): void {
    if (this.#phase !== "stopping") this.#enter("stopping");
  }

  /** Calls `listener` with each new phase (not with the current one). */
  onChange(listener: (phase: ServingPhase) => void): void {
    this.#listeners.push(listener);
  }

  #enter(phase: ServingPhase): void {
    this.#phase = phase;
    for (const listener of this.#listeners) listener(phase);
  }
}
