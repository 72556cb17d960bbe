/**
 * The standard gRPC health service (grpc.health.v1.Health) from `grpc-health-check`, reporting the
 * server ("") and the SessionState service.
 *
 * Health Watch streams never end by themselves, so a graceful shutdown would otherwise wait for its
 * whole grace period whenever a client watches; {@link ServerHealth.stop} ends them after
 * announcing NOT_SERVING.
 */
import type { Server, ServerWritableStream, UntypedHandleCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";

/** Fully-qualified name of the Stateward service, as health checks and reflection name it. */
export const SESSION_STATE_SERVICE_NAME = "stateward.v1.SessionState";

/** Names reported by the health service: the whole server ("") and the SessionState service. */
const HEALTH_SERVICE_NAMES = ["", SESSION_STATE_SERVICE_NAME] as const;

/** The health service of one server. */
export interface ServerHealth {
  /** Reports NOT_SERVING for every name and ends open Watch streams. Idempotent. */
  stop(): void;
}

/** Registers the health service on `server`, reporting SERVING. */
export function addHealthService(server: Server): ServerHealth {
  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICE_NAMES.map((name) => [name, "SERVING"])));
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

  let stopped = false;
  return {
    stop(): void {
      if (stopped) return;
      stopped = true;
      // Watchers receive NOT_SERVING first, then their stream ends with OK.
      for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, "NOT_SERVING");
      for (const call of watches) call.end();
      watches.clear();
    },
  };
}
