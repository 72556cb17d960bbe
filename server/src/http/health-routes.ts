/**
 * HTTP health checks for load balancers and orchestrators that do not speak gRPC:
 *
 * - `GET /healthz` (liveness): 200 whenever the process answers, also while it drains: restarting
 *   a server that is shutting down gracefully would only cut its drain short.
 * - `GET /readyz` (readiness): 200 while the server takes calls, 503 while it is starting and from
 *   the moment a shutdown begins, so that traffic moves elsewhere during the drain. It reads the
 *   same {@link ServingState} as grpc.health.v1, so the two never disagree.
 *
 * Served beside `/metrics` on `--metrics-port`, and alone on `--health-port` (see
 * {@link startHealthEndpoint}). HEAD works like GET; the answers are never cached.
 */
import type http from "node:http";
import type { TlsState } from "../security/tls-state";
import type { ServingState } from "../serving-state";
import { createHttpServer, listenHttp, type HttpEndpoint, type HttpRoutes } from "./http-listener";

/** Path of the liveness check. */
export const LIVENESS_PATH = "/healthz";

/** Path of the readiness check. */
export const READINESS_PATH = "/readyz";

function reply(response: http.ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void {
  response.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    ...headers,
  });
  response.end(`${body}\n`);
}

/** The routes `/healthz` and `/readyz`, answering from `state`. */
export function healthRoutes(state: ServingState): HttpRoutes {
  return (request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (path !== LIVENESS_PATH && path !== READINESS_PATH) return false;
    if (request.method !== "GET" && request.method !== "HEAD") {
      reply(response, 405, `method not allowed: ${path} answers GET and HEAD`, { allow: "GET, HEAD" });
      return true;
    }
    if (path === LIVENESS_PATH) {
      reply(response, 200, "ok");
    } else if (state.ready) {
      reply(response, 200, "ready");
    } else {
      const why = state.phase === "starting" ? "starting" : state.phase === "stopping" ? "shutting down" : "the session backend is unavailable";
      reply(response, 503, `not ready: ${why}`);
    }
    return true;
  };
}

/**
 * Starts an HTTP server with the health checks only (`--health-port`): for deployments that want
 * them without metrics, whose recording is not free, or on a port apart from the metrics.
 * @param host - address to bind (the server's --host).
 * @param port - port to bind; 0 picks a free one (tests).
 * @param tls - with TLS, HTTPS only (the checks stay open: they carry no secret).
 * @throws if the address cannot be bound.
 */
export function startHealthEndpoint(host: string, port: number, state: ServingState, tls?: TlsState): Promise<HttpEndpoint> {
  const routes = healthRoutes(state);
  const server = createHttpServer((request, response) => {
    if (routes(request, response)) return;
    reply(response, 404, `not found: the health checks are at ${LIVENESS_PATH} and ${READINESS_PATH}`);
  }, tls);
  return listenHttp(server, host, port, "health checks");
}
