/**
 * The standard gRPC health service (grpc.health.v1.Health) from `grpc-health-check`, reporting the
 * server ("") and the SessionState service: SERVING exactly while the server's {@link ServingState}
 * is serving (the HTTP `/readyz` reads the same state), NOT_SERVING before and once it stops.
 *
 * Health Watch streams never end by themselves, so a graceful shutdown would otherwise wait for its
 * whole grace period whenever a client watches; when the state turns to stopping they are ended
 * after announcing NOT_SERVING.
 */
import type { Server, ServerWritableStream, UntypedHandleCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { ServingState } from "../serving-state";

/** Fully-qualified name of the Stateward service, as health checks and reflection name it. */
export const SESSION_STATE_SERVICE_NAME = "stateward.v1.SessionState";

/** Names reported by the health service: the whole server ("") and the SessionState service. */
const HEALTH_SERVICE_NAMES = ["", SESSION_STATE_SERVICE_NAME] as const;

/** Registers the health service on `server`, reporting what `state` says from now on. */
export function addHealthService(server: Server, state: ServingState): void {
  const status = (): "SERVING" | "NOT_SERVING" => (state.ready ? "SERVING" : "NOT_SERVING");
  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICE_NAMES.map((name) => [name, status()])));
  const watches = new Set<ServerWritableStream<unknown, unknown>>();

  // Register through a decorating facade to learn about Watch streams; everything else is untouched.
  health.addToServer({
    addService(definition, implementation) {
      const watch = implementation["watch"] as ((call: ServerWritableStream<unknown, unknown>) => void) | undefined;
      const handlers: UntypedServiceImplementation = { ...(implementation as UntypedServiceImplementation) };
      if (watch !== undefined) {
        const trackedWatch = (call: ServerWritableStream<unknown, unknown>): void => {
          watches.add(call);
          call.once("cancelled", () => watches.delete(call));
          watch(call);
        };
        handlers["watch"] = trackedWatch as UntypedHandleCall;
      }
      server.addService(definition as Parameters<Server["addService"]>[0], handlers);
    },
  });

  state.onChange((phase) => {
    // Watchers receive the new status first; on stopping their stream then ends with OK.
    for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, status());
    if (phase !== "stopping") return;
    for (const call of watches) call.end();
    watches.clear();
  });
}
