/**
 * Whether the server takes calls: the one state behind both the gRPC health service
 * (grpc.health.v1) and the HTTP readiness check (`/readyz`), so that they never disagree.
 *
 * The phase only moves forward: starting (not bound yet), serving (the gRPC port accepts calls),
 * stopping (a shutdown began: calls are drained, new ones refused). A stopped server never serves
 * again. Beside it, a remote backend (Redis) may be unreachable for a while: the server is then
 * not ready either, and ready again once the backend answers.
 */

/** The phases of a server's life, in order. */
export type ServingPhase = "starting" | "serving" | "stopping";

/** The serving phase of one server, with change notifications. */
export class ServingState {
  #phase: ServingPhase = "starting";
  #backendAvailable = true;
  readonly #listeners: ((phase: ServingPhase) => void)[] = [];

  /** The current phase. */
  get phase(): ServingPhase {
    return this.#phase;
  }

  /** True while serving and the backend is reachable: what a load balancer's readiness check asks. */
  get ready(): boolean {
    return this.#phase === "serving" && this.#backendAvailable;
  }

  /** False while the backend cannot be reached (listeners hear it as a change of the current phase). */
  get backendAvailable(): boolean {
    return this.#backendAvailable;
  }

  /** The backend became unreachable (false) or reachable again (true). */
  setBackendAvailable(available: boolean): void {
    if (this.#backendAvailable === available) return;
    this.#backendAvailable = available;
    for (const listener of this.#listeners) listener(this.#phase);
  }

  /** The gRPC port is bound: starting → serving. Does nothing once stopping. */
  serve(): void {
    if (this.#phase === "starting") this.#enter("serving");
  }

  /** A shutdown began: → stopping, for good. Idempotent. */
  stop(): void {
    if (this.#phase !== "stopping") this.#enter("stopping");
  }

  /** Calls `listener` with each new phase (not with the current one), and on each backend availability change. */
  onChange(listener: (phase: ServingPhase) => void): void {
    this.#listeners.push(listener);
  }

  #enter(phase: ServingPhase): void {
    this.#phase = phase;
    for (const listener of this.#listeners) listener(phase);
  }
}
